//! The API-key pool in the SQL database. The pick is one statement: on PostgreSQL an `UPDATE`
//! of the row a `SELECT … FOR UPDATE SKIP LOCKED` chose (concurrent pickers take different
//! rows instead of queueing on one); on SQLite the same `UPDATE … RETURNING` inside
//! `BEGIN IMMEDIATE` (writers are serialised anyway).

use async_trait::async_trait;
use kunci_domain::apikeys::{ApiKey, ApiKeyStore, Day, KeyChange, KeyStatus, Verdict};
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

const COLUMNS: &str = "id, upstream, sealed, hash, masked, status, priority, quota_group, \
     usage_count, last_used, created_at, quota_exceeded_at, available_at, last_error, \
     daily_budget, used_today, budget_day";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    upstream: String,
    sealed: String,
    hash: String,
    masked: String,
    status: String,
    priority: i64,
    quota_group: Option<String>,
    usage_count: i64,
    last_used: Option<i64>,
    created_at: i64,
    quota_exceeded_at: Option<i64>,
    available_at: Option<i64>,
    last_error: Option<String>,
    daily_budget: Option<i64>,
    used_today: i64,
    budget_day: Option<i64>,
}

fn decode(r: Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        status: KeyStatus::parse(&r.status)
            .ok_or_else(|| StoreError::corrupt("sql", "api_keys holds an unknown status"))?,
        id: r.id,
        upstream: r.upstream,
        sealed: r.sealed,
        hash: r.hash,
        masked: r.masked,
        priority: r.priority,
        quota_group: r.quota_group,
        usage_count: r.usage_count,
        last_used: r.last_used,
        created_at: r.created_at,
        quota_exceeded_at: r.quota_exceeded_at,
        available_at: r.available_at,
        last_error: r.last_error,
        daily_budget: r.daily_budget,
        used_today: r.used_today,
        budget_day: r.budget_day,
    })
}

/// The usable key of upstream `$1` at `$3` in day `$4`, not in the JSON array `$2`, best first.
fn candidates(exclude: &str) -> String {
    format!(
        "SELECT id FROM api_keys \
         WHERE upstream = $1 AND id NOT IN ({exclude}) \
           AND (status = 'active' \
                OR (status IN ('cooling', 'quota_exceeded', 'probing') AND available_at <= $3)) \
           AND (daily_budget IS NULL OR budget_day IS NULL OR budget_day <> $4 \
                OR used_today < daily_budget) \
         ORDER BY priority DESC, last_used ASC NULLS FIRST, usage_count ASC, id LIMIT 1"
    )
}

/// Counts the use of the chosen key (in day `$4`); a recovering key becomes the probe until
/// `$5`. (Placeholders are numbered in the order they first appear, for SQLite's sake.)
fn pick_sql(chosen: &str) -> String {
    format!(
        "WITH chosen AS ({chosen}) \
         UPDATE api_keys SET usage_count = usage_count + 1, last_used = $3, \
           used_today = CASE WHEN budget_day = $4 THEN used_today + 1 ELSE 1 END, \
           budget_day = $4, \
           available_at = CASE WHEN status = 'active' THEN available_at ELSE $5 END, \
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
            "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ));
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&k.id).bind(&k.upstream).bind(&k.sealed).bind(&k.hash).bind(&k.masked)
            .bind(k.status.as_str()).bind(k.priority).bind(&k.quota_group).bind(k.usage_count)
            .bind(k.last_used).bind(k.created_at).bind(k.quota_exceeded_at).bind(k.available_at)
            .bind(&k.last_error).bind(k.daily_budget).bind(k.used_today).bind(k.budget_day)
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
        day: Day,
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
                    .bind(day.number)
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
                    .bind(day.number)
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
        let (set_budget, budget) = match change.daily_budget {
            Some(budget) => (true, budget),
            None => (false, None),
        };
        with_pool!(self, pool => sqlx::query(
            "UPDATE api_keys SET \
               available_at = CASE WHEN $1 IS NULL THEN available_at ELSE NULL END, \
               last_error = CASE WHEN $1 IS NULL THEN last_error ELSE NULL END, \
               status = COALESCE($1, status), \
               priority = COALESCE($2, priority), \
               quota_group = CASE WHEN $3 THEN $4 ELSE quota_group END, \
               daily_budget = CASE WHEN $5 THEN $6 ELSE daily_budget END \
             WHERE id = $7")
            .bind(status).bind(change.priority).bind(set_group).bind(&group)
            .bind(set_budget).bind(budget).bind(id)
            .execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn count_use(&self, id: &str, now: i64, day: Day) -> Result<bool, StoreError> {
        let done = with_pool!(self, pool => sqlx::query(
            "UPDATE api_keys SET last_used = $1, \
               used_today = CASE WHEN budget_day = $2 THEN used_today + 1 ELSE 1 END, \
               budget_day = $2, usage_count = usage_count + 1 WHERE id = $3")
            .bind(now).bind(day.number).bind(id).execute(pool).await
            .map(|r| r.rows_affected() > 0))
        .map_err(store_error)?;
        Ok(done)
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
        day: Day,
    ) -> Result<Option<i64>, StoreError> {
        let row: (Option<i64>,) = with_pool!(self, pool => sqlx::query_as(
            "SELECT MIN(t) FROM ( \
               SELECT available_at AS t FROM api_keys WHERE upstream = $1 \
                 AND status IN ('cooling', 'quota_exceeded', 'probing') AND available_at > $2 \
               UNION ALL \
               SELECT $3 AS t FROM api_keys WHERE upstream = $1 AND status = 'active' \
                 AND daily_budget IS NOT NULL AND budget_day = $4 AND used_today >= daily_budget \
             ) AS waiting")
            .bind(upstream).bind(now).bind(day.next_starts_at).bind(day.number).fetch_one(pool).await)
        .map_err(store_error)?;
        Ok(row.0)
    }
}
