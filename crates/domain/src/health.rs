//! Readiness: the port through which `/readyz` asks each backing service whether it answers.

use async_trait::async_trait;

/// One dependency that must answer for the instance to be ready (the database, Redis, …).
#[async_trait]
pub trait Probe: Send + Sync + std::fmt::Debug {
    /// A short stable name shown on `/readyz` (`database`, `redis`).
    fn name(&self) -> &'static str;

    /// Checks the dependency. The error text is for the log only; `/readyz` shows the name and
    /// a state, never the cause (it may contain host names or credentials).
    async fn check(&self) -> Result<(), ProbeFailure>;

    /// Whether the instance cannot serve without it. A dependency that is not required (Redis
    /// when it only shares rate limits and nonces) makes the instance *degraded* when down:
    /// still ready, each control in its documented fallback.
    fn required(&self) -> bool {
        true
    }
}

/// A probe whose dependency the instance can run without.
#[derive(Debug)]
pub struct Optional(pub std::sync::Arc<dyn Probe>);

#[async_trait]
impl Probe for Optional {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    async fn check(&self) -> Result<(), ProbeFailure> {
        self.0.check().await
    }

    fn required(&self) -> bool {
        false
    }
}

/// Why a probe failed, for the operator's log.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProbeFailure(pub String);

/// How a posture check (`kunci doctor`) came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostureLevel {
    Pass,
    Warn,
    Fail,
}

/// One finding of the deployment's posture, for the console: a stable code and its arguments,
/// which the console's catalogs put into words (`doctor-<code>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureFinding {
    pub level: PostureLevel,
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

/// The posture checks the console shows (those of `kunci doctor` that need neither a request
/// to the deployment itself nor the command line's environment).
#[async_trait::async_trait]
pub trait Posture: Send + Sync + std::fmt::Debug {
    async fn findings(&self) -> Vec<PostureFinding>;
}
