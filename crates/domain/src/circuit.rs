//! The throttle circuit of each upstream (SPEC §8): when many keys of different quota groups
//! are throttled at once — answers no per-key verdict explains: the upstream throttles kunci
//! as a whole — calls stop for a while instead of burning the pool; after the open period one
//! probe half-opens it. The [`CircuitStore`] port holds the state (in Redis when there is one,
//! so every instance sees the same circuit); [`MemoryCircuit`] is one instance's, and the
//! rules every store keeps.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::store::StoreError;

/// The throttle circuit's limits (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitPolicy {
    /// Throttling answers from this many different quota groups...
    pub groups: usize,
    /// ... within this many seconds open the circuit...
    pub window_secs: i64,
    /// ... for this many seconds.
    pub open_secs: i64,
    /// How long the one probe after the open period may take before another may try.
    pub probe_secs: i64,
}

impl Default for CircuitPolicy {
    fn default() -> Self {
        Self {
            groups: 3,
            window_secs: 10,
            open_secs: 30,
            probe_secs: 15,
        }
    }
}

/// What the circuit says to a caller about to use an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: go ahead.
    Closed,
    /// Open (or another caller is the probe): come back at `until`.
    Open { until: i64 },
    /// The open period is over and this caller is the one probe: its answer closes the circuit
    /// or opens it again.
    Probe,
}

/// Where the circuits live.
#[async_trait]
pub trait CircuitStore: Send + Sync + fmt::Debug {
    /// Whether a call to `upstream` may go out at `now`.
    async fn admit(
        &self,
        upstream: &str,
        now: i64,
        policy: CircuitPolicy,
    ) -> Result<Admit, StoreError>;
    /// A throttling answer from a key of quota group `group`. Opens the circuit when it makes
    /// `policy.groups` different groups within the window, or when it answered the probe; the
    /// time it opens until, if it did.
    async fn throttled(
        &self,
        upstream: &str,
        group: &str,
        now: i64,
        policy: CircuitPolicy,
    ) -> Result<Option<i64>, StoreError>;
    /// A served answer: a closed circuit forgets its recent throttles, a half-open one (the
    /// probe was served) closes. An open one stays open: the answer was on its way before.
    async fn served(&self, upstream: &str, now: i64) -> Result<(), StoreError>;
}

#[derive(Debug, Default)]
struct State {
    /// Recent throttling answers: (time, quota group).
    recent: Vec<(i64, String)>,
    /// 0: closed. Past: half-open (the next caller probes).
    open_until: i64,
    /// While a probe is out, no other caller probes.
    probe_until: i64,
}

/// The circuits of one instance.
#[derive(Debug, Default)]
pub struct MemoryCircuit {
    states: Mutex<HashMap<String, State>>,
}

impl MemoryCircuit {
    fn with<T>(&self, upstream: &str, f: impl FnOnce(&mut State) -> T) -> T {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        f(states.entry(upstream.to_owned()).or_default())
    }
}

#[async_trait]
impl CircuitStore for MemoryCircuit {
    async fn admit(
        &self,
        upstream: &str,
        now: i64,
        policy: CircuitPolicy,
    ) -> Result<Admit, StoreError> {
        Ok(self.with(upstream, |s| {
            if s.open_until == 0 {
                Admit::Closed
            } else if now < s.open_until {
                Admit::Open {
                    until: s.open_until,
                }
            } else if s.probe_until > now {
                Admit::Open {
                    until: s.probe_until,
                }
            } else {
                s.probe_until = now + policy.probe_secs;
                Admit::Probe
            }
        }))
    }

    async fn throttled(
        &self,
        upstream: &str,
        group: &str,
        now: i64,
        policy: CircuitPolicy,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self.with(upstream, |s| {
            let open = |s: &mut State| {
                s.open_until = now + policy.open_secs;
                s.probe_until = 0;
                s.recent.clear();
                Some(s.open_until)
            };
            if s.open_until != 0 {
                // Open already (an answer on its way before), or the probe was throttled.
                return if now < s.open_until {
                    Some(s.open_until)
                } else {
                    open(s)
                };
            }
            s.recent.retain(|(t, _)| now - t < policy.window_secs);
            s.recent.push((now, group.to_owned()));
            let mut groups: Vec<&str> = s.recent.iter().map(|(_, g)| g.as_str()).collect();
            groups.sort_unstable();
            groups.dedup();
            if groups.len() >= policy.groups {
                open(s)
            } else {
                None
            }
        }))
    }

    async fn served(&self, upstream: &str, now: i64) -> Result<(), StoreError> {
        self.with(upstream, |s| {
            if s.open_until == 0 || now >= s.open_until {
                *s = State::default();
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CircuitPolicy = CircuitPolicy {
        groups: 3,
        window_secs: 10,
        open_secs: 30,
        probe_secs: 15,
    };

    #[tokio::test]
    async fn three_groups_within_the_window_open_it_and_one_probe_half_opens_it() {
        let c = MemoryCircuit::default();
        assert_eq!(c.admit("g", 100, POLICY).await.unwrap(), Admit::Closed);
        assert_eq!(c.throttled("g", "p1", 100, POLICY).await.unwrap(), None);
        assert_eq!(
            c.throttled("g", "p1", 101, POLICY).await.unwrap(),
            None,
            "the same group twice is one group"
        );
        assert_eq!(c.throttled("g", "p2", 102, POLICY).await.unwrap(), None);
        assert_eq!(
            c.throttled("g", "p3", 103, POLICY).await.unwrap(),
            Some(133)
        );
        assert_eq!(
            c.admit("g", 120, POLICY).await.unwrap(),
            Admit::Open { until: 133 }
        );
        assert_eq!(c.admit("other", 120, POLICY).await.unwrap(), Admit::Closed);
        // After the open period: one probe, the others wait for it.
        assert_eq!(c.admit("g", 133, POLICY).await.unwrap(), Admit::Probe);
        assert_eq!(
            c.admit("g", 134, POLICY).await.unwrap(),
            Admit::Open { until: 148 }
        );
        // The probe is served: closed.
        c.served("g", 135).await.unwrap();
        assert_eq!(c.admit("g", 135, POLICY).await.unwrap(), Admit::Closed);
    }

    #[tokio::test]
    async fn a_throttled_probe_opens_it_again_and_old_throttles_fall_out_of_the_window() {
        let c = MemoryCircuit::default();
        for (t, g) in [(0, "a"), (1, "b"), (2, "c")] {
            c.throttled("g", g, t, POLICY).await.unwrap();
        }
        assert_eq!(c.admit("g", 32, POLICY).await.unwrap(), Admit::Probe);
        assert_eq!(c.throttled("g", "a", 33, POLICY).await.unwrap(), Some(63));
        assert_eq!(
            c.admit("g", 40, POLICY).await.unwrap(),
            Admit::Open { until: 63 }
        );

        let c = MemoryCircuit::default();
        c.throttled("g", "a", 0, POLICY).await.unwrap();
        c.throttled("g", "b", 5, POLICY).await.unwrap();
        assert_eq!(
            c.throttled("g", "c", 10, POLICY).await.unwrap(),
            None,
            "the first is 10 s old: out of the window"
        );
    }

    #[tokio::test]
    async fn an_answer_served_while_open_does_not_close_it() {
        let c = MemoryCircuit::default();
        for (t, g) in [(0, "a"), (0, "b"), (0, "c")] {
            c.throttled("g", g, t, POLICY).await.unwrap();
        }
        c.served("g", 1).await.unwrap();
        assert_eq!(
            c.admit("g", 2, POLICY).await.unwrap(),
            Admit::Open { until: 30 }
        );
    }
}
