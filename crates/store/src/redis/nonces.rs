//! Request nonces in Redis: `SET NX EX` under `<prefix>nonce:<client>:<nonce>`, behind the
//! store's watermark `<prefix>nonce-watermark`: the time this Redis started remembering nonces.
//! A Redis that was flushed or restarted without its data has no watermark; the first claim
//! after that sets it to now, and requests signed before it are refused (they may have been
//! seen before the flush).

use async_trait::async_trait;
use kunci_domain::clients::{Claim, NonceStore};
use kunci_domain::store::StoreError;
use redis::aio::ConnectionManager;

use super::RedisServer;

/// Watermark check and claim in one atomic step. Returns 0 fresh, 1 replayed, 2 before the
/// watermark.
const CLAIM: &str = r"
local watermark = redis.call('GET', KEYS[1])
if not watermark then
  redis.call('SET', KEYS[1], ARGV[1])
  watermark = ARGV[1]
end
if tonumber(ARGV[2]) < tonumber(watermark) then
  return 2
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  return 0
end
return 1
";

#[derive(Debug, Clone)]
pub struct RedisNonces {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisNonces {
    pub fn new(server: &RedisServer) -> Result<Self, StoreError> {
        Ok(Self {
            conn: server.manager()?,
            prefix: server.prefix().to_owned(),
        })
    }
}

#[async_trait]
impl NonceStore for RedisNonces {
    async fn claim(
        &self,
        key: &str,
        timestamp: i64,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Claim, StoreError> {
        let mut conn = self.conn.clone();
        let answer: i64 = redis::cmd("EVAL")
            .arg(CLAIM)
            .arg(2)
            .arg(format!("{}nonce-watermark", self.prefix))
            .arg(format!("{}nonce:{key}", self.prefix))
            .arg(now)
            .arg(timestamp)
            .arg(ttl_secs)
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))?;
        match answer {
            0 => Ok(Claim::Fresh),
            1 => Ok(Claim::Replayed),
            2 => Ok(Claim::BeforeWatermark),
            other => Err(StoreError::corrupt(
                "redis",
                format!("unexpected answer {other}"),
            )),
        }
    }
}
