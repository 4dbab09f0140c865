//! Brute-force lockout per account name (SPEC §6, tier 2).
//!
//! Every login attempt first *reserves* one of the name's attempts, atomically in the database:
//! with a limit of 5, five reservations succeed and every further one is refused as busy
//! (retry in a second: it locks nothing, since those in flight may be the owner's), so 50
//! parallel guesses across any number of instances get at most 5 passwords evaluated. A failed
//! evaluation keeps its reservation; the fifth failure locks the name for the lock period. A
//! success clears the count. Names that do not exist are counted and locked the same way, so a
//! lock tells nothing about which names exist.
//!
//! The database is the record of truth: no cache to flush, nothing lost on a restart.
//!
//! A browser that has logged in to the account before holds a signed device cookie; its
//! attempts count against that device's own budget instead of the name's, so an attacker
//! elsewhere cannot lock the owner out of their own browser (OWASP's "device cookies").

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::audit::{Actor, AuditEvent, AuditLog, Outcome};
use crate::clock::Clock;
use crate::notify::{EventKind, Notification, Notifier};
use crate::store::StoreError;

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock a name (or a device).
    pub limit: u32,
    /// The window failures are counted in, in seconds.
    pub window_secs: i64,
    /// How long a lock lasts, in seconds.
    pub lock_secs: i64,
}

/// What a reservation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// The attempt may be evaluated; it is the `n`th in the window.
    Allowed(u32),
    /// Locked until this time. `newly` when this reservation locked it.
    Locked { until: i64, newly: bool },
    /// Not locked, but `limit` attempts of the key are already being evaluated: this one is not
    /// (so parallel guesses never get more than `limit` evaluations), and it does not lock the
    /// key either — those in flight may be the owner's. The caller retries shortly.
    Busy,
}

#[async_trait]
pub trait LockoutStore: Send + Sync + fmt::Debug {
    /// Counts one attempt of `key`, atomically across instances, and locks the key when the
    /// count passes the limit.
    async fn reserve(
        &self,
        key: &str,
        policy: LockoutPolicy,
        now: i64,
    ) -> Result<Reserved, StoreError>;
    /// Locks `key` now (after the failure that reached the limit). True when this call locked it.
    async fn lock(&self, key: &str, until: i64, now: i64) -> Result<bool, StoreError>;
    /// Forgets `key`'s count and lock (a success, or an administrator's unlock). True when
    /// there was something to forget.
    async fn clear(&self, key: &str) -> Result<bool, StoreError>;
    /// The lock on `key`, if any, at `now`.
    async fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError>;
    /// Every key locked at `now` with its end, the latest end first, at most `limit`.
    async fn locks(&self, now: i64, limit: u32) -> Result<Vec<(String, i64)>, StoreError>;
}

/// What a lock holds back: sign-ins to a name, or those of one browser's device cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locked {
    Name(String),
    Device(String),
}

/// A lock in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub what: Locked,
    pub until: i64,
}

/// An attempt that may go ahead; report how it ended.
#[derive(Debug, Clone)]
pub struct Ticket {
    key: String,
    count: u32,
    name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockoutError {
    #[error("account_locked")]
    Locked { retry_after: i64 },
    /// Enough attempts of this name are being evaluated right now; retry in a moment.
    #[error("too many attempts at once")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(crate::audit::AuditError),
}

/// The lockout rules.
#[derive(Debug, Clone)]
pub struct Lockout {
    store: Arc<dyn LockoutStore>,
    policy: LockoutPolicy,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    notifier: Arc<dyn Notifier>,
}

fn name_key(name: &str) -> String {
    format!("name:{name}")
}

fn device_key(device: &str) -> String {
    format!("device:{device}")
}

impl Lockout {
    pub fn new(
        store: Arc<dyn LockoutStore>,
        policy: LockoutPolicy,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        Self {
            store,
            policy,
            clock,
            audit,
            notifier,
        }
    }

    /// Reserves an attempt at `name` (already normalised, or the raw text of an invalid name),
    /// from the device `device` when the browser holds a device cookie for that name.
    pub async fn check_in(&self, name: &str, device: Option<&str>) -> Result<Ticket, LockoutError> {
        let key = device.map_or_else(|| name_key(name), device_key);
        let now = self.clock.now_unix();
        match self.store.reserve(&key, self.policy, now).await? {
            Reserved::Allowed(count) => Ok(Ticket {
                key,
                count,
                name: name.to_owned(),
            }),
            Reserved::Busy => Err(LockoutError::Busy),
            Reserved::Locked { until, newly } => {
                if newly {
                    self.locked(name, device.is_some(), until).await;
                }
                Err(LockoutError::Locked {
                    retry_after: (until - now).max(1),
                })
            }
        }
    }

