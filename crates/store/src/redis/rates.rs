//! Rate limits in Redis: one GCRA step per request as a Lua script, atomic across instances.
//! The TAT lives under `<prefix>rate:<key>` and expires when it has passed (an absent key and
//! a passed TAT mean the same: a full burst).

use async_trait::async_trait;
use kunci_domain::ratelimit::{Decision, Rate, RateStore};
use kunci_domain::store::StoreError;
use redis::aio::ConnectionManager;

use super::RedisServer;

/// Times in microseconds. Returns -1 to allow, else the microseconds until a request would
/// be allowed.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local allow_at = tat - tolerance
if now < allow_at then
  return allow_at - now
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', math.floor((next_tat - now) / 1000) + 1000)
return -1
";

#[derive(Debug, Clone)]
pub struct RedisRates {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisRates {
    pub fn new(server: &RedisServer) -> Result<Self, StoreError> {
        Ok(Self {
            conn: server.manager()?,
            prefix: server.prefix().to_owned(),
        })
    }
}

#[async_trait]
impl RateStore for RedisRates {
    async fn check(&self, key: &str, rate: Rate, now_us: i64) -> Result<Decision, StoreError> {
        let mut conn = self.conn.clone();
        let answer: i64 = redis::cmd("EVAL")
            .arg(GCRA)
            .arg(1)
            .arg(format!("{}rate:{key}", self.prefix))
            .arg(now_us)
            .arg(rate.interval_us)
            .arg(rate.tolerance_us())
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))?;
        Ok(if answer < 0 {
            Decision::Allow
        } else {
            Decision::Deny {
                retry_after_ms: (answer + 999) / 1000,
            }
        })
    }
}
