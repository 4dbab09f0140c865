//! The `memcached` session store, over this crate's small text-protocol client.

use async_trait::async_trait;
use kunci_domain::session::{Capabilities, SessionRecord, SessionStore};
use kunci_domain::store::StoreError;

use super::{Memcached, Stored};

/// Sessions in memcached (`data.session_store = "memcached"`): `<prefix>session:<key>` with
/// the session's expiry, and `<prefix>account-sessions:<sub>`, a space-separated list of keys
/// (appended to, pruned when listed) for "log out everywhere".
#[derive(Debug)]
pub struct MemcachedSessions {
    server: Memcached,
}

impl MemcachedSessions {
    pub fn new(server: Memcached) -> Self {
        Self { server }
    }

    fn key(&self, key: &str) -> String {
        format!("{}session:{key}", self.server.prefix())
    }

    fn index(&self, sub: &str) -> String {
        format!("{}account-sessions:{sub}", self.server.prefix())
    }

    async fn index_record(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let Some(sub) = &record.sub else {
            return Ok(());
        };
        let index = self.index(sub);
        let entry = format!(" {}", record.key);
        if self.server.append(&index, entry.as_bytes()).await? == Stored::No {
            let ttl = u64::try_from(record.absolute_expires_at - record.last_seen)
                .unwrap_or(1)
                .max(1);
            if self
                .server
                .store("add", &index, entry.as_bytes(), ttl, record.last_seen)
                .await?
                == Stored::No
            {
                // Created by a concurrent request between the two commands.
                self.server.append(&index, entry.as_bytes()).await?;
            }
        }
        Ok(())
    }

    async fn indexed(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        let index = self.server.get(&self.index(sub)).await?.unwrap_or_default();
        let mut keys: Vec<String> = String::from_utf8_lossy(&index)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

fn encode(record: &SessionRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| StoreError::corrupt("memcached", e))
}

fn decode(bytes: &[u8]) -> Result<SessionRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt("memcached", e))
}

#[async_trait]
impl SessionStore for MemcachedSessions {
    fn name(&self) -> &'static str {
        "memcached"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared: true,
            durable: false,
            expires_by_itself: true,
        }
    }

    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let ttl = record.ttl(record.last_seen);
        match self
            .server
            .store(
                "add",
                &self.key(&record.key),
                &encode(record)?,
                ttl,
                record.last_seen,
            )
            .await?
        {
            Stored::Yes => self.index_record(record).await,
            Stored::No => Err(StoreError::Conflict),
        }
    }

    async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let bytes = self.server.get(&self.key(key)).await?;
        Ok(bytes
            .as_deref()
            .map(decode)
            .transpose()?
            .filter(|r| !r.is_expired(now)))
    }

    async fn save(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let ttl = record.ttl(record.last_seen);
        // replace: only an existing session is written back, never one destroyed meanwhile.
        if self
            .server
            .store(
                "replace",
                &self.key(&record.key),
                &encode(record)?,
                ttl,
                record.last_seen,
            )
            .await?
            == Stored::Yes
        {
            self.index_record(record).await?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.server.delete(&self.key(key)).await
    }

    async fn list_by_account(&self, sub: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let mut found = Vec::new();
        for key in self.indexed(sub).await? {
            if let Some(record) = self.load(&key, now).await?
                && record.sub.as_deref() == Some(sub)
            {
                found.push(record);
            }
        }
        found.sort_by_key(|r| r.expires_at);
        Ok(found)
    }

    async fn delete_by_account(&self, sub: &str) -> Result<u64, StoreError> {
        let mut removed = 0;
        for key in self.indexed(sub).await? {
            let owned = self
                .server
                .get(&self.key(&key))
                .await?
                .as_deref()
                .map(decode)
                .transpose()?;
            if owned.is_some_and(|r| r.sub.as_deref() == Some(sub)) {
                self.delete(&key).await?;
                removed += 1;
            }
        }
        self.server.delete(&self.index(sub)).await?;
        Ok(removed)
    }

    async fn purge_expired(&self, _: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
}
