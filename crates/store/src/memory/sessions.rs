//! The `memory` session store: one process's map (not shared, lost on restart).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use kunci_domain::session::{Capabilities, SessionRecord, SessionStore};
use kunci_domain::store::StoreError;

/// Sessions in a map in this process (`data.session_store = "memory"`).
#[derive(Debug, Default)]
pub struct MemorySessions {
    map: Mutex<HashMap<String, SessionRecord>>,
}

impl MemorySessions {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionRecord>> {
        // A panic while holding the lock cannot leave a half-written record: every write is
        // one insert or remove.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared: false,
            durable: false,
            expires_by_itself: false,
        }
    }

    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let mut map = self.map();
        if map.contains_key(&record.key) {
            return Err(StoreError::Conflict);
        }
        map.insert(record.key.clone(), record.clone());
        Ok(())
    }

    async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.map().get(key).filter(|r| !r.is_expired(now)).cloned())
    }

    async fn save(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let mut map = self.map();
        if let Some(slot) = map.get_mut(&record.key) {
            *slot = record.clone();
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.map().remove(key);
        Ok(())
    }

    async fn list_by_account(&self, sub: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let mut found: Vec<SessionRecord> = self
            .map()
            .values()
            .filter(|r| r.sub.as_deref() == Some(sub) && !r.is_expired(now))
            .cloned()
            .collect();
        found.sort_by_key(|r| r.expires_at);
        Ok(found)
    }

    async fn delete_by_account(&self, sub: &str) -> Result<u64, StoreError> {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, r| r.sub.as_deref() != Some(sub));
        Ok(u64::try_from(before - map.len()).unwrap_or(u64::MAX))
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, r| !r.is_expired(now));
        Ok(u64::try_from(before - map.len()).unwrap_or(u64::MAX))
    }
}
