//! The application state handed to every handler: a cheap handle (`Arc` inside).

use std::sync::Arc;

use kunci_domain::clock::Clock;
use kunci_domain::environment::Environment;
use kunci_domain::health::Probe;

/// What the web layer needs to know about the deployment.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub environment: Environment,
    /// The instance serves HTTPS itself (TLS configured): HSTS goes on every response.
    pub serves_https: bool,
}

/// Shared state. Clone it freely: it is one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: WebSettings,
    clock: Arc<dyn Clock>,
    probes: Vec<Arc<dyn Probe>>,
}

impl AppState {
    pub fn new(settings: WebSettings, clock: Arc<dyn Clock>, probes: Vec<Arc<dyn Probe>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                clock,
                probes,
            }),
        }
    }

    pub fn settings(&self) -> &WebSettings {
        &self.inner.settings
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// The dependencies `/readyz` checks.
    pub fn probes(&self) -> &[Arc<dyn Probe>] {
        &self.inner.probes
    }
}
