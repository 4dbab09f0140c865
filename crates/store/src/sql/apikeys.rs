//! The API-key pool in the SQL database. The pick is one statement: on PostgreSQL an `UPDATE`
//! of the row a `SELECT … FOR UPDATE SKIP LOCKED` chose (concurrent pickers take different
//! rows instead of queueing on one); on SQLite the same `UPDATE … RETURNING` inside
//! `BEGIN IMMEDIATE` (writers are serialised anyway).

use async_trait::async_trait;
use kunci_domain::apikeys::{ApiKey, ApiKeyStore, KeyChange, KeyStatus, Verdict};
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

const COLUMNS: &str = "id, upstream, sealed, hash, masked, status, priority, quota_group, \
     usage_count, last_used, created_at, quota_exceeded_at, available_at, last_error";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn decode(r: Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: r.0,
        upstream: r.1,
        sealed: r.2,
        hash: r.3,
        masked: r.4,
        status: KeyStatus::parse(&r.5)
            .ok_or_else(|| StoreError::corrupt("sql", "api_keys holds an unknown status"))?,
        priority: r.6,
        quota_group: r.7,
        usage_count: r.8,
        last_used: r.9,
        created_at: r.10,
        quota_exceeded_at: r.11,
        available_at: r.12,
        last_error: r.13,
    })
}

/// The usable key of upstream `$1` at `$3`, not in the JSON array `$2`, best first.
fn candidates(exclude: &str) -> String {
    format!(
        "SELECT id FROM api_keys \
         WHERE upstream = $1 AND id NOT IN ({exclude}) \
           AND (status = 'active' \
                OR (status IN ('cooling', 'quota_exceeded', 'probing') AND available_at <= $3)) \
         ORDER BY priority DESC, last_used ASC NULLS FIRST, usage_count ASC, id LIMIT 1"
    )
}

/// Counts the use of the chosen key; a recovering key becomes the probe until `$4`.
/// (Placeholders are numbered in the order they first appear, for SQLite's sake.)
fn pick_sql(chosen: &str) -> String {
    format!(
        "WITH chosen AS ({chosen}) \
         UPDATE api_keys SET usage_count = usage_count + 1, last_used = $3, \
           available_at = CASE WHEN status = 'active' THEN available_at ELSE $4 END, \
           status = CASE WHEN status = 'active' THEN 'active' ELSE 'probing' END \
         WHERE id = (SELECT id FROM chosen) RETURNING {COLUMNS}"
    )
}

/// The later of the stored `available_at` and `$until`.
const LATER: &str =
    "CASE WHEN available_at IS NULL OR available_at < $1 THEN $1 ELSE available_at END";

