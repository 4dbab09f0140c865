//! The `redis` session store: shared by every instance, expiring by itself (key TTLs).

use async_trait::async_trait;
use kunci_domain::session::{Capabilities, SessionRecord, SessionStore};
use kunci_domain::store::StoreError;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

use super::RedisServer;

/// Sessions in Redis (`data.session_store = "redis"`): `<prefix>session:<key>` with the
/// session's expiry as the key's TTL, and `<prefix>account-sessions:<sub>`, a set indexing an
/// account's sessions for listing and "log out everywhere". The index is pruned lazily.
#[derive(Debug, Clone)]
pub struct RedisSessions {
    conn: ConnectionManager,
    prefix: String,
}

fn unavailable(err: redis::RedisError) -> StoreError {
    StoreError::unavailable("redis", err)
}

impl RedisSessions {
    pub fn new(server: &RedisServer) -> Result<Self, StoreError> {
        Ok(Self {
            conn: server.manager()?,
            prefix: server.prefix().to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}session:{key}", self.prefix)
    }

    fn index(&self, sub: &str) -> String {
        format!("{}account-sessions:{sub}", self.prefix)
    }

    async fn index_record(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let Some(sub) = &record.sub else {
            return Ok(());
        };
        let index = self.index(sub);
        let ttl = i64::try_from(record.ttl(record.last_seen)).unwrap_or(i64::MAX);
        let mut conn = self.conn.clone();
        redis::pipe()
            .sadd(&index, &record.key)
            .ignore()
            // The index lives at least as long as the longest session in it.
            .cmd("EXPIRE")
            .arg(&index)
            .arg(ttl)
            .arg("GT")
            .ignore()
            .cmd("EXPIRE")
            .arg(&index)
            .arg(ttl)
            .arg("NX")
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }
}

fn encode(record: &SessionRecord) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::corrupt("redis", e))
}

fn decode(text: &str) -> Result<SessionRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt("redis", e))
}

#[async_trait]
impl SessionStore for RedisSessions {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared: true,
            durable: true,
            expires_by_itself: true,
        }
    }

    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(&record.key))
            .arg(encode(record)?)
            .arg("NX")
            .arg("EX")
            .arg(record.ttl(record.last_seen))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if set.is_none() {
            return Err(StoreError::Conflict);
        }
        self.index_record(record).await
    }

    async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let key = self.key(key);
        let text: Option<String> = super::once_more(|| {
            let (mut conn, key) = (self.conn.clone(), key.clone());
            async move { conn.get(key).await }
        })
        .await
        .map_err(unavailable)?;
        Ok(text
            .as_deref()
            .map(decode)
            .transpose()?
            .filter(|r| !r.is_expired(now)))
    }

    async fn save(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let (key, text) = (self.key(&record.key), encode(record)?);
        // XX: only an existing session is written back, never one destroyed meanwhile. Setting
        // the same value twice is harmless, so a dropped connection is retried.
        let _: Option<String> = super::once_more(|| {
            let mut conn = self.conn.clone();
            let command = redis::cmd("SET")
                .arg(&key)
                .arg(&text)
                .arg("XX")
                .arg("EX")
                .arg(record.ttl(record.last_seen))
                .clone();
            async move { command.query_async(&mut conn).await }
        })
        .await
        .map_err(unavailable)?;
        self.index_record(record).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.del::<_, ()>(self.key(key)).await.map_err(unavailable)
    }

    async fn list_by_account(&self, sub: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let index = self.index(sub);
        let keys: Vec<String> = conn.smembers(&index).await.map_err(unavailable)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let texts: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&full)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut found = Vec::new();
        let mut gone = Vec::new();
        for (key, text) in keys.iter().zip(texts) {
            match text.as_deref().map(decode).transpose()? {
                Some(record) if !record.is_expired(now) && record.sub.as_deref() == Some(sub) => {
                    found.push(record);
                }
                _ => gone.push(key.clone()),
            }
        }
        if !gone.is_empty() {
            conn.srem::<_, _, ()>(&index, gone)
                .await
                .map_err(unavailable)?;
        }
        found.sort_by_key(|r| r.expires_at);
        Ok(found)
    }

    async fn delete_by_account(&self, sub: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let index = self.index(sub);
        let keys: Vec<String> = conn.smembers(&index).await.map_err(unavailable)?;
        let mut full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        full.push(index);
        let removed: u64 = conn.del(&full).await.map_err(unavailable)?;
        Ok(removed.saturating_sub(1))
    }

    async fn purge_expired(&self, _: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
}
