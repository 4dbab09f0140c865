//! The composition root: builds every part of the application in the configuration's section
//! order and serves. What each part is made of, from its configuration, is `wiring.rs`; this
//! file only puts the parts together, starts the jobs and binds the socket.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use kunci_crypto::MasterKey;
use kunci_domain::accounts::Accounts;
use kunci_domain::apikeys::ApiKeyPool;
use kunci_domain::audit::AuditLog;
use kunci_domain::clients::ServiceClients;
use kunci_domain::clock::Clock;
use kunci_domain::health::Probe;
use kunci_domain::keys::KeyRingService;
use kunci_domain::leaderboard::Leaderboard;
use kunci_domain::login::Login;
use kunci_domain::ratelimit::Limiter;
use kunci_domain::session::Sessions;
use kunci_domain::tally::{self, Tallies};
use kunci_domain::usage::BufferedUsage;
use kunci_store::{Database, SqlTallies, TallyTable};
use kunci_web::{AppState, Services, SiteRoutes};
use tokio::net::TcpListener;

use crate::config::Loaded;
use crate::jobs::{JobDeps, Jobs};
use crate::wiring;

/// A built application, bound to its port, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: AppState,
    site: SiteRoutes,
    database: Database,
    keys: Arc<KeyRingService>,
    jobs: Jobs,
    /// The drain time at shutdown and the connection limits.
    serving: (Duration, kunci_web::ConnectionLimits),
    notes: Vec<String>,
}

