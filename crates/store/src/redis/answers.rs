//! Cached upstream answers in Redis, shared by every instance: `<prefix>answer:<digest>` holds
//! one answer, expiring with Redis's own clock a little after its `expires_at` (which kunci's
//! clock checks on every read).
//!
//! The value is a small binary record, read back defensively (Redis is shared, and anything in
//! it may be stale or foreign): `k1`, the status (2 bytes), `expires_at` (8 bytes), the content
//! type's length (2 bytes) and bytes, then the body. Big-endian throughout.

use async_trait::async_trait;
use kunci_domain::store::StoreError;
use kunci_domain::upstream::{AnswerCache, CachedAnswer};
use redis::aio::ConnectionManager;

use super::RedisServer;

const MAGIC: &[u8; 2] = b"k1";
/// The largest body kept: answers over it are not cached.
pub const MAX_CACHED_BODY: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct RedisAnswers {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisAnswers {
    pub fn new(server: &RedisServer) -> Result<Self, StoreError> {
        Ok(Self {
            conn: server.manager()?,
            prefix: server.prefix().to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}answer:{key}", self.prefix)
    }

    fn flight(&self, key: &str) -> String {
        format!("{}flight:{key}", self.prefix)
    }
}

/// Deletes a claim only if it is still the caller's (an expired claim may be someone else's).
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('DEL', KEYS[1]) else return 0 end";

/// The record of `answer`, or `None` when it cannot be kept (too large).
pub fn encode(answer: &CachedAnswer) -> Option<Vec<u8>> {
    let content_type = answer
        .content_type
        .as_deref()
        .unwrap_or_default()
        .as_bytes();
    let type_len = u16::try_from(content_type.len()).ok()?;
    if answer.body.len() > MAX_CACHED_BODY {
        return None;
    }
    let mut out = Vec::with_capacity(14 + content_type.len() + answer.body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&answer.status.to_be_bytes());
    out.extend_from_slice(&answer.expires_at.to_be_bytes());
    out.extend_from_slice(&type_len.to_be_bytes());
    out.extend_from_slice(content_type);
    out.extend_from_slice(&answer.body);
    Some(out)
}

/// Reads a record back; `None` for anything that is not one.
pub fn decode(bytes: &[u8]) -> Option<CachedAnswer> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (status, rest) = rest.split_first_chunk::<2>()?;
    let (expires_at, rest) = rest.split_first_chunk::<8>()?;
    let (type_len, rest) = rest.split_first_chunk::<2>()?;
    let type_len = usize::from(u16::from_be_bytes(*type_len));
    if rest.len() < type_len || rest.len() - type_len > MAX_CACHED_BODY {
        return None;
    }
    let (content_type, body) = rest.split_at(type_len);
    let status = u16::from_be_bytes(*status);
    if !(100..600).contains(&status) {
        return None;
    }
    let content_type = std::str::from_utf8(content_type).ok()?;
    Some(CachedAnswer {
        status,
        content_type: (!content_type.is_empty()).then(|| content_type.to_owned()),
        body: bytes::Bytes::copy_from_slice(body),
        expires_at: i64::from_be_bytes(*expires_at),
    })
}

#[async_trait]
impl AnswerCache for RedisAnswers {
    async fn get(&self, key: &str, now: i64) -> Result<Option<CachedAnswer>, StoreError> {
        let mut conn = self.conn.clone();
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        match decode(&bytes) {
            Some(answer) if answer.expires_at > now => Ok(Some(answer)),
            Some(_) => Ok(None),
            None => {
                tracing::warn!("a cached answer in Redis is unreadable: ignored");
                Ok(None)
            }
        }
    }

    async fn put(&self, key: &str, answer: &CachedAnswer, now: i64) -> Result<(), StoreError> {
        let ttl = answer.expires_at - now;
        let Some(record) = encode(answer).filter(|_| ttl > 0) else {
            return Ok(());
        };
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(record)
            .arg("EX")
            // A little longer than kunci's own expiry, which decides; Redis only collects.
            .arg(ttl + 5)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))
    }

    async fn claim(&self, key: &str, token: &str, secs: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.flight(key))
            .arg(token)
            .arg("NX")
            .arg("EX")
            .arg(secs.max(1))
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))?;
        Ok(set.is_some())
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(self.flight(key))
            .arg(token)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| StoreError::unavailable("redis", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> CachedAnswer {
        CachedAnswer {
            status: 200,
            content_type: Some("application/json; charset=UTF-8".to_owned()),
            body: bytes::Bytes::from_static(br#"{"items":[]}"#),
            expires_at: 1_700_000_000,
        }
    }

    #[test]
    fn records_round_trip() {
        let record = encode(&answer()).unwrap();
        assert_eq!(decode(&record), Some(answer()));
        let bare = CachedAnswer {
            content_type: None,
            body: bytes::Bytes::new(),
            ..answer()
        };
        assert_eq!(decode(&encode(&bare).unwrap()), Some(bare));
    }

    #[test]
    fn foreign_or_damaged_records_are_not_answers() {
        let record = encode(&answer()).unwrap();
        // Every truncation inside the header, and a content type longer than what follows.
        for cut in 0..14 {
            assert_eq!(decode(&record[..cut]), None, "cut at {cut}");
        }
        let mut long_type = record.clone();
        long_type[12..14].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(decode(&long_type), None);
        let mut bad_status = record.clone();
        bad_status[2..4].copy_from_slice(&42u16.to_be_bytes());
        assert_eq!(decode(&bad_status), None);
        let mut bad_utf8 = record;
        bad_utf8[14] = 0xff;
        assert_eq!(decode(&bad_utf8), None);
        assert_eq!(decode(b"k2whatever-else-entirely"), None);
        assert_eq!(decode(b"{\"status\":200}"), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn oversized_answers_are_not_kept() {
        let huge = CachedAnswer {
            body: bytes::Bytes::from(vec![b'x'; MAX_CACHED_BODY + 1]),
            ..answer()
        };
        assert_eq!(encode(&huge), None);
    }
}
