//! In-memory doubles of the domain's ports, for the services' unit tests (`#[cfg(test)]` only).
//!
//! Each store keeps its rows behind a `Mutex` and honours its trait's documented contract the
//! way the SQL and Redis adapters do: one lock per call where the contract says "atomically",
//! [`StoreError::Conflict`] on duplicates, compare-and-set transitions, and times taken only
//! from the `now` the service passes. So a test of a rule fails when the rule is wrong, not
//! when the double is lenient. Every store has an [`Outage`] switch that makes each of its calls
//! answer [`StoreError::Unavailable`], for the rules about failing closed.
//!
//! [`Base`] is what most services are built from: a manual clock, a master key, the audit log
//! over a [`MemoryAudit`] and a [`Recorder`] of notifications.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use kunci_crypto::MasterKey;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::accounts::{Account, AccountStore};
use crate::audit::{
    AuditEntry, AuditFilter, AuditHead, AuditLog, AuditStore, Chain, Draft, GENESIS, Journal,
};
use crate::clients::{Claim, ClientStore, NonceStore, StoredClient};
use crate::clock::{Clock, ManualClock};
use crate::lockout::{LockoutPolicy, LockoutStore, Reserved};
use crate::notify::{EpisodeStore, EventKind, Notification, Notifier};
use crate::session::Scope;
use crate::store::StoreError;

mod keys;
pub(crate) use keys::{Announcements, MemoryKeys};

/// Where every test's clock starts.
pub(crate) const START: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn guard<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A switch that makes a store answer [`StoreError::Unavailable`] to every call while it is on.
#[derive(Debug, Default)]
pub(crate) struct Outage(AtomicBool);

impl Outage {
    /// `true`: every call of the store fails from now on; `false`: it answers again.
    pub(crate) fn set(&self, down: bool) {
        self.0.store(down, Ordering::SeqCst);
    }

    fn check(&self, store: &'static str) -> Result<(), StoreError> {
        if self.0.load(Ordering::SeqCst) {
            Err(StoreError::unavailable(store, "switched off by the test"))
        } else {
            Ok(())
        }
    }
}

/// The usual surroundings of a service under test.
#[derive(Debug)]
pub(crate) struct Base {
    pub(crate) clock: ManualClock,
    pub(crate) master: MasterKey,
    pub(crate) audit_store: Arc<MemoryAudit>,
    pub(crate) audit: AuditLog,
    pub(crate) heard: Arc<Recorder>,
}

impl Base {
    pub(crate) fn new() -> Self {
        let clock = ManualClock::new(START);
        let Ok(master) = MasterKey::generate() else {
            panic!("the system's random number generator failed");
        };
        let audit_store = Arc::new(MemoryAudit::default());
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let audit = AuditLog::new(audit_store.clone(), master.clone(), shared);
        Self {
            clock,
            master,
            audit_store,
            audit,
            heard: Arc::new(Recorder::default()),
        }
    }

    /// The manual clock, as services take it (clones share its time).
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }

    /// Every audit entry written so far, oldest first.
    pub(crate) fn audited(&self) -> Vec<Draft> {
        guard(&self.audit_store.rows)
            .entries
            .iter()
            .map(|entry| entry.record.clone())
            .collect()
    }
}

/// A [`Notifier`] that keeps what it is handed.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Vec<Notification>>);

impl Recorder {
    /// Every notification so far, in order.
    pub(crate) fn heard(&self) -> Vec<Notification> {
        guard(&self.0).clone()
    }

    /// The kinds of every notification so far, in order.
    pub(crate) fn kinds(&self) -> Vec<EventKind> {
        guard(&self.0).iter().map(|n| n.kind).collect()
    }
}

impl Notifier for Recorder {
    fn notify(&self, notification: Notification) {
        guard(&self.0).push(notification);
    }
}

/// The audit log: entries and the head, appended under one lock as the SQL adapter does in one
/// transaction that locks the head.
#[derive(Debug, Default)]
pub(crate) struct MemoryAudit {
    rows: Mutex<AuditRows>,
    pub(crate) outage: Outage,
}

#[derive(Debug, Default)]
struct AuditRows {
    entries: Vec<AuditEntry>,
    head: Option<AuditHead>,
}

#[async_trait]
impl AuditStore for MemoryAudit {
    async fn append(&self, chain: &Chain, draft: Draft) -> Result<AuditEntry, StoreError> {
        self.outage.check("audit")?;
        let mut rows = guard(&self.rows);
        let (seq, prev) = match &rows.head {
            Some(head) => (head.seq + 1, head.mac.clone()),
            None => (1, GENESIS.to_owned()),
        };
        let entry = chain.link(seq, &prev, draft);
        rows.head = Some(chain.head(entry.seq, &entry.mac));
        rows.entries.push(entry.clone());
        Ok(entry)
    }

