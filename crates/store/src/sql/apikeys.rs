//! The API-key pool in the SQL database. The pick is one statement: on PostgreSQL an `UPDATE`
//! of the row a `SELECT … FOR UPDATE SKIP LOCKED` chose (concurrent pickers take different
//! rows instead of queueing on one); on SQLite the same `UPDATE … RETURNING` inside
//! `BEGIN IMMEDIATE` (writers are serialised anyway). MariaDB has no `UPDATE … RETURNING`:
//! there the pick is a transaction of the same `SELECT … FOR UPDATE SKIP LOCKED`, the `UPDATE`
//! of that row and reading it back, all under the row lock.

use async_trait::async_trait;
use kunci_domain::apikeys::{ApiKey, ApiKeyStore, Day, KeyChange, KeyStatus, Verdict};
use kunci_domain::audit::Journal;
use kunci_domain::store::StoreError;

use super::audit::journaled;
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

/// Whether a key can be handed out at `now` in day `day` (placeholders): active, or waiting
/// no longer, and within its daily budget.
fn usable(now: &str, day: &str) -> String {
    format!(
        "(status = 'active' \
          OR (status IN ('cooling', 'quota_exceeded', 'probing') AND available_at <= {now})) \
         AND (daily_budget IS NULL OR budget_day IS NULL OR budget_day <> {day} \
              OR used_today < daily_budget)"
    )
}

/// The `limit` best usable keys of upstream `$1` at `$3` in day `$4`, not in the JSON array
/// `$2`, best first (never used, then least recently used: `last_used IS NOT NULL` sorts the
/// NULLs first on every backend).
fn candidates(exclude: &str, limit: u32) -> String {
    let usable = usable("$3", "$4");
    format!(
        "SELECT id, priority, last_used FROM api_keys \
         WHERE upstream = $1 AND id NOT IN ({exclude}) AND {usable} \
         ORDER BY priority DESC, last_used IS NOT NULL, last_used ASC, usage_count ASC, id \
         LIMIT {limit}"
    )
}

/// How many of the best keys a MariaDB pick tries in one round.
const MYSQL_TRIES: u32 = 32;
/// Rounds of candidates a MariaDB pick lists; the last one waits for held keys.
const MYSQL_ROUNDS: u32 = 3;

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

/// [`pick_sql`] on MariaDB/MySQL, on the row the locking read chose. Assignments run left to
/// right, each seeing the columns set before it: `budget_day` follows `used_today`, `status`
/// comes last.
const PICK_MYSQL: &str = "UPDATE api_keys SET usage_count = usage_count + 1, last_used = ?, \
       used_today = CASE WHEN budget_day = ? THEN used_today + 1 ELSE 1 END, \
       budget_day = ?, \
       available_at = CASE WHEN status = 'active' THEN available_at ELSE ? END, \
       status = CASE WHEN status = 'active' THEN 'active' ELSE 'probing' END \
     WHERE id = ?";

/// The later of the stored `available_at` and the time bound twice, as `$1` and `$2`.
const LATER: &str =
    "CASE WHEN available_at IS NULL OR available_at < $1 THEN $2 ELSE available_at END";

/// The candidates in the order a MariaDB pick tries them: the best ones (same priority, used
/// last at the same second, or never) start at a random one of them. Concurrent pickers list
/// at the same moment and would all start with the same key, taking it again as soon as it is
/// free; starting anywhere among the equals spreads them, as PostgreSQL's single statement
/// does by itself.
fn spread(listed: Vec<(String, i64, Option<i64>)>) -> Vec<String> {
    use std::hash::{BuildHasher as _, Hasher as _};
    let best = listed.first().map(|(_, p, used)| (*p, *used));
    let equals = listed
        .iter()
        .take_while(|(_, p, used)| Some((*p, *used)) == best)
        .count();
    // A fresh `RandomState` is seeded from the operating system: random enough to spread.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let start = usize::try_from(random % u64::try_from(equals.max(1)).unwrap_or(1)).unwrap_or(0);
    let mut ids: Vec<String> = listed.into_iter().map(|(id, _, _)| id).collect();
    ids[..equals].rotate_left(start);
    ids
}