    /// The attempt failed: the reservation stands; at the limit, the key locks.
    pub async fn failed(&self, ticket: Ticket) -> Result<(), LockoutError> {
        if ticket.count < self.policy.limit {
            return Ok(());
        }
        let now = self.clock.now_unix();
        let until = now + self.policy.lock_secs;
        if self.store.lock(&ticket.key, until, now).await? {
            self.locked(&ticket.name, ticket.key.starts_with("device:"), until)
                .await;
        }
        Ok(())
    }

    /// The attempt succeeded: the count starts again.
    pub async fn succeeded(&self, ticket: Ticket) -> Result<(), LockoutError> {
        self.store.clear(&ticket.key).await?;
        Ok(())
    }

    /// An administrator lifts the lock on a name. True when it was locked or counting.
    pub async fn unlock(&self, actor: &Actor, name: &str) -> Result<bool, LockoutError> {
        let event = AuditEvent::by(actor, "account.unlocked", name);
        let cleared = self
            .audit
            .around(event, self.store.clear(&name_key(name)))
            .await
            .map_err(|err| match err {
                crate::audit::AuditedError::Audit(err) => LockoutError::Audit(err),
                crate::audit::AuditedError::Action(err) => LockoutError::Store(err),
            })?;
        Ok(cleared)
    }

    /// The locks in force, the latest end first, at most `limit`.
    pub async fn locks(&self, limit: u32) -> Result<Vec<Lock>, LockoutError> {
        let now = self.clock.now_unix();
        Ok(self
            .store
            .locks(now, limit)
            .await?
            .into_iter()
            .filter_map(|(key, until)| {
                let what = if let Some(name) = key.strip_prefix("name:") {
                    Locked::Name(name.to_owned())
                } else {
                    Locked::Device(key.strip_prefix("device:")?.to_owned())
                };
                Some(Lock { what, until })
            })
            .collect())
    }

    /// An administrator lifts the lock on one browser's device cookie (audited as
    /// `account.unlocked` of `device <first 8 characters>`). True when it was locked or
    /// counting.
    pub async fn unlock_device(&self, actor: &Actor, device: &str) -> Result<bool, LockoutError> {
        let shown: String = device.chars().take(8).collect();
        let event = AuditEvent::by(actor, "account.unlocked", format!("device {shown}"));
        self.audit
            .around(event, self.store.clear(&device_key(device)))
            .await
            .map_err(|err| match err {
                crate::audit::AuditedError::Audit(err) => LockoutError::Audit(err),
                crate::audit::AuditedError::Action(err) => LockoutError::Store(err),
            })
    }

    /// When the name is locked until, if it is.
    pub async fn locked_until(&self, name: &str) -> Result<Option<i64>, LockoutError> {
        Ok(self
            .store
            .locked_until(&name_key(name), self.clock.now_unix())
            .await?)
    }

