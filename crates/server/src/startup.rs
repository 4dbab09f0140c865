//! The composition root: builds every dependency from the configuration, in section order,
//! and serves. Nothing else opens pools or reads configuration.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use kunci_crypto::MasterKey;
use kunci_crypto::password::Cost;
use kunci_domain::accounts::{Accounts, PasswordPool};
use kunci_domain::apikeys::ApiKeyPool;
use kunci_domain::audit::AuditLog;
use kunci_domain::clients::{NonceStore, ServiceClients};
use kunci_domain::clock::Clock;
use kunci_domain::health::{Optional, Probe};
use kunci_domain::keys::{KeyPolicy, KeyRingService};
use kunci_domain::lockout::{Lockout, LockoutPolicy};
use kunci_domain::notify::Episodes;
use kunci_domain::notify::Notifier;
use kunci_domain::ratelimit::{Limiter, Rate, RateStore};
use kunci_domain::refresh::{RefreshPolicy, RefreshTokens};
use kunci_domain::revocation::Revocations;
use kunci_domain::session::{SessionPolicy, SessionStore, Sessions};
use kunci_domain::upstream::AnswerCache;
use kunci_domain::usage::UsageStore;
use kunci_store::{ConnectOptions, Database, DatabaseTarget, RedisServer};
use kunci_upstream::gateway::{Gateway, Route};
use kunci_upstream::notify::{
    DispatchSettings, Dispatcher, EventFilter, SmtpSettings, WebhookSettings,
};
use kunci_web::limits::Limits;
use kunci_web::net::Cidr;
use kunci_web::{AppState, CookieSettings, Services, SiteRoutes, WebSettings};
use tokio::net::TcpListener;

use crate::config::{
    CacheKind, Config, Loaded, ResetKind, SessionStoreKind, UpstreamConfig, UpstreamKind,
};
use crate::jobs::{JobDeps, Jobs};
use crate::secrets::permissions;

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
    drain: Duration,
    notes: Vec<String>,
}

