//! The throttle circuit in Redis, shared by every instance: `<prefix>circuit:{<upstream>}`, a
//! hash with `open_until` and `probe_until`, and `<prefix>circuit:{<upstream>}:recent`, a
//! sorted set of the quota groups throttled lately (scored by time). One Lua script per step,
//! so concurrent instances open the circuit once and send one probe. The `{…}` hash tag keeps
//! both keys in one slot of a Redis Cluster.

use async_trait::async_trait;
use kunci_domain::circuit::{Admit, CircuitPolicy, CircuitStore};
use kunci_domain::store::StoreError;
use redis::aio::ConnectionManager;

use super::RedisServer;

/// {0} closed, {1, until} open, {2} probe.
const ADMIT: &str = r"
local open = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open == 0 then return {0, 0} end
local now = tonumber(ARGV[1])
if now < open then return {1, open} end
local probe = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if probe > now then return {1, probe} end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[2]))
return {2, 0}
";

/// The time the circuit is open until when this answer opened it (or it is open), else 0.
const THROTTLED: &str = r"
local now = tonumber(ARGV[1])
local open_secs = tonumber(ARGV[5])
local keep = open_secs + tonumber(ARGV[6]) + 3600
local function open_now()
  local until_ = now + open_secs
  redis.call('HSET', KEYS[1], 'open_until', until_, 'probe_until', 0)
  redis.call('EXPIRE', KEYS[1], keep)
  redis.call('DEL', KEYS[2])
  return until_
end
local open = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open ~= 0 then
  if now < open then return open end
  return open_now()
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]) + 1)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return open_now()
end
return 0
";

const SERVED: &str = r"
local open = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open ~= 0 and tonumber(ARGV[1]) < open then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
";

#[derive(Debug, Clone)]
pub struct RedisCircuit {
    conn: ConnectionManager,
    prefix: String,
}

fn unavailable(err: redis::RedisError) -> StoreError {
    StoreError::unavailable("redis", err)
}

impl RedisCircuit {
    pub fn new(server: &RedisServer) -> Result<Self, StoreError> {
        Ok(Self {
            conn: server.manager()?,
            prefix: server.prefix().to_owned(),
        })
    }

    fn keys(&self, upstream: &str) -> (String, String) {
        let state = format!("{}circuit:{{{upstream}}}", self.prefix);
        let recent = format!("{state}:recent");
        (state, recent)
    }
}

#[async_trait]
impl CircuitStore for RedisCircuit {
    async fn admit(
        &self,
        upstream: &str,
        now: i64,
        policy: CircuitPolicy,
    ) -> Result<Admit, StoreError> {
        let (state, recent) = self.keys(upstream);
        let mut conn = self.conn.clone();
        let (kind, until): (i64, i64) = redis::cmd("EVAL")
            .arg(ADMIT)
            .arg(2)
            .arg(state)
            .arg(recent)
            .arg(now)
            .arg(policy.probe_secs)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match kind {
            0 => Admit::Closed,
            2 => Admit::Probe,
            _ => Admit::Open { until },
        })
    }

    async fn throttled(
        &self,
        upstream: &str,
        group: &str,
        now: i64,
        policy: CircuitPolicy,
    ) -> Result<Option<i64>, StoreError> {
        let (state, recent) = self.keys(upstream);
        let mut conn = self.conn.clone();
        let until: i64 = redis::cmd("EVAL")
            .arg(THROTTLED)
            .arg(2)
            .arg(state)
            .arg(recent)
            .arg(now)
            .arg(group)
            .arg(policy.groups)
            .arg(policy.window_secs)
            .arg(policy.open_secs)
            .arg(policy.probe_secs)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok((until > 0).then_some(until))
    }

    async fn served(&self, upstream: &str, now: i64) -> Result<(), StoreError> {
        let (state, recent) = self.keys(upstream);
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("EVAL")
            .arg(SERVED)
            .arg(2)
            .arg(state)
            .arg(recent)
            .arg(now)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