    async fn locked(&self, name: &str, device: bool, until: i64) {
        let what = if device { "a device of " } else { "" };
        let event = AuditEvent::new("system", "account.locked", format!("{what}{name}"))
            .outcome(Outcome::Denied);
        if let Err(err) = self.audit.record(event).await {
            tracing::error!(error = %err, "could not audit an account lock");
        }
        self.notifier.notify(
            Notification::new(EventKind::AccountLocked, self.clock.now_unix(), name)
                .detail("until", until.to_string())
                .detail("scope", if device { "device" } else { "account" }),
        );
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::testing::{Base, MemoryLockout};

    const POLICY: LockoutPolicy = LockoutPolicy {
        limit: 5,
        window_secs: 900,
        lock_secs: 12 * 3600,
    };

    fn lockout(base: &Base) -> (Lockout, Arc<MemoryLockout>) {
        let store = Arc::new(MemoryLockout::default());
        let lockout = Lockout::new(
            store.clone(),
            POLICY,
            base.clock(),
            base.audit.clone(),
            base.heard.clone(),
        );
        (lockout, store)
    }

    async fn fail(lockout: &Lockout, name: &str, device: Option<&str>) -> Result<(), LockoutError> {
        let ticket = lockout.check_in(name, device).await?;
        lockout.failed(ticket).await
    }

    /// The `retry_after` of a refused check-in, `None` when it was not a lock.
    fn retry_after(checked: Result<Ticket, LockoutError>) -> Option<i64> {
        match checked {
            Err(LockoutError::Locked { retry_after }) => Some(retry_after),
            _ => None,
        }
    }

    #[tokio::test]
    async fn the_fifth_failure_locks_the_name_for_the_lock_period() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for n in 1..=4 {
            fail(&lockout, "alice", None).await.unwrap();
            let until = lockout.locked_until("alice").await.unwrap();
            assert_eq!(until, None, "not locked after {n} failures");
        }
        fail(&lockout, "alice", None).await.unwrap();
        let until = base.clock.now_unix() + POLICY.lock_secs;
        assert_eq!(lockout.locked_until("alice").await.unwrap(), Some(until));
        let refused = lockout.check_in("alice", None).await;
        assert_eq!(retry_after(refused), Some(POLICY.lock_secs));

        base.clock.advance(Duration::seconds(POLICY.lock_secs - 1));
        let refused = lockout.check_in("alice", None).await;
        assert_eq!(retry_after(refused), Some(1), "a second before the end");
        base.clock.advance(Duration::seconds(1));
        let ticket = lockout.check_in("alice", None).await.unwrap();
        assert_eq!(ticket.count, 1, "over, and counting from the start");
    }

    #[tokio::test]
    async fn a_success_before_the_limit_resets_the_count() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..4 {
            fail(&lockout, "bob", None).await.unwrap();
        }
        let ticket = lockout.check_in("bob", None).await.unwrap();
        assert_eq!(ticket.count, 5);
        lockout.succeeded(ticket).await.unwrap();
        for _ in 0..4 {
            fail(&lockout, "bob", None).await.unwrap();
        }
        assert_eq!(lockout.locked_until("bob").await.unwrap(), None);
        let ticket = lockout.check_in("bob", None).await.unwrap();
        assert_eq!(ticket.count, 5, "counted from the success on");
    }

