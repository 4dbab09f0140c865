//! `TestApp`: the real application, built through the composition root, serving on a free
//! loopback port with its own database, master key and a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use kunci::config::{self, LoadInput};
use kunci::startup::Application;
use kunci_crypto::MasterKey;
use kunci_domain::clock::ManualClock;
use kunci_domain::environment::Environment;
use kunci_domain::keys::KeyRingService;
use kunci_store::testing::{TestBackend, TestDatabase};
use tempfile::TempDir;
use time::macros::datetime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    /// The application's clock: tests move time with it instead of sleeping.
    pub clock: ManualClock,
    /// The application's key ring, to rotate keys in tests.
    pub keys: Arc<KeyRingService>,
    pub master: MasterKey,
    /// The session service, to play a login before the login flows exist in a test.
    pub sessions: kunci_domain::session::Sessions,
    /// Service clients, to create one without the CLI.
    pub clients: kunci_domain::clients::ServiceClients,
    pub audit: kunci_domain::audit::AuditLog,
    /// Accounts, to create users without the CLI.
    pub accounts: kunci_domain::accounts::Accounts,
    /// The API-key pool.
    pub pool: kunci_domain::apikeys::ApiKeyPool,
    /// The database URL, for a second instance of the same deployment.
    pub database_url: String,
    /// The project folder; removed when the app is dropped.
    _root: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

pub struct TestAppBuilder {
    backend: TestBackend,
    variables: Vec<(String, String)>,
    routes: Option<Router>,
    public_routes: Option<Router>,
    master: Option<MasterKey>,
    clock: Option<ManualClock>,
    environment: Environment,
}

impl TestApp {
    /// Creates accounts whose password is `"<name> pass"`; `true` makes an administrator.
    pub async fn add_accounts(&self, accounts: &[(&str, bool)]) {
        for (name, admin) in accounts {
            self.accounts
                .add(
                    &kunci_domain::audit::Actor::cli(),
                    name,
                    &kunci_crypto::SecretString::new(format!("{name} pass")),
                    *admin,
                )
                .await
                .unwrap();
        }
    }

    /// A mobile login of `name` (password `"<name> pass"`) from `client_id`: its access token.
    pub async fn access_token(&self, name: &str, client_id: &str) -> String {
        let password = format!("{name} pass");
        let tokens: serde_json::Value = self
            .client
            .post(self.url("/api/v1/auth/login_mobile"))
            .json(&serde_json::json!({"username": name, "password": password, "client_id": client_id}))
            .send()
            .await
            .expect("login_mobile")
            .json()
            .await
            .expect("a token answer");
        tokens["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// An application on SQLite with the test defaults.
    pub async fn spawn() -> Self {
        Self::builder()
            .spawn()
            .await
            .expect("SQLite needs no service")
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            backend: TestBackend::Sqlite,
            variables: Vec::new(),
            routes: None,
            public_routes: None,
            master: None,
            clock: None,
            environment: Environment::Test,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Asks the server to shut down and returns its task, to await the end of the drain.
    pub fn shut_down(&mut self) -> JoinHandle<anyhow::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("the server runs")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestAppBuilder {
    pub fn backend(mut self, backend: TestBackend) -> Self {
        self.backend = backend;
        self
    }

    /// Sets a configuration key through its `KUNCI__…` variable.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.variables.retain(|(n, _)| n != name);
        self.variables.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A `google` upstream (Google Custom Search) with a search engine id, never called.
    pub fn google_upstream(self) -> Self {
        self.var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
            .var(
                "KUNCI__UPSTREAM__GOOGLE__CX",
                "017576662512468239146:omuauf_lfve",
            )
    }

    /// Extra routes behind the session middleware, as a site adds its pages.
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = Some(routes);
        self
    }

    /// Extra routes without sessions.
    pub fn public_routes(mut self, routes: Router) -> Self {
        self.public_routes = Some(routes);
        self
    }

    /// Another instance of an existing app's deployment: same database, master key and clock.
    pub fn sharing(self, other: &TestApp) -> Self {
        let mut builder = self.var("KUNCI__DATA__DATABASE_URL", &other.database_url);
        builder.master = Some(other.master.clone());
        builder.clock = Some(other.clock.clone());
        builder
    }

    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// `None` when the backend's service is not configured (the test is then skipped).
    pub async fn spawn(self) -> Option<TestApp> {
        kunci::install_crypto_provider();
        let root = tempfile::tempdir().expect("tempdir");
        let mut variables = vec![(
            "KUNCI__ENVIRONMENT__BIND".to_owned(),
            "127.0.0.1:0".to_owned(),
        )];
        if !self
            .variables
            .iter()
            .any(|(n, _)| n == "KUNCI__DATA__DATABASE_URL")
        {
            let database = TestDatabase::new(self.backend, root.path()).await?;
            variables.push(("KUNCI__DATA__DATABASE_URL".to_owned(), database.url));
        }
        if self.environment.is_deployed() {
            variables.push((
                "KUNCI__ENVIRONMENT__PUBLIC_URL".to_owned(),
                "https://kunci.test".to_owned(),
            ));
        }
        // Tests log in many times from one address with a clock that stands still; those
        // about rate limits set their own.
        for (name, value) in [
            ("KUNCI__SECURITY__LOGIN_REQUESTS_PER_MINUTE", "100000"),
            ("KUNCI__SECURITY__API_BURST", "1000000"),
            ("KUNCI__SECURITY__NEW_BROWSERS_PER_MINUTE", "100000"),
        ] {
            if !self.variables.iter().any(|(n, _)| n == name) {
                variables.push((name.to_owned(), value.to_owned()));
            }
        }
        variables.extend(self.variables);
        let database_url = variables
            .iter()
            .rev()
            .find(|(n, _)| n == "KUNCI__DATA__DATABASE_URL")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let input = LoadInput {
            root: root.path().to_path_buf(),
            environment: self.environment,
            variables,
            encrypted: None,
        };
        let loaded = config::load(&input).expect("test configuration is valid");
        if self.environment.is_deployed() {
            kunci::wiring::open_database(&loaded)
                .await
                .expect("database")
                .migrate()
                .await
                .expect("migrate");
        }
        let clock = self
            .clock
            .unwrap_or_else(|| ManualClock::new(datetime!(2026-11-23 09:00 UTC)));
        let master = self
            .master
            .unwrap_or_else(|| MasterKey::generate().expect("random"));
        let mut app = Application::build(&loaded, master.clone(), Arc::new(clock.clone()))
            .await
            .expect("app builds");
        if let Some(routes) = self.routes {
            app = app.merge(routes);
        }
        if let Some(routes) = self.public_routes {
            app = app.merge_public(routes);
        }
        let keys = app.keys().clone();
        let sessions = app.sessions().clone();
        let (clients, audit) = (app.clients().clone(), app.audit().clone());
        let accounts = app.accounts().clone();
        let pool = app.pool().clone();
        let address = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Some(TestApp {
            address,
            client: super::client(),
            clock,
            keys,
            master,
            sessions,
            clients,
            audit,
            accounts,
            pool,
            database_url,
            _root: root,
            stop: Some(stop),
            task: Some(task),
        })
    }
}