impl Application {
    /// Builds everything from the configuration: the database (created and migrated on first
    /// run in development and test), Redis when configured, the key ring, the session store,
    /// the state, the routes, the socket.
    #[expect(
        clippy::too_many_lines,
        reason = "the composition root: every service is built here, once, in order"
    )]
    pub async fn build(
        loaded: &Loaded,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let config = &loaded.config;
        let security = &config.security;

        // [data]
        let database = wiring::open_database(loaded).await?;
        let notes = migrate_on_first_run(loaded, &database).await?;
        let mut probes: Vec<Arc<dyn Probe>> = vec![Arc::new(database.clone())];
        let redis = wiring::redis(config, &mut probes).await?;
        let store = wiring::session_store(loaded, &database, redis.as_ref())?;

        // [notification]
        let notifier = wiring::notifier(config, clock.clone())?;

        // [security]
        let audit = AuditLog::new(Arc::new(database.clone()), master.clone(), clock.clone());
        let keys = Arc::new(
            wiring::key_ring(config, &database, &master, &clock, redis.as_ref())
                .await?
                .with_audit(audit.clone())
                .with_notifier(notifier.clone()),
        );
        let sessions = wiring::sessions(config, store.clone(), clock.clone());
        let clients = ServiceClients::new(
            Arc::new(database.clone()),
            wiring::nonces(redis.as_ref(), &database)?,
            master.clone(),
            clock.clone(),
            audit.clone(),
        );
        let accounts = wiring::accounts(config, &database, audit.clone(), clock.clone()).await?;
        let lockout = wiring::lockout(
            config,
            &database,
            audit.clone(),
            clock.clone(),
            notifier.clone(),
        );
        let limiter = Arc::new(Limiter::new(wiring::rates(redis.as_ref())?, clock.clone()));
        let refresh = wiring::refresh_tokens(
            config,
            &database,
            &master,
            &clock,
            audit.clone(),
            notifier.clone(),
        );
        let revocations = wiring::revocations(config, &database, &clock).await?;

        // [upstream]: the API-key pool and the third-party APIs it serves.
        let tallies = |table, bucket| {
            Arc::new(Tallies::new(
                Arc::new(SqlTallies::new(database.clone(), table)),
                bucket,
            ))
        };
        let daily = tallies(TallyTable::KeyDays, tally::DAY);
        let activity = tallies(TallyTable::ActivityHours, tally::HOUR);
        let pool = wiring::api_key_pool(
            &database,
            master.clone(),
            clock.clone(),
            audit.clone(),
            notifier.clone(),
        )
        .with_tallies(daily.clone(), activity.clone());
        let answers = wiring::answers(config, redis.as_ref())?;
        // Calls are counted in memory and written once a second (by the jobs below).
        let usage = Arc::new(BufferedUsage::new(wiring::usage(
            redis.as_ref(),
            &database,
        )?));
        let upstreams = wiring::gateway(
            config,
            pool.clone(),
            (answers, redis.as_ref()),
            clock.clone(),
        )?;

        let login = Login::new(accounts.clone(), lockout.clone());
        let resets = kunci_domain::reset::PasswordResets::new(
            Arc::new(database.clone()),
            accounts.clone(),
            audit.clone(),
            clock.clone(),
        );
        let leaderboard = Leaderboard::new(usage.clone(), accounts.clone(), pool.clone());
        let posture = crate::posture::ConsolePosture::start(
            loaded,
            database.clone(),
            keys.clone(),
            master.fingerprint().to_string(),
            clock.clone(),
        )
        .await;
        let services = Services {
            clock: clock.clone(),
            probes,
            sessions,
            keys: keys.clone(),
            clients,
            accounts,
            resets,
            factors: wiring::second_factors(&database, &master, &clock, &audit),
            login,
            pool,
            leaderboard,
            upstreams,
            lockout,
            limiter: limiter.clone(),
            refresh,
            revocations: revocations.clone(),
            audit: audit.clone(),
            notifier: notifier.clone(),
            activity: activity.clone(),
            posture: Arc::new(posture),
        };
        // The Prometheus recorder is the process's one global (the `metrics` facade's); it is
        // installed here, once, before anything records.
        kunci_web::install_metrics();
        let state = AppState::new(wiring::web_settings(loaded), services);
        let tls = crate::tls::config(&config.environment, &loaded.root)?;
        let jobs = Jobs::start(JobDeps {
            keys: keys.clone(),
            sessions: store,
            clock,
            key_reload: Duration::from_secs(security.key_reload_secs),
            redis,
            database: database.clone(),
            audit,
            audit_retention_days: config.audit.retention_days,
            notifier,
            limiter,
            revocations,
            usage,
            tallies: vec![daily, activity],
            backup: crate::backup::Schedule::of(loaded, &database, &master)?.map(|schedule| {
                let hours = u64::from(config.backup.interval_hours);
                (schedule, Duration::from_secs(hours * 3600))
            }),
            certificate: tls.as_ref().map(|(_, files)| files.clone()),
        });
        let tls = tls.map(|(config, _)| config);

        let bind = config.environment.bind;
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} (`environment.bind`)"))?;
        let serving = serving(&config.environment);
        Ok(Self {
            listener,
            tls,
            state,
            site: SiteRoutes::default(),
            database,
            keys,
            jobs,
            serving,
            notes,
        })
    }

    /// Whether connections are HTTPS (`environment.tls_cert`).
    pub fn serves_https(&self) -> bool {
        self.tls.is_some()
    }

    /// The address actually bound (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn keys(&self) -> &Arc<KeyRingService> {
        &self.keys
    }

    /// The session service (what login and logout use).
    pub fn sessions(&self) -> &Sessions {
        self.state.sessions()
    }

    /// Service clients (what `kunci client` manages and signed requests name).
    pub fn clients(&self) -> &ServiceClients {
        self.state.clients()
    }

    pub fn audit(&self) -> &AuditLog {
        self.state.audit()
    }

    pub fn accounts(&self) -> &Accounts {
        self.state.accounts()
    }

    pub fn pool(&self) -> &ApiKeyPool {
        self.state.pool()
    }

    /// What the operator should hear about this start (migrations applied, …).
    pub fn first_run_notes(&self) -> impl Iterator<Item = &str> {
        self.notes.iter().map(String::as_str)
    }

    /// Adds the site's own pages and API routes behind kunci's session middleware: they see an
    /// [`kunci_web::AuthContext`] and can require scopes.
    #[must_use]
    pub fn merge(mut self, routes: Router) -> Self {
        self.site.app = std::mem::take(&mut self.site.app).merge(routes);
        self
    }

    /// Adds routes that need no session (webhooks, the site's health checks).
    #[must_use]
    pub fn merge_public(mut self, routes: Router) -> Self {
        self.site.public = std::mem::take(&mut self.site.public).merge(routes);
        self
    }

    /// Serves until `shutdown` resolves, drains in-flight requests, stops the jobs (flushing
    /// what they hold) and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = kunci_web::router(self.state, self.site);
        let served =
            kunci_web::serve(self.listener, self.tls, router, shutdown, self.serving).await;
        self.jobs.stop().await;
        self.database.close().await;
        served.context("the server stopped with an error")
    }
}

/// Applies pending migrations in development and test (what the operator hears of it is
/// returned); a deployed environment with pending migrations refuses to start.
async fn migrate_on_first_run(loaded: &Loaded, database: &Database) -> anyhow::Result<Vec<String>> {
    let pending = database.pending_migrations().await?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    if loaded.environment.is_deployed() {
        database.close().await;
        bail!(
            "the database has {} pending migration(s); apply them first with \
             `kunci --env {} db migrate`",
            pending.len(),
            loaded.environment
        );
    }
    let applied = database.migrate().await?;
    tracing::info!(?applied, "applied pending migrations");
    Ok(vec![format!(
        "applied {} database migration(s)",
        applied.len()
    )])
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// How the accept loop runs: the drain time at shutdown and the connection limits.
fn serving(
    environment: &crate::config::EnvironmentConfig,
) -> (Duration, kunci_web::ConnectionLimits) {
    let drain = Duration::from_secs(environment.shutdown_timeout_secs);
    let limits = kunci_web::ConnectionLimits {
        max_connections: environment.max_connections,
        max_per_address: environment.max_connections_per_address,
        header_read_timeout: Duration::from_secs(environment.header_read_timeout_secs),
        proxies: environment
            .trusted_proxies
            .iter()
            .filter_map(|c| kunci_web::net::Cidr::parse(c))
            .collect(),
    };
    (drain, limits)
}
