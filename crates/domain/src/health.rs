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
}

/// Why a probe failed, for the operator's log.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProbeFailure(pub String);