impl Application {
    /// Builds everything from the configuration: the database (created and migrated on first
    /// run in development and test), Redis when configured, the key ring, the session store,
    /// the state, the routes, the socket.
    pub async fn build(
        loaded: &Loaded,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let config = &loaded.config;
        let mut notes = Vec::new();

        // [data]
        let database = open_database(loaded).await?;
        let pending = database.pending_migrations().await?;
        if !pending.is_empty() {
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
            notes.push(format!("applied {} database migration(s)", applied.len()));
        }
        let mut probes: Vec<Arc<dyn Probe>> = vec![Arc::new(database.clone())];
        let redis = match &config.data.redis_url {
            Some(url) => {
                let server = RedisServer::new(url.expose(), &config.data.redis_prefix)
                    .context("`data.redis_url`")?;
                // Required only when sessions live there; otherwise its loss degrades rate
                // limits (per instance) and signed requests (refused) but the site serves.
                let probe: Arc<dyn Probe> = Arc::new(server.clone());
                probes.push(if config.data.session_store == SessionStoreKind::Redis {
                    probe
                } else {
                    Arc::new(Optional(probe))
                });
                Some(server)
            }
            None => None,
        };
        let store = session_store(loaded, &database, redis.as_ref())?;

        // [notification]
        let notifier = notifier(config, clock.clone())?;

        // [security]
        let security = &config.security;
        let absolute_secs = security.session_absolute_hours * 3600;
        let token_secs = security.auth_token_minutes * 60;
        let audit = AuditLog::new(Arc::new(database.clone()), master.clone(), clock.clone());
        let mut ring = KeyRingService::start(
            Arc::new(database.clone()),
            master.clone(),
            clock.clone(),
            key_policy(config),
        )
        .await
        .context("cannot load the signing keys")?
        .with_audit(audit.clone())
        .with_notifier(notifier.clone());
        if let Some(server) = &redis {
            // Other instances hear of this one's rotations at once (Jobs listens for theirs).
            ring =
                ring.with_announcer(Arc::new(kunci_store::redis::RedisRingChanged::new(server)?));
        }
        let keys = Arc::new(ring);
        let sessions = Sessions::new(
            store.clone(),
            clock.clone(),
            SessionPolicy {
                idle_secs: security.session_idle_minutes * 60,
                absolute_secs,
                ..SessionPolicy::default()
            },
        );

        let settings = WebSettings {
            environment: loaded.environment,
            // Served over HTTPS: directly, or (the usual case) behind a TLS-terminating proxy.
            serves_https: config.environment.public_url.starts_with("https://"),
            cookies: CookieSettings {
                secure: loaded.environment.is_deployed(),
                session_max_age_secs: absolute_secs,
            },
            token_lifetime_secs: token_secs,
            trusted_proxies: config
                .environment
                .trusted_proxies
                .iter()
                .filter_map(|c| Cidr::parse(c))
                .collect(),
            public_origin: origin_of(&config.environment.public_url),
            jwt_issuer: origin_of(&config.environment.public_url),
            jwt_audience: security.jwt_audience.clone(),
            limits: Limits {
                api: Rate {
                    burst: security.api_burst,
                    ..Rate::per(security.api_requests_per_second, 1000)
                },
                login: Rate::per(security.login_requests_per_minute, 60_000),
            },
            cors_origins: config.environment.cors_origins.clone(),
            metrics_token: config.metrics.token.clone(),
        };
        // Nonces of signed requests: in Redis when there is one (shared, fast), else the
        // database (shared by every instance on PostgreSQL).
        let nonces: Arc<dyn NonceStore> = match &redis {
            Some(server) => Arc::new(kunci_store::redis::RedisNonces::new(server)?),
            None => Arc::new(database.clone()),
        };
        let clients = ServiceClients::new(
            Arc::new(database.clone()),
            nonces,
            master.clone(),
            clock.clone(),
            audit.clone(),
        );
        let accounts = accounts(config, &database, audit.clone(), clock.clone()).await?;
        let lockout = lockout(
            config,
            &database,
            audit.clone(),
            clock.clone(),
            notifier.clone(),
        );
        // Rate limits: shared through Redis when there is one, this instance's memory always
        // as the fallback.
        let shared_rates: Option<Arc<dyn RateStore>> = match &redis {
            Some(server) => Some(Arc::new(kunci_store::redis::RedisRates::new(server)?)),
            None => None,
        };
        let limiter = Arc::new(Limiter::new(shared_rates, clock.clone()));
        let refresh = RefreshTokens::new(
            Arc::new(database.clone()),
            master.clone(),
            clock.clone(),
            audit.clone(),
            notifier.clone(),
            RefreshPolicy {
                token_secs: security.refresh_token_days * 86_400,
                family_secs: security.refresh_family_days * 86_400,
                grace_secs: security.refresh_grace_secs,
            },
        );
        let revocations = Arc::new(Revocations::new(
            Arc::new(database.clone()),
            clock.clone(),
            token_secs + kunci_crypto::jwt::SKEW_SECS,
        ));
        revocations
            .reload()
            .await
            .context("cannot read the revocation lists")?;
        // [upstream], [search]: the API-key pool and the third-party APIs it serves.
        let pool = api_key_pool(
            &database,
            master.clone(),
            clock.clone(),
            audit.clone(),
            notifier.clone(),
        );
        // The answer cache (`data.cache`) and the leaderboard (in Redis when there is one).
        let answers: Arc<dyn AnswerCache> = match (config.data.cache, &redis) {
            (CacheKind::Redis, Some(server)) => {
                Arc::new(kunci_store::redis::RedisAnswers::new(server)?)
            }
            (CacheKind::Redis, None) => {
                anyhow::bail!("`data.cache = \"redis\"` needs `data.redis_url`")
            }
            (CacheKind::Memory, _) => Arc::new(kunci_upstream::proxy::MemoryAnswers::default()),
        };
        let usage: Arc<dyn UsageStore> = match &redis {
            Some(server) => Arc::new(kunci_store::redis::RedisUsage::new(server)?),
            None => Arc::new(database.clone()),
        };
        // Calls are counted in memory and written once a second (by the jobs below).
        let usage = Arc::new(kunci_domain::usage::BufferedUsage::new(usage));
        let upstreams = gateway(config, pool.clone(), answers, clock.clone())?;
        let services = Services {
            clock: clock.clone(),
            probes,
            sessions,
            keys: keys.clone(),
            clients,
            accounts,
            pool,
            usage: usage.clone(),
            upstreams,
            lockout,
            limiter: limiter.clone(),
            refresh,
            revocations: revocations.clone(),
            audit: audit.clone(),
            notifier: notifier.clone(),
        };
        let state = AppState::new(settings, services);
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
        let drain = Duration::from_secs(config.environment.shutdown_timeout_secs);
        Ok(Self {
            listener,
            tls,
            state,
            site: SiteRoutes::default(),
            database,
            keys,
            jobs,
            drain,
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
        let served = kunci_web::serve(self.listener, self.tls, router, shutdown, self.drain).await;
        self.jobs.stop().await;
        self.database.close().await;
        served.context("the server stopped with an error")
    }
}

/// The notification channels of `[notification]`. Needs a Tokio runtime (it starts the
/// delivery task).
pub fn notifier(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<Dispatcher>> {
    let n = &config.notification;
    let timeout = Duration::from_secs(n.webhook_timeout_secs);
    let webhook = match (&n.webhook_url, &n.webhook_secret) {
        (Some(url), Some(secret)) => Some(WebhookSettings {
            url: url.clone(),
            secret: secret.clone(),
            events: EventFilter::from_names(&n.webhook_events),
            timeout,
            retries: n.webhook_retries,
        }),
        _ => None,
    };
    let smtp = match (&n.smtp_url, &n.smtp_from) {
        (Some(url), Some(from)) => Some(SmtpSettings {
            url: url.clone(),
            from: from.clone(),
            to: n.smtp_to.clone(),
            events: EventFilter::from_names(&n.smtp_events),
            timeout: Duration::from_secs(30),
            retries: n.webhook_retries,
        }),
        _ => None,
    };
    let settings = DispatchSettings {
        log: EventFilter::from_names(&n.log_events),
        webhook,
        smtp,
        backoff: Duration::from_secs(1),
    };
    Ok(Arc::new(
        Dispatcher::start(settings, clock).context("`[notification]`")?,
    ))
}

/// `scheme://host[:port]` of a URL (validated by the configuration already).
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

/// Accounts over the database, hashing with OWASP's Argon2id parameters on a pool of
/// `security.password_hash_parallel`.
pub async fn accounts(
    config: &Config,
    database: &Database,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Accounts> {
    let pool = PasswordPool::new(config.security.password_hash_parallel, Cost::OWASP);
    Accounts::new(Arc::new(database.clone()), pool, audit, clock)
        .await
        .context("cannot prepare password hashing")
}

/// The API-key pool over the database.
pub fn api_key_pool(
    database: &Database,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    notifier: Arc<dyn Notifier>,
) -> ApiKeyPool {
    let episodes = Episodes::new(Arc::new(database.clone()), notifier.clone(), clock.clone());
    ApiKeyPool::new(
        Arc::new(database.clone()),
        master,
        clock,
        audit,
        notifier,
        episodes,
    )
}

/// The configured upstreams, from `[upstream]` and `[search]`.
pub fn gateway(
    config: &Config,
    pool: ApiKeyPool,
    answers: Arc<dyn AnswerCache>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn kunci_domain::upstream::Upstreams>> {
    let mut routes = std::collections::BTreeMap::new();
    for (name, upstream) in &config.upstream.by_name {
        // The configuration check guarantees what each kind needs.
        match (upstream.adapter, &upstream.cx, &upstream.base_url) {
            (Some(UpstreamKind::GoogleCse), Some(cx), base_url) => {
                let base_url = base_url
                    .clone()
                    .unwrap_or_else(|| kunci_upstream::google::ENDPOINT.to_owned());
                let route = Route::GoogleCse {
                    base_url,
                    cx: cx.clone(),
                };
                routes.insert(name.clone(), route);
            }
            (Some(UpstreamKind::Generic), _, Some(base_url)) => {
                routes.insert(name.clone(), generic_route(upstream, base_url)?);
            }
            _ => {}
        }
    }
    let proxy = kunci_upstream::proxy::Upstreams::new(pool, clock.clone())
        .map_err(|e| anyhow::anyhow!("cannot build the upstream client: {e}"))?;
    Ok(Arc::new(Gateway::new(
        proxy,
        routes,
        config.upstream.default_search.clone(),
        (answers, config.search.cache_secs),
        clock,
    )))
}

/// A `generic` upstream from its configuration, with the documented defaults.
fn generic_route(upstream: &UpstreamConfig, base_url: &str) -> anyhow::Result<Route> {
    use kunci_upstream::generic::{PatternFormat, Reset, Rules};
    use kunci_upstream::proxy::KeyPlacement;
    let key = match (&upstream.key_query, &upstream.key_header) {
        (Some(param), _) => KeyPlacement::Query(param.clone()),
        (None, Some(spec)) => match spec.split_once(':') {
            Some((name, template)) => KeyPlacement::Header {
                name: name.trim().to_owned(),
                template: template.trim().to_owned(),
            },
            None => KeyPlacement::Header {
                name: spec.trim().to_owned(),
                template: "{key}".to_owned(),
            },
        },
        (None, None) => KeyPlacement::Header {
            name: "authorization".to_owned(),
            template: "Bearer {key}".to_owned(),
        },
    };
    let secs = upstream.reset_secs.unwrap_or(60);
    let reset = match upstream.reset.unwrap_or(ResetKind::RetryAfter) {
        ResetKind::RetryAfter => Reset::RetryAfter { default_secs: secs },
        ResetKind::Cooldown => Reset::Cooldown { secs },
        ResetKind::DailyUtc => Reset::daily("UTC", upstream.reset_hour_utc.unwrap_or(0))
            .context("`reset_hour_utc` is an hour from 0 to 23")?,
        ResetKind::Daily => {
            let zone = upstream.reset_zone.as_deref().unwrap_or("UTC");
            Reset::daily(zone, upstream.reset_hour.unwrap_or(0)).with_context(|| {
                format!("`reset_zone` = {zone:?} is not a time zone of the IANA database")
            })?
        }
    };
    let format = match &upstream.key_pattern {
        Some(pattern) => {
            Some(PatternFormat::new(pattern).context("`key_pattern` is not a regular expression")?)
        }
        None => None,
    };
    Ok(Route::Generic {
        base_url: base_url.to_owned(),
        key,
        rules: Rules {
            quota_statuses: upstream.quota_statuses.clone().unwrap_or_else(|| vec![429]),
            invalid_statuses: upstream
                .invalid_statuses
                .clone()
                .unwrap_or_else(|| vec![401, 403]),
            reset,
        },
        format,
        test_path: upstream.test_path.clone(),
    })
}

/// Brute-force lockout over the database, from `[security]`.
pub fn lockout(
    config: &Config,
    database: &Database,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn Notifier>,
) -> Lockout {
    let security = &config.security;
    let policy = LockoutPolicy {
        limit: security.lockout_threshold,
        window_secs: security.lockout_window_minutes * 60,
        lock_secs: security.lockout_hours * 3600,
    };
    Lockout::new(Arc::new(database.clone()), policy, clock, audit, notifier)
}

/// How long keys live, from `[security]`.
pub fn key_policy(config: &Config) -> KeyPolicy {
    let security = &config.security;
    KeyPolicy {
        rotation_days: (security.key_rotation_days > 0).then_some(security.key_rotation_days),
        // CSRF tokens live as long as their session; auth tokens for their own lifetime.
        cookie_verify_secs: (security.session_absolute_hours * 3600)
            .max(security.auth_token_minutes * 60)
            + 60,
        // Access tokens plus the 60 s of accepted clock skew.
        jwt_verify_secs: security.auth_token_minutes * 60 + 60,
    }
}

/// The configured session store, after checking it can give what the deployment needs.
fn session_store(
    loaded: &Loaded,
    database: &Database,
    redis: Option<&RedisServer>,
) -> anyhow::Result<Arc<dyn SessionStore>> {
    let config: &Config = &loaded.config;
    let store: Arc<dyn SessionStore> = match config.data.session_store {
        SessionStoreKind::Sql => Arc::new(database.clone()),
        SessionStoreKind::Redis => {
            let server =
                redis.context("`data.session_store = \"redis\"` needs `data.redis_url`")?;
            Arc::new(kunci_store::redis::RedisSessions::new(server)?)
        }
        SessionStoreKind::Memcached => {
            let url = config
                .data
                .memcached_url
                .as_deref()
                .context("`memcached` needs `data.memcached_url`")?;
            let server = kunci_store::memcached::Memcached::new(url, &config.data.redis_prefix)?;
            Arc::new(kunci_store::memcached::MemcachedSessions::new(server))
        }
        SessionStoreKind::Memory => Arc::new(kunci_store::memory::MemorySessions::new()),
        SessionStoreKind::Filesystem => {
            let dir = loaded.root.join(&config.data.session_dir);
            permissions::check(&dir)?;
            Arc::new(
                kunci_store::filesystem::FileSessions::new(&dir)
                    .with_context(|| format!("cannot use the session folder {}", dir.display()))?,
            )
        }
        SessionStoreKind::Null => Arc::new(kunci_store::null::NullSessions),
    };
    let capabilities = store.capabilities();
    if config.environment.instances > 1 && !capabilities.shared {
        bail!(
            "`data.session_store = \"{}\"` keeps sessions inside one {}, but \
             `environment.instances` is {}: use `redis`, or `sql` on PostgreSQL",
            store.name(),
            if store.name() == "sql" {
                "machine (SQLite)"
            } else {
                "instance"
            },
            config.environment.instances
        );
    }
    if !capabilities.durable && loaded.environment.is_deployed() {
        tracing::warn!(
            store = store.name(),
            "sessions are lost when this instance restarts"
        );
    }
    Ok(store)
}

/// Opens the configured database (creating a SQLite file and its folder, born private). An
/// existing `instance/` folder or SQLite file open to group or others is refused first.
pub async fn open_database(loaded: &Loaded) -> anyhow::Result<Database> {
    let data = &loaded.config.data;
    let target = DatabaseTarget::parse(data.database_url.expose(), &loaded.root)
        .context("`data.database_url`")?;
    permissions::check(&loaded.root.join("instance"))?;
    if let DatabaseTarget::Sqlite { path: Some(path) } = &target {
        permissions::check(path)?;
    }
    let options = ConnectOptions {
        max_connections: data.max_connections,
        ..ConnectOptions::default()
    };
    Ok(Database::connect(&target, &options).await?)
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