    #[tokio::test]
    async fn failures_outside_the_window_do_not_add_up() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..4 {
            fail(&lockout, "carol", None).await.unwrap();
        }
        base.clock.advance(Duration::seconds(POLICY.window_secs));
        for _ in 0..4 {
            fail(&lockout, "carol", None).await.unwrap();
        }
        assert_eq!(lockout.locked_until("carol").await.unwrap(), None);
        let ticket = lockout.check_in("carol", None).await.unwrap();
        assert_eq!(ticket.count, 5, "four in the new window, then this one");
    }

    #[tokio::test]
    async fn a_known_device_keeps_its_own_budget() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..5 {
            fail(&lockout, "erin", None).await.unwrap();
        }
        let refused = lockout.check_in("erin", None).await;
        assert!(retry_after(refused).is_some(), "the name is locked");

        let ticket = lockout.check_in("erin", Some("dev-1")).await.unwrap();
        assert_eq!(ticket.count, 1, "the device counts apart from the name");
        lockout.failed(ticket).await.unwrap();
        for _ in 0..4 {
            fail(&lockout, "erin", Some("dev-1")).await.unwrap();
        }
        let refused = lockout.check_in("erin", Some("dev-1")).await;
        assert!(retry_after(refused).is_some(), "a device has a budget too");
        let other = lockout.check_in("erin", Some("dev-2")).await.unwrap();
        assert_eq!(other.count, 1, "another device is not locked");
    }

    #[tokio::test]
    async fn a_device_s_failures_do_not_count_against_the_name() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..5 {
            fail(&lockout, "fay", Some("dev-1")).await.unwrap();
        }
        assert_eq!(lockout.locked_until("fay").await.unwrap(), None);
        let ticket = lockout.check_in("fay", None).await.unwrap();
        assert_eq!(ticket.count, 1);
    }

    #[tokio::test]
    async fn a_lock_is_audited_and_notified_once() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..5 {
            fail(&lockout, "frank", None).await.unwrap();
        }
        let until = base.clock.now_unix() + POLICY.lock_secs;
        for _ in 0..3 {
            let refused = lockout.check_in("frank", None).await;
            assert!(retry_after(refused).is_some());
        }

        let heard = base.heard.heard();
        assert_eq!(heard.len(), 1, "one however often it is refused");
        assert_eq!(heard[0].kind, EventKind::AccountLocked);
        assert_eq!(heard[0].subject, "frank");
        assert_eq!(heard[0].details.get("until"), Some(&until.to_string()));
        let scope = heard[0].details.get("scope").map(String::as_str);
        assert_eq!(scope, Some("account"));

        let locks: Vec<_> = base
            .audited()
            .into_iter()
            .filter(|d| d.action == "account.locked")
            .collect();
        assert_eq!(locks.len(), 1);
        assert_eq!(locks[0].actor, "system");
        assert_eq!(locks[0].target, "frank");
        assert_eq!(locks[0].outcome, "denied");
    }

    #[tokio::test]
    async fn a_device_lock_says_it_is_a_device() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..5 {
            fail(&lockout, "gina", Some("dev-1")).await.unwrap();
        }
        let heard = base.heard.heard();
        assert_eq!(heard.len(), 1);
        assert_eq!(heard[0].subject, "gina");
        let scope = heard[0].details.get("scope").map(String::as_str);
        assert_eq!(scope, Some("device"));
        let targets: Vec<String> = base
            .audited()
            .into_iter()
            .filter(|d| d.action == "account.locked")
            .map(|d| d.target)
            .collect();
        assert_eq!(targets, ["a device of gina"]);
    }

    #[tokio::test]
    async fn attempts_beyond_those_in_flight_are_busy_and_lock_nothing() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        let mut tickets = Vec::new();
        for n in 1..=5 {
            let ticket = lockout.check_in("hal", None).await.unwrap();
            assert_eq!(ticket.count, n);
            tickets.push(ticket);
        }
        for _ in 0..3 {
            let busy = lockout.check_in("hal", None).await;
            assert!(matches!(busy, Err(LockoutError::Busy)), "{busy:?}");
        }
        assert_eq!(lockout.locked_until("hal").await.unwrap(), None);
        assert!(base.heard.heard().is_empty(), "in flight: no lock");

        for ticket in tickets {
            lockout.failed(ticket).await.unwrap();
        }
        let refused = lockout.check_in("hal", None).await;
        assert!(retry_after(refused).is_some(), "their five failures lock");
        assert_eq!(base.heard.kinds(), [EventKind::AccountLocked]);
    }

    #[tokio::test]
    async fn a_lock_holds_and_is_notified_when_it_cannot_be_audited() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        base.audit_store.outage.set(true);
        for _ in 0..5 {
            fail(&lockout, "ivan", None).await.unwrap();
        }
        let refused = lockout.check_in("ivan", None).await;
        assert!(retry_after(refused).is_some());
        assert_eq!(base.heard.kinds(), [EventKind::AccountLocked]);
    }

    #[tokio::test]
    async fn an_administrator_unlocks_and_it_is_audited() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..5 {
            fail(&lockout, "judy", None).await.unwrap();
        }
        assert!(lockout.unlock(&Actor::cli(), "judy").await.unwrap());
        assert_eq!(lockout.locked_until("judy").await.unwrap(), None);
        let ticket = lockout.check_in("judy", None).await.unwrap();
        assert_eq!(ticket.count, 1, "the count is gone with the lock");
        assert!(!lockout.unlock(&Actor::cli(), "nobody").await.unwrap());

        let unlocks: Vec<String> = base
            .audited()
            .into_iter()
            .filter(|d| d.action == "account.unlocked")
            .map(|d| format!("{} {} {}", d.actor, d.target, d.outcome))
            .collect();
        // The lockout store may be Redis: an intent, then the outcome.
        assert_eq!(
            unlocks,
            [
                "cli judy started",
                "cli judy allowed",
                "cli nobody started",
                "cli nobody allowed"
            ]
        );
    }

    #[tokio::test]
    async fn an_unlock_that_cannot_be_audited_leaves_the_lock() {
        let base = Base::new();
        let (lockout, _) = lockout(&base);
        for _ in 0..5 {
            fail(&lockout, "ken", None).await.unwrap();
        }
        base.audit_store.outage.set(true);
        let unlocked = lockout.unlock(&Actor::cli(), "ken").await;
        assert!(matches!(unlocked, Err(LockoutError::Audit(_))));
        assert!(lockout.locked_until("ken").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_unavailable_store_refuses_the_attempt() {
        let base = Base::new();
        let (lockout, store) = lockout(&base);
        store.outage.set(true);
        let checked = lockout.check_in("lee", None).await;
        assert!(matches!(checked, Err(LockoutError::Store(_))));
    }
}
