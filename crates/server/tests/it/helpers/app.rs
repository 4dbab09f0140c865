//! `TestApp`: the real application, built through the composition root, serving on a free
//! loopback port with its own database and a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use kunci::config::{self, LoadInput};
use kunci::startup::Application;
use kunci_domain::clock::ManualClock;
use kunci_domain::environment::Environment;
use kunci_store::testing::{TestBackend, TestDatabase};
use tempfile::TempDir;
use time::macros::datetime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    /// The application's clock: tests move time with it instead of sleeping.
    #[expect(
        dead_code,
        reason = "no time-dependent feature is tested through TestApp yet"
    )]
    pub clock: ManualClock,
    /// The project folder; removed when the app is dropped.
    _root: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

pub struct TestAppBuilder {
    backend: TestBackend,
    variables: Vec<(String, String)>,
    routes: Option<Router>,
}

impl TestApp {
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
        self.variables.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Extra routes, as a site would add its own.
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = Some(routes);
        self
    }

    /// `None` when the backend's service is not configured (the test is then skipped).
    pub async fn spawn(self) -> Option<TestApp> {
        kunci::install_crypto_provider();
        let root = tempfile::tempdir().expect("tempdir");
        let database = TestDatabase::new(self.backend, root.path()).await?;
        let mut variables = vec![
            (
                "KUNCI__ENVIRONMENT__BIND".to_owned(),
                "127.0.0.1:0".to_owned(),
            ),
            ("KUNCI__DATA__DATABASE_URL".to_owned(), database.url.clone()),
        ];
        variables.extend(self.variables);
        let input = LoadInput {
            root: root.path().to_path_buf(),
            environment: Environment::Test,
            variables,
            encrypted: None,
        };
        let loaded = config::load(&input).expect("test configuration is valid");
        let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
        let mut app = Application::build(&loaded, Arc::new(clock.clone()))
            .await
            .expect("app builds");
        if let Some(routes) = self.routes {
            app = app.merge(routes);
        }
        let address = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Some(TestApp {
            address,
            client: super::client(),
            clock,
            _root: root,
            stop: Some(stop),
            task: Some(task),
        })
    }
}
