//! Calls per account and upstream in the SQL database.

use async_trait::async_trait;
use kunci_domain::store::StoreError;
use kunci_domain::usage::{UsageLine, UsageStore};

use super::{Database, Dialect, store_error, with_pool};

const ADD: &str = "INSERT INTO upstream_usage (account_id, upstream, calls, last_call) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (account_id, upstream) DO UPDATE SET calls = upstream_usage.calls + excluded.calls, \
     last_call = CASE WHEN excluded.last_call > upstream_usage.last_call \
       THEN excluded.last_call ELSE upstream_usage.last_call END";

const ADD_MYSQL: &str = "INSERT INTO upstream_usage (account_id, upstream, calls, last_call) \
     VALUES (?, ?, ?, ?) \
     ON DUPLICATE KEY UPDATE calls = calls + VALUES(calls), \
     last_call = GREATEST(last_call, VALUES(last_call))";

#[async_trait]
impl UsageStore for Database {
    async fn add(
        &self,
        account_id: &str,
        upstream: &str,
        calls: i64,
        last_call: i64,
    ) -> Result<(), StoreError> {
        let sql = match self.dialect() {
            Dialect::MySql => ADD_MYSQL,
            Dialect::Numbered => ADD,
        };
        with_pool!(self, pool => sqlx::query(sql)
            .bind(account_id).bind(upstream).bind(calls).bind(last_call)
            .execute(pool).await.map(drop))
        .map_err(store_error)
    }

    async fn top(&self, limit: u32) -> Result<Vec<UsageLine>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> =
            with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT account_id, upstream, calls, last_call FROM upstream_usage \
             ORDER BY calls DESC, account_id LIMIT $1"))
            .bind(i64::from(limit)).fetch_all(pool).await)
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(account_id, upstream, calls, last_call)| UsageLine {
                account_id,
                upstream,
                calls,
                last_call,
            })
            .collect())
    }
}