    async fn head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.outage.check("audit")?;
        Ok(guard(&self.rows).head.clone())
    }

    async fn newest(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.outage.check("audit")?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(guard(&self.rows)
            .entries
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.seq < b) && filter.matches(e))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn page(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.outage.check("audit")?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(guard(&self.rows)
            .entries
            .iter()
            .filter(|entry| entry.seq > after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn purge_ips(&self, before: i64) -> Result<u64, StoreError> {
        self.outage.check("audit")?;
        let mut rows = guard(&self.rows);
        let mut cleared = 0;
        for entry in &mut rows.entries {
            if entry.record.at < before && entry.record.ip.take().is_some() {
                cleared += 1;
            }
        }
        Ok(cleared)
    }
}

/// Login attempts per key, counted as the SQL upsert counts them.
#[derive(Debug, Default)]
pub(crate) struct MemoryLockout {
    rows: Mutex<HashMap<String, Attempts>>,
    pub(crate) outage: Outage,
}

#[derive(Debug, Clone, Copy)]
struct Attempts {
    count: u32,
    window_start: i64,
    locked_until: Option<i64>,
}

#[async_trait]
impl LockoutStore for MemoryLockout {
    /// A locked key is left alone; a window that is over, or a lock that has ended, starts a
    /// new count; past the limit while unlocked is [`Reserved::Busy`].
    async fn reserve(
        &self,
        key: &str,
        policy: LockoutPolicy,
        now: i64,
    ) -> Result<Reserved, StoreError> {
        self.outage.check("lockout")?;
        let mut rows = guard(&self.rows);
        let fresh = Attempts {
            count: 0,
            window_start: now,
            locked_until: None,
        };
        let row = rows.entry(key.to_owned()).or_insert(fresh);
        if let Some(until) = row.locked_until.filter(|until| *until > now) {
            return Ok(Reserved::Locked {
                until,
                newly: false,
            });
        }
        if row.window_start + policy.window_secs <= now || row.locked_until.is_some() {
            *row = Attempts {
                count: 1,
                window_start: now,
                locked_until: None,
            };
        } else {
            row.count = row.count.saturating_add(1);
        }
        Ok(if row.count <= policy.limit {
            Reserved::Allowed(row.count)
        } else {
            Reserved::Busy
        })
    }

    async fn lock(&self, key: &str, until: i64, now: i64) -> Result<bool, StoreError> {
        self.outage.check("lockout")?;
        match guard(&self.rows).get_mut(key) {
            Some(row) if row.locked_until.is_none_or(|locked| locked <= now) => {
                row.locked_until = Some(until);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn clear(&self, key: &str) -> Result<bool, StoreError> {
        self.outage.check("lockout")?;
        Ok(guard(&self.rows).remove(key).is_some())
    }

    async fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        self.outage.check("lockout")?;
        Ok(guard(&self.rows)
            .get(key)
            .and_then(|row| row.locked_until)
            .filter(|until| *until > now))
    }

    async fn locks(&self, now: i64, limit: u32) -> Result<Vec<(String, i64)>, StoreError> {
        self.outage.check("lockout")?;
        let mut locks: Vec<(String, i64)> = guard(&self.rows)
            .iter()
            .filter_map(|(key, row)| {
                row.locked_until
                    .filter(|until| *until > now)
                    .map(|until| (key.clone(), until))
            })
            .collect();
        locks.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        locks.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(locks)
    }
}

/// Accounts, unique by name (and id).
#[derive(Debug, Default)]
pub(crate) struct MemoryAccounts {
    rows: Mutex<Vec<Account>>,
    pub(crate) outage: Outage,
}

#[async_trait]
impl AccountStore for MemoryAccounts {
    async fn insert(&self, account: &Account, journal: &Journal) -> Result<(), StoreError> {
        self.outage.check("accounts")?;
        if guard(&self.rows)
            .iter()
            .any(|a| a.username == account.username || a.id == account.id)
        {
            return Err(StoreError::Conflict);
        }
        journal.append_alone().await?;
        guard(&self.rows).push(account.clone());
        Ok(())
    }

    async fn by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        self.outage.check("accounts")?;
        Ok(guard(&self.rows)
            .iter()
            .find(|a| a.username == username)
            .cloned())
    }

    async fn by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.outage.check("accounts")?;
        Ok(guard(&self.rows).iter().find(|a| a.id == id).cloned())
    }

    async fn list(&self) -> Result<Vec<Account>, StoreError> {
        self.outage.check("accounts")?;
        let mut all = guard(&self.rows).clone();
        all.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(all)
    }

    async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        journal: &Journal,
    ) -> Result<bool, StoreError> {
        self.change(username, Some(journal), |a| a.disabled = disabled)
            .await
    }

    async fn set_scopes(
        &self,
        username: &str,
        scopes: &[Scope],
        journal: &Journal,
    ) -> Result<bool, StoreError> {
        self.change(username, Some(journal), |a| a.scopes = scopes.to_vec())
            .await
    }

    async fn set_password(
        &self,
        username: &str,
        hash: &str,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<bool, StoreError> {
        self.change(username, journal, |a| {
            hash.clone_into(&mut a.password_hash);
            a.password_changed_at = now;
        })
        .await
    }
}

impl MemoryAccounts {
    /// Applies `edit` to the account named `username` after its journal; false (and no entry)
    /// when there is none.
    async fn change(
        &self,
        username: &str,
        journal: Option<&Journal>,
        edit: impl FnOnce(&mut Account),
    ) -> Result<bool, StoreError> {
        self.outage.check("accounts")?;
        if !guard(&self.rows).iter().any(|a| a.username == username) {
            return Ok(false);
        }
        if let Some(journal) = journal {
            journal.append_alone().await?;
        }
        let mut rows = guard(&self.rows);
        if let Some(account) = rows.iter_mut().find(|a| a.username == username) {
            edit(account);
        }
        Ok(true)
    }
}

/// Service clients; a name stays taken once revoked.
#[derive(Debug, Default)]
pub(crate) struct MemoryClients {
    rows: Mutex<Vec<StoredClient>>,
    pub(crate) outage: Outage,
}

#[async_trait]
impl ClientStore for MemoryClients {
    async fn insert(&self, client: &StoredClient, journal: &Journal) -> Result<(), StoreError> {
        self.outage.check("clients")?;
        if guard(&self.rows).iter().any(|c| c.name == client.name) {
            return Err(StoreError::Conflict);
        }
        journal.append_alone().await?;
        guard(&self.rows).push(StoredClient {
            revoked_at: None,
            ..client.clone()
        });
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Option<StoredClient>, StoreError> {
        self.outage.check("clients")?;
        Ok(guard(&self.rows).iter().find(|c| c.name == name).cloned())
    }

    async fn list(&self) -> Result<Vec<StoredClient>, StoreError> {
        self.outage.check("clients")?;
        let mut all = guard(&self.rows).clone();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn revoke(&self, name: &str, now: i64, journal: &Journal) -> Result<bool, StoreError> {
        self.outage.check("clients")?;
        let active = |c: &StoredClient| c.name == name && c.revoked_at.is_none();
        if !guard(&self.rows).iter().any(active) {
            return Ok(false);
        }
        journal.append_alone().await?;
        if let Some(client) = guard(&self.rows).iter_mut().find(|c| active(c)) {
            client.revoked_at = Some(now);
        }
        Ok(true)
    }
}

/// Request nonces as the Redis adapter keeps them: each claimed key until its expiry, behind a
/// watermark. A new store has no watermark (like the SQL store, which is never flushed);
/// [`MemoryNonces::restart_empty`] forgets everything, and the first claim after it sets the
/// watermark to its `now`, as the Redis script does.
#[derive(Debug, Default)]
pub(crate) struct MemoryNonces {
    state: Mutex<Nonces>,
    pub(crate) outage: Outage,
}

#[derive(Debug, Default)]
struct Nonces {
    /// Key → when its use expires.
    used: HashMap<String, i64>,
    watermark: Option<i64>,
    restarted: bool,
}

impl MemoryNonces {
    /// A restart without data: every nonce forgotten.
    pub(crate) fn restart_empty(&self) {
        let mut state = guard(&self.state);
        state.used.clear();
        state.watermark = None;
        state.restarted = true;
    }
}

#[async_trait]
impl NonceStore for MemoryNonces {
    async fn claim(
        &self,
        key: &str,
        timestamp: i64,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Claim, StoreError> {
        self.outage.check("nonces")?;
        let mut state = guard(&self.state);
        if state.restarted {
            state.restarted = false;
            state.watermark = Some(now);
        }
        if state.watermark.is_some_and(|mark| timestamp < mark) {
            return Ok(Claim::BeforeWatermark);
        }
        if state.used.get(key).is_some_and(|expires| *expires > now) {
            return Ok(Claim::Replayed);
        }
        state.used.insert(key.to_owned(), now + ttl_secs);
        Ok(Claim::Fresh)
    }
}

/// Open episodes; a transition reports whether it changed the state.
#[derive(Debug, Default)]
pub(crate) struct MemoryEpisodes {
    open: Mutex<HashMap<String, bool>>,
    pub(crate) outage: Outage,
}

#[async_trait]
impl EpisodeStore for MemoryEpisodes {
    async fn transition(&self, key: &str, open: bool, _now: i64) -> Result<bool, StoreError> {
        self.outage.check("episodes")?;
        let was = guard(&self.open).insert(key.to_owned(), open);
        Ok(was.unwrap_or(false) != open)
    }
}
