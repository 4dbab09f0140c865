//! Request rate limits per client (SPEC §6, tier 1): GCRA, the generic cell rate algorithm.
//!
//! Each key keeps one number, its *theoretical arrival time* (TAT). A request at `now` is let
//! through when `TAT - now <= tolerance` (the burst), and moves the TAT to
//! `max(TAT, now) + interval`. One number per key, one atomic step per request: the same rule
//! runs in memory and, shared by every instance, as a Redis script.
//!
//! When the shared store fails, the limiter falls back to this instance's own memory (the
//! limits then hold per instance) and counts the fallback: limits degrade, they never vanish.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::clock::Clock;
use crate::store::StoreError;

/// A limit: `burst` requests at once, refilled at one per `interval_us` microseconds (fine
/// enough for a hundred thousand requests a second). Every time of the limiter is in
/// microseconds; only `retry_after_ms` is in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub interval_us: i64,
    pub burst: u32,
}

impl Rate {
    /// `count` requests per `period_ms`, all of them allowed at once.
    pub fn per(count: u32, period_ms: i64) -> Self {
        Self {
            interval_us: (period_ms.saturating_mul(1000) / i64::from(count.max(1))).max(1),
            burst: count.max(1),
        }
    }

    /// How far ahead of now the TAT may be, in microseconds.
    pub fn tolerance_us(self) -> i64 {
        self.interval_us
            .saturating_mul(i64::from(self.burst.saturating_sub(1)))
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused; a request would be allowed again after this many milliseconds.
    Deny {
        retry_after_ms: i64,
    },
}

/// One GCRA step on a stored TAT at `now` (both in microseconds). Returns the decision and the
/// TAT to store (unchanged when denied).
pub fn gcra(tat: Option<i64>, rate: Rate, now: i64) -> (Decision, i64) {
    let tat = tat.unwrap_or(now).max(now);
    let allow_at = tat - rate.tolerance_us();
    if now < allow_at {
        (
            Decision::Deny {
                retry_after_ms: (allow_at - now + 999) / 1000,
            },
            tat,
        )
    } else {
        (Decision::Allow, tat + rate.interval_us)
    }
}

/// Where TATs live.
#[async_trait]
pub trait RateStore: Send + Sync + fmt::Debug {
    /// One request under `key` at `now_us` (microseconds).
    async fn check(&self, key: &str, rate: Rate, now_us: i64) -> Result<Decision, StoreError>;
}

/// TATs in this process's memory. Keys whose TAT has passed are forgotten by [`Self::prune`]
/// (a TAT in the past means a full burst is available, exactly as for an unknown key).
#[derive(Debug, Default)]
pub struct MemoryRates {
    tats: Mutex<HashMap<String, i64>>,
}

impl MemoryRates {
    /// Drops keys whose TAT is before `now_us`; returns how many remain.
    pub fn prune(&self, now_us: i64) -> usize {
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        tats.retain(|_, tat| *tat > now_us);
        tats.len()
    }

    fn step(&self, key: &str, rate: Rate, now_us: i64) -> Decision {
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        let (decision, tat) = gcra(tats.get(key).copied(), rate, now_us);
        if decision == Decision::Allow {
            tats.insert(key.to_owned(), tat);
        }
        decision
    }
}

#[async_trait]
impl RateStore for MemoryRates {
    async fn check(&self, key: &str, rate: Rate, now_us: i64) -> Result<Decision, StoreError> {
        Ok(self.step(key, rate, now_us))
    }
}

/// The limiter the application uses: the shared store when there is one, this instance's
/// memory when there is not or when the shared store fails.
#[derive(Debug)]
pub struct Limiter {
    shared: Option<Arc<dyn RateStore>>,
    local: MemoryRates,
    clock: Arc<dyn Clock>,
    fallbacks: AtomicU64,
    degraded: AtomicBool,
}

impl Limiter {
    pub fn new(shared: Option<Arc<dyn RateStore>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared,
            local: MemoryRates::default(),
            clock,
            fallbacks: AtomicU64::new(0),
            degraded: AtomicBool::new(false),
        }
    }

    fn now_us(&self) -> i64 {
        i64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
    }

    /// One request under `key` at `rate`.
    pub async fn check(&self, key: &str, rate: Rate) -> Decision {
        let now = self.now_us();
        if let Some(shared) = &self.shared {
            match shared.check(key, rate, now).await {
                Ok(decision) => {
                    self.degraded.store(false, Ordering::Relaxed);
                    return decision;
                }
                Err(err) => {
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %err, "shared rate limits unavailable; limiting per instance");
                    }
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.local.step(key, rate, now)
    }

    /// Requests limited in this instance's memory because the shared store failed.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Whether the last shared check failed.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Forgets spent local keys (a background job calls this).
    pub fn prune(&self) -> usize {
        self.local.prune(self.now_us())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_one_per_interval() {
        let rate = Rate::per(5, 60_000);
        let mut tat = None;
        let mut now = 1_000_000_000;
        for _ in 0..5 {
            let (decision, next) = gcra(tat, rate, now);
            assert_eq!(decision, Decision::Allow);
            tat = Some(next);
        }
        let (decision, _) = gcra(tat, rate, now);
        assert_eq!(
            decision,
            Decision::Deny {
                retry_after_ms: 12_000
            }
        );
        now += 12_000_000;
        let (decision, next) = gcra(tat, rate, now);
        assert_eq!(decision, Decision::Allow);
        let (decision, _) = gcra(Some(next), rate, now);
        assert!(matches!(decision, Decision::Deny { .. }));
    }

    #[test]
    fn an_idle_key_gets_its_full_burst_back() {
        let rate = Rate::per(3, 3_000);
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(gcra(tat, rate, 0).1);
        }
        assert!(matches!(gcra(tat, rate, 0).0, Decision::Deny { .. }));
        let mut later = tat;
        for _ in 0..3 {
            let (decision, next) = gcra(later, rate, 10_000_000);
            assert_eq!(decision, Decision::Allow);
            later = Some(next);
        }
    }

    #[test]
    fn memory_rates_prune_spent_keys() {
        let rates = MemoryRates::default();
        let rate = Rate::per(2, 1_000);
        assert_eq!(rates.step("a", rate, 0), Decision::Allow);
        assert_eq!(rates.step("b", rate, 0), Decision::Allow);
        assert_eq!(rates.prune(0), 2);
        assert_eq!(rates.prune(10_000_000), 0);
    }

    #[test]
    fn thousands_a_second_are_counted_exactly() {
        // 100 000 a second: within one millisecond, 100 beyond the burst.
        let rate = Rate::per(100_000, 1_000);
        assert_eq!(rate.interval_us, 10);
        let rate = Rate { burst: 1, ..rate };
        let mut tat = None;
        let mut allowed = 0;
        // A request every microsecond for a second, with a burst of one.
        for now in 5_000_000..6_000_000 {
            let (decision, next) = gcra(tat, rate, now);
            if decision == Decision::Allow {
                allowed += 1;
                tat = Some(next);
            }
        }
        assert_eq!(allowed, 100_000, "exactly the rate over one second");
    }
}
