//! The composition root: builds every dependency from the configuration, in section order,
//! and serves. Nothing else opens pools or reads configuration.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use kunci_domain::clock::Clock;
use kunci_domain::health::Probe;
use kunci_store::{ConnectOptions, Database, DatabaseTarget, RedisServer};
use kunci_web::{AppState, WebSettings};
use tokio::net::TcpListener;

use crate::config::Loaded;
use crate::secrets::permissions;

/// A built application, bound to its port, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
    site: Router,
    database: Database,
    drain: Duration,
    notes: Vec<String>,
}

impl Application {
    /// Builds everything from the configuration: the database (created and migrated on first
    /// run in development and test), Redis when configured, the state, the routes, the socket.
    pub async fn build(loaded: &Loaded, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let config = &loaded.config;
        let mut notes = Vec::new();

        // [data]
        let database = open_database(loaded).await?;
        let pending = database.pending_migrations().await?;
        if !pending.is_empty() {
            if loaded.environment.is_deployed() {
                database.close().await;
                anyhow::bail!(
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
        if let Some(url) = &config.data.redis_url {
            let redis = RedisServer::new(url.expose()).context("`data.redis_url`")?;
            probes.push(Arc::new(redis));
        }

        let settings = WebSettings {
            environment: loaded.environment,
            serves_https: false,
        };
        let state = AppState::new(settings, clock, probes);

        let bind = config.environment.bind;
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} (`environment.bind`)"))?;
        let drain = Duration::from_secs(config.environment.shutdown_timeout_secs);
        Ok(Self {
            listener,
            state,
            site: Router::new(),
            database,
            drain,
            notes,
        })
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

    /// What the operator should hear about this start (migrations applied, …).
    pub fn first_run_notes(&self) -> impl Iterator<Item = &str> {
        self.notes.iter().map(String::as_str)
    }

    /// Adds the site's own routes beside kunci's (they get kunci's middleware too).
    #[must_use]
    pub fn merge(mut self, routes: Router) -> Self {
        self.site = self.site.merge(routes);
        self
    }

    /// Serves until `shutdown` resolves, drains in-flight requests, closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = kunci_web::router(self.state, self.site);
        let served = kunci_web::serve(self.listener, router, shutdown, self.drain).await;
        self.database.close().await;
        served.context("the server stopped with an error")
    }
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
