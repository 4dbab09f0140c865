//! The [`SessionStore`] port and the [`Capabilities`] each store declares (shared, durable,
//! expires by itself), so the composition root can refuse a store that cannot give what the
//! deployment needs. Every backend passes the one conformance suite in `kunci-store`.

use async_trait::async_trait;

use super::SessionRecord;
use crate::store::StoreError;

/// What a store can do; kunci refuses configurations that need more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Several instances see the same sessions.
    pub shared: bool,
    /// Sessions survive a restart of kunci.
    pub durable: bool,
    /// The store forgets expired sessions by itself (no reaper needed).
    pub expires_by_itself: bool,
}

/// Where sessions live. Keys are [`super::SessionId::storage_key`] values; times are Unix
/// seconds. Every method fails with [`StoreError::Unavailable`] rather than pretending: a
/// session that cannot be read is not "absent".
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// The configuration name (`memory`, `sql`, `redis`, …).
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Stores a new session; [`StoreError::Conflict`] if the key is taken.
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// The session, or `None` when there is none or it has expired at `now`.
    async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>, StoreError>;

    /// Writes an existing session back (touch, scope change, data).
    async fn save(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// Removes a session; removing a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// The live sessions of an account.
    async fn list_by_account(&self, sub: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError>;

    /// Removes every session of an account; returns how many.
    async fn delete_by_account(&self, sub: &str) -> Result<u64, StoreError>;

    /// Removes expired sessions (for stores that do not expire by themselves).
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
}
