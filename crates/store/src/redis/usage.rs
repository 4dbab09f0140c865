//! Calls per account and upstream in Redis, for several instances without a shared SQL
//! database to count in (or to keep the counting off it): a sorted set `<prefix>usage` scored by
//! calls, members `<account id> <upstream>`, and a hash `<prefix>usage-last` with each member's
//! last call. Redis keeps what its persistence settings keep: without them, a restart of Redis
//! starts the leaderboard over.

use async_trait::async_trait;
use kunci_domain::store::StoreError;
use kunci_domain::usage::{UsageLine, UsageStore};
use redis::aio::ConnectionManager;

use super::RedisServer;

#[derive(Debug, Clone)]
pub struct RedisUsage {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisUsage {
    pub fn new(server: &RedisServer) -> Result<Self, StoreError> {
        Ok(Self {
            conn: server.manager()?,
            prefix: server.prefix().to_owned(),
        })
    }
}

/// Account ids and upstream names never hold a space.
fn member(account_id: &str, upstream: &str) -> String {
    format!("{account_id} {upstream}")
}

#[async_trait]
impl UsageStore for RedisUsage {
    async fn add(
        &self,
        account_id: &str,
        upstream: &str,
        calls: i64,
        last_call: i64,
    ) -> Result<(), StoreError> {
        let member = member(account_id, upstream);
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("ZINCRBY")
            .arg(format!("{}usage", self.prefix))
            .arg(calls)
            .arg(&member)
            .ignore()
            .cmd("HSET")
            .arg(format!("{}usage-last", self.prefix))
            .arg(&member)
            .arg(last_call)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))
    }

    async fn top(&self, limit: u32) -> Result<Vec<UsageLine>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        // Whole scores come back as integers (`"3"`).
        let ranked: Vec<(String, i64)> = redis::cmd("ZREVRANGE")
            .arg(format!("{}usage", self.prefix))
            .arg(0)
            .arg(i64::from(limit) - 1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))?;
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        let members: Vec<&str> = ranked.iter().map(|(m, _)| m.as_str()).collect();
        let last: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(format!("{}usage-last", self.prefix))
            .arg(&members)
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::unavailable("redis", e))?;
        let mut lines = Vec::with_capacity(ranked.len());
        for ((member, calls), last_call) in ranked.into_iter().zip(last) {
            let Some((account_id, upstream)) = member.split_once(' ') else {
                return Err(StoreError::corrupt(
                    "redis",
                    "a usage member without upstream",
                ));
            };
            lines.push(UsageLine {
                account_id: account_id.to_owned(),
                upstream: upstream.to_owned(),
                calls,
                last_call: last_call.unwrap_or_default(),
            });
        }
        // Most calls first; ties by account, as the SQL store orders them.
        lines.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.account_id.cmp(&b.account_id)));
        Ok(lines)
    }
}