/// The pick on MariaDB/MySQL. InnoDB locks every row a sorted locking read examines, so
/// `ORDER BY … LIMIT 1 FOR UPDATE SKIP LOCKED` would let one picker hold every key and the
/// others find none. Instead the best few are listed without locks, then tried one at a time
/// by primary key: lock the row if it is still usable, count the use, read it back, commit.
/// The first rounds skip rows another picker holds, in one transaction (it never waits, so it
/// cannot be part of a deadlock); the last round waits for them, each try in a transaction of
/// its own that holds nothing else while it waits, so a burst of requests on few keys queues
/// briefly instead of being told there is no key.
async fn pick_mysql(
    pool: &sqlx::MySqlPool,
    upstream: &str,
    excluded: &str,
    now: i64,
    day: Day,
    probe_until: i64,
) -> Result<Option<Row>, sqlx::Error> {
    let list = super::Dialect::MySql.sql(candidates(
        "SELECT listed.id FROM JSON_TABLE($2, '$[*]' COLUMNS (id VARCHAR(255) PATH '$')) AS listed",
        MYSQL_TRIES,
    ));
    let usable = usable("$2", "$3");
    let lock = |wait: &str| {
        super::Dialect::MySql.sql(format!(
            "SELECT id FROM api_keys WHERE id = $1 AND {usable} FOR UPDATE {wait}"
        ))
    };
    let (skip, wait) = (lock("SKIP LOCKED"), lock(""));
    let read_back =
        super::Dialect::MySql.sql(format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"));
    // One connection throughout: the list is read just before the locks are tried.
    let mut conn = pool.acquire().await?;
    for round in 0..MYSQL_ROUNDS {
        // Skipping never waits, so one transaction lists and tries every candidate; waiting
        // holds nothing else: a transaction of its own per candidate.
        let waits = round + 1 == MYSQL_ROUNDS;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let listed: Vec<(String, i64, Option<i64>)> = sqlx::query_as(list.clone())
            .bind(upstream)
            .bind(excluded)
            .bind(now)
            .bind(day.number)
            .fetch_all(&mut *tx)
            .await?;
        if listed.is_empty() {
            return Ok(None);
        }
        let ids = spread(listed);
        for (n, id) in ids.iter().enumerate() {
            if waits && n > 0 {
                tx.rollback().await?;
                tx = sqlx::Connection::begin(&mut *conn).await?;
            }
            let locked: Option<String> =
                sqlx::query_scalar(if waits { &wait } else { &skip }.clone())
                    .bind(id)
                    .bind(now)
                    .bind(day.number)
                    .fetch_optional(&mut *tx)
                    .await?;
            if locked.is_none() {
                continue;
            }
            sqlx::query(PICK_MYSQL)
                .bind(now)
                .bind(day.number)
                .bind(day.number)
                .bind(probe_until)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query_as(read_back.clone())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(row);
        }
        tx.rollback().await?;
    }
    Ok(None)
}

#[async_trait]
impl ApiKeyStore for Database {
    async fn insert(&self, k: &ApiKey, journal: &Journal) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        );
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(sql.clone()))
            .bind(&k.id).bind(&k.upstream).bind(&k.sealed).bind(&k.hash).bind(&k.masked)
            .bind(k.status.as_str()).bind(k.priority).bind(&k.quota_group).bind(k.usage_count)
            .bind(k.last_used).bind(k.created_at).bind(k.quota_exceeded_at).bind(k.available_at)
            .bind(&k.last_error).bind(k.daily_budget).bind(k.used_today).bind(k.budget_day)
            .execute(&mut *tx).await.map(drop).map_err(store_error))
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(self.sql(sql)).bind(id)
            .fetch_optional(pool).await)
        .map_err(store_error)?;
        row.map(decode).transpose()
    }

    async fn list(&self, upstream: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_keys WHERE $1 IS NULL OR upstream = $2 \
             ORDER BY upstream, priority DESC, created_at, id"
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(self.sql(sql))
            .bind(upstream).bind(upstream)
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
                    candidates("SELECT jsonb_array_elements_text($2::jsonb)", 1)
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
                let chosen = candidates("SELECT value FROM json_each($2)", 1);
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
            Database::MySql(pool) => {
                pick_mysql(pool, upstream, &excluded, now, day, now + probe_secs)
                    .await
                    .map_err(store_error)?
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
            Verdict::Served | Verdict::ClientError => {
                with_pool!(self, pool => sqlx::query(self.sql(
                    "UPDATE api_keys SET status = 'active', available_at = NULL, last_error = $1 \
                     WHERE id = $2 AND status IN ('active', 'probing')"))
                    .bind(&error).bind(id).execute(pool).await.map(drop))
                .map_err(store_error)
            }
            Verdict::Cooling { until } => {
                let sql = format!(
                    "UPDATE api_keys SET status = 'cooling', available_at = {LATER}, last_error = $3 \
                     WHERE id = $4 AND status IN ('active', 'probing', 'cooling')"
                );
                with_pool!(self, pool => sqlx::query(self.sql(sql)).bind(until).bind(until)
                    .bind(&error).bind(id)
                    .execute(pool).await.map(drop))
                .map_err(store_error)
            }
            Verdict::Invalid => with_pool!(self, pool => sqlx::query(self.sql(
                    "UPDATE api_keys SET status = 'invalid', available_at = NULL, last_error = $1 \
                     WHERE id = $2 AND status <> 'disabled'"))
                    .bind(&error).bind(id).execute(pool).await.map(drop))
            .map_err(store_error),
            Verdict::QuotaExceeded { until, group } => {
                if let Some(group) = group {
                    with_pool!(self, pool => sqlx::query(self.sql(
                        "UPDATE api_keys SET quota_group = $1 WHERE id = $2 AND quota_group IS NULL"))
                        .bind(group).bind(id).execute(pool).await.map(drop))
                    .map_err(store_error)?;
                }
                // The key itself, and every key sharing its quota group on the same upstream.
                // The group is read first: MySQL cannot update a table it reads in a subquery.
                let shared: Option<(String, Option<String>)> = with_pool!(self, pool =>
                    sqlx::query_as(self.sql("SELECT upstream, quota_group FROM api_keys WHERE id = $1"))
                    .bind(id).fetch_optional(pool).await)
                .map_err(store_error)?;
                let Some((upstream, group)) = shared else {
                    return Ok(());
                };
                let sql = format!(
                    "UPDATE api_keys SET available_at = {LATER}, status = 'quota_exceeded', \
                       quota_exceeded_at = $3, last_error = $4 \
                     WHERE status NOT IN ('disabled', 'invalid') \
                       AND (id = $5 OR (upstream = $6 AND quota_group = $7))"
                );
                with_pool!(self, pool => sqlx::query(self.sql(sql)).bind(until).bind(until)
                    .bind(now).bind(&error).bind(id).bind(&upstream).bind(&group)
                    .execute(pool).await.map(drop))
                .map_err(store_error)
            }
        }
    }

    async fn update(
        &self,
        id: &str,
        change: &KeyChange,
        journal: &Journal,
    ) -> Result<bool, StoreError> {
        let status = change.status.map(KeyStatus::as_str);
        let (set_group, group) = match &change.quota_group {
            Some(group) => (true, group.clone()),
            None => (false, None),
        };
        let (set_budget, budget) = match change.daily_budget {
            Some(budget) => (true, budget),
            None => (false, None),
        };
        // A status change clears the wait and the last error. (Assignments read the row as it
        // was on every backend here: none reads a column set before it.)
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(
            "UPDATE api_keys SET \
               available_at = CASE WHEN $1 IS NULL THEN available_at ELSE NULL END, \
               last_error = CASE WHEN $2 IS NULL THEN last_error ELSE NULL END, \
               status = COALESCE($3, status), \
               priority = COALESCE($4, priority), \
               quota_group = CASE WHEN $5 THEN $6 ELSE quota_group END, \
               daily_budget = CASE WHEN $7 THEN $8 ELSE daily_budget END \
             WHERE id = $9"))
            .bind(status).bind(status).bind(status).bind(change.priority).bind(set_group).bind(&group)
            .bind(set_budget).bind(budget).bind(id)
            .execute(&mut *tx).await.map(|r| r.rows_affected() == 1).map_err(store_error))
    }

    async fn count_use(
        &self,
        id: &str,
        now: i64,
        day: Day,
        journal: &Journal,
    ) -> Result<bool, StoreError> {
        // `used_today` is assigned before `budget_day`: MySQL's assignments see earlier ones.
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(
            "UPDATE api_keys SET last_used = $1, \
               used_today = CASE WHEN budget_day = $2 THEN used_today + 1 ELSE 1 END, \
               budget_day = $3, usage_count = usage_count + 1 WHERE id = $4"))
            .bind(now).bind(day.number).bind(day.number).bind(id).execute(&mut *tx).await
            .map(|r| r.rows_affected() > 0).map_err(store_error))
    }

    async fn delete(&self, id: &str, journal: &Journal) -> Result<bool, StoreError> {
        journaled!(self, Some(journal), tx => sqlx::query(self.sql("DELETE FROM api_keys WHERE id = $1"))
            .bind(id).execute(&mut *tx).await.map(|r| r.rows_affected() == 1)
            .map_err(store_error))
    }

    async fn earliest_available(
        &self,
        upstream: &str,
        now: i64,
        day: Day,
    ) -> Result<Option<i64>, StoreError> {
        let row: (Option<i64>,) = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT MIN(t) FROM ( \
               SELECT available_at AS t FROM api_keys WHERE upstream = $1 \
                 AND status IN ('cooling', 'quota_exceeded', 'probing') AND available_at > $2 \
               UNION ALL \
               SELECT $3 AS t FROM api_keys WHERE upstream = $4 AND status = 'active' \
                 AND daily_budget IS NOT NULL AND budget_day = $5 AND used_today >= daily_budget \
             ) AS waiting"))
            .bind(upstream).bind(now).bind(day.next_starts_at).bind(upstream).bind(day.number)
            .fetch_one(pool).await)
        .map_err(store_error)?;
        Ok(row.0)
    }
}