#[async_trait]
impl ApiKeyStore for Database {
    async fn insert(&self, k: &ApiKey) -> Result<(), StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ));
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&k.id).bind(&k.upstream).bind(&k.sealed).bind(&k.hash).bind(&k.masked)
            .bind(k.status.as_str()).bind(k.priority).bind(&k.quota_group).bind(k.usage_count)
            .bind(k.last_used).bind(k.created_at).bind(k.quota_exceeded_at).bind(k.available_at)
            .bind(&k.last_error)
            .execute(pool).await.map(drop))
        .map_err(store_error)
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"));
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(sql).bind(id)
            .fetch_optional(pool).await)
        .map_err(store_error)?;
        row.map(decode).transpose()
    }

    async fn list(&self, upstream: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_keys WHERE $1 IS NULL OR upstream = $1 \
             ORDER BY upstream, priority DESC, created_at, id"
        ));
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sql).bind(upstream)
            .fetch_all(pool).await)
        .map_err(store_error)?;
        rows.into_iter().map(decode).collect()
    }

    async fn pick(
        &self,
        upstream: &str,
        exclude: &[String],
        now: i64,
        probe_secs: i64,
    ) -> Result<Option<ApiKey>, StoreError> {
        let excluded = serde_json::to_string(exclude).unwrap_or_else(|_| "[]".to_owned());
        let row: Option<Row> = match self {
            Database::Postgres(pool) => {
                let chosen = format!(
                    "{} FOR UPDATE SKIP LOCKED",
                    candidates("SELECT jsonb_array_elements_text($2::jsonb)")
                );
                sqlx::query_as(sqlx::AssertSqlSafe(pick_sql(&chosen)))
                    .bind(upstream)
                    .bind(&excluded)
                    .bind(now)
                    .bind(now + probe_secs)
                    .fetch_optional(pool)
                    .await
                    .map_err(store_error)?
            }
            Database::Sqlite(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(store_error)?;
                let chosen = candidates("SELECT value FROM json_each($2)");
                let row = sqlx::query_as(sqlx::AssertSqlSafe(pick_sql(&chosen)))
                    .bind(upstream)
                    .bind(&excluded)
                    .bind(now)
                    .bind(now + probe_secs)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                row
            }
        };
        row.map(decode).transpose()
    }

    async fn mark(
        &self,
        id: &str,
        verdict: &Verdict,
        error: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let error = error.map(|e| e.chars().take(200).collect::<String>());
        match verdict {
            Verdict::Served | Verdict::ClientError => with_pool!(self, pool => sqlx::query(
                    "UPDATE api_keys SET status = 'active', available_at = NULL, last_error = $1 \
                     WHERE id = $2 AND status IN ('active', 'probing')")
                    .bind(&error).bind(id).execute(pool).await.map(drop))
            .map_err(store_error),
            Verdict::Cooling { until } => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "UPDATE api_keys SET status = 'cooling', available_at = {LATER}, last_error = $2 \
                     WHERE id = $3 AND status IN ('active', 'probing', 'cooling')"
                ));
                with_pool!(self, pool => sqlx::query(sql).bind(until).bind(&error).bind(id)
                    .execute(pool).await.map(drop))
                .map_err(store_error)
            }
            Verdict::Invalid => with_pool!(self, pool => sqlx::query(
                    "UPDATE api_keys SET status = 'invalid', available_at = NULL, last_error = $1 \
                     WHERE id = $2 AND status <> 'disabled'")
                    .bind(&error).bind(id).execute(pool).await.map(drop))
            .map_err(store_error),
            Verdict::QuotaExceeded { until, group } => {
                if let Some(group) = group {
                    with_pool!(self, pool => sqlx::query(
                        "UPDATE api_keys SET quota_group = $1 WHERE id = $2 AND quota_group IS NULL")
                        .bind(group).bind(id).execute(pool).await.map(drop))
                    .map_err(store_error)?;
                }
                // The key itself, and every key sharing its quota group on the same upstream.
                let sql = sqlx::AssertSqlSafe(format!(
                    "UPDATE api_keys SET available_at = {LATER}, status = 'quota_exceeded', \
                       quota_exceeded_at = $2, last_error = $3 \
                     WHERE status NOT IN ('disabled', 'invalid') AND (id = $4 OR (quota_group IS NOT NULL \
                       AND (upstream, quota_group) IN (SELECT upstream, quota_group FROM api_keys WHERE id = $4)))"
                ));
                with_pool!(self, pool => sqlx::query(sql).bind(until).bind(now).bind(&error).bind(id)
                    .execute(pool).await.map(drop))
                .map_err(store_error)
            }
        }
    }

    async fn update(&self, id: &str, change: &KeyChange) -> Result<bool, StoreError> {
        let status = change.status.map(KeyStatus::as_str);
        let (set_group, group) = match &change.quota_group {
            Some(group) => (true, group.clone()),
            None => (false, None),
        };
        with_pool!(self, pool => sqlx::query(
            "UPDATE api_keys SET \
               available_at = CASE WHEN $1 IS NULL THEN available_at ELSE NULL END, \
               last_error = CASE WHEN $1 IS NULL THEN last_error ELSE NULL END, \
               status = COALESCE($1, status), \
               priority = COALESCE($2, priority), \
               quota_group = CASE WHEN $3 THEN $4 ELSE quota_group END \
             WHERE id = $5")
            .bind(status).bind(change.priority).bind(set_group).bind(&group).bind(id)
            .execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn earliest_available(
        &self,
        upstream: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row: (Option<i64>,) = with_pool!(self, pool => sqlx::query_as(
            "SELECT MIN(available_at) FROM api_keys WHERE upstream = $1 \
             AND status IN ('cooling', 'quota_exceeded', 'probing') AND available_at > $2")
            .bind(upstream).bind(now).fetch_one(pool).await)
        .map_err(store_error)?;
        Ok(row.0)
    }
}
