//! Brute-force lockout per account name (SPEC §6, tier 2).
//!
//! Every login attempt first *reserves* one of the name's attempts, atomically in the database:
//! with a limit of 5, five reservations succeed and every further one locks the name, so 50
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

use crate::audit::{AuditEvent, AuditLog, Outcome};
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
    pub async fn unlock(&self, actor: &str, name: &str) -> Result<bool, LockoutError> {
        let event = AuditEvent::new(actor, "account.unlocked", name);
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
