//! The throttle circuit the proxy consults (SPEC §8): [`Circuit`] asks the shared one (Redis,
//! `kunci-store`) when there is one and falls back to this instance's own
//! ([`MemoryCircuit`]) when it fails — a Redis outage degrades the circuit to one per instance,
//! it never stops calls by itself.

use std::sync::Arc;

use kunci_domain::circuit::{Admit, CircuitPolicy, CircuitStore, MemoryCircuit};
use kunci_domain::store::StoreError;

/// The circuit of the proxy: shared when configured, this instance's otherwise and as the
/// fallback.
#[derive(Debug, Default)]
pub struct Circuit {
    shared: Option<Arc<dyn CircuitStore>>,
    local: MemoryCircuit,
    policy: CircuitPolicy,
}

impl Circuit {
    pub fn new(shared: Option<Arc<dyn CircuitStore>>) -> Self {
        Self {
            shared,
            local: MemoryCircuit::default(),
            policy: CircuitPolicy::default(),
        }
    }

    fn fell_back(err: &StoreError) {
        tracing::warn!(error = %err, "the shared circuit is unavailable: this instance's own decides");
    }

    pub async fn admit(&self, upstream: &str, now: i64) -> Admit {
        if let Some(shared) = &self.shared {
            match shared.admit(upstream, now, self.policy).await {
                Ok(admit) => return admit,
                Err(err) => Self::fell_back(&err),
            }
        }
        self.local
            .admit(upstream, now, self.policy)
            .await
            .unwrap_or(Admit::Closed)
    }

    /// Records a throttling answer; the time the circuit is open until, if it opened.
    pub async fn throttled(&self, upstream: &str, group: &str, now: i64) -> Option<i64> {
        if let Some(shared) = &self.shared {
            match shared.throttled(upstream, group, now, self.policy).await {
                Ok(until) => {
                    if until.is_some() {
                        tracing::warn!(upstream, "many keys throttled at once: circuit open");
                    }
                    return until;
                }
                Err(err) => Self::fell_back(&err),
            }
        }
        let until = self
            .local
            .throttled(upstream, group, now, self.policy)
            .await
            .ok()
            .flatten();
        if until.is_some() {
            tracing::warn!(upstream, "many keys throttled at once: circuit open");
        }
        until
    }

    pub async fn served(&self, upstream: &str, now: i64) {
        if let Some(shared) = &self.shared {
            match shared.served(upstream, now).await {
                Ok(()) => return,
                Err(err) => Self::fell_back(&err),
            }
        }
        let _ = self.local.served(upstream, now).await;
    }
}
