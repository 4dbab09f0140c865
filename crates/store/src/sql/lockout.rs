//! Login attempts and locks in the SQL database.

use async_trait::async_trait;
use kunci_domain::lockout::{LockoutPolicy, LockoutStore, Reserved};
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

/// Counts one attempt: a new window when the last one (or the last lock) is over. Locked rows
/// are not touched: the `WHERE` makes the upsert return nothing.
const RESERVE: &str = "INSERT INTO login_attempts (\"key\", attempts, window_start, locked_until) \
     VALUES ($1, 1, $2, NULL) \
     ON CONFLICT (\"key\") DO UPDATE SET \
       attempts = CASE WHEN login_attempts.window_start + $3 <= $2 \
                         OR login_attempts.locked_until IS NOT NULL \
                       THEN 1 ELSE login_attempts.attempts + 1 END, \
       window_start = CASE WHEN login_attempts.window_start + $3 <= $2 \
                             OR login_attempts.locked_until IS NOT NULL \
                           THEN $2 ELSE login_attempts.window_start END, \
       locked_until = NULL \
     WHERE login_attempts.locked_until IS NULL OR login_attempts.locked_until <= $2 \
     RETURNING attempts";

/// MySQL has no conditional upsert that returns the row: the row is made to exist first (with
/// no attempt counted), then counted under its row lock and read back in one transaction. The
/// assignments run left to right, each seeing the columns the earlier ones set: `locked_until`
/// is cleared last.
const ENSURE_MYSQL: &str = "INSERT IGNORE INTO login_attempts (\"key\", attempts, window_start, \
     locked_until) VALUES (?, 0, ?, NULL)";
const COUNT_MYSQL: &str = "UPDATE login_attempts SET \
       attempts = CASE WHEN window_start + ? <= ? OR locked_until IS NOT NULL \
                       THEN 1 ELSE attempts + 1 END, \
       window_start = CASE WHEN window_start + ? <= ? OR locked_until IS NOT NULL \
                           THEN ? ELSE window_start END, \
       locked_until = NULL \
     WHERE \"key\" = ? AND (locked_until IS NULL OR locked_until <= ?)";
const COUNTED_MYSQL: &str = "SELECT attempts FROM login_attempts WHERE \"key\" = ?";

const LOCK: &str = "UPDATE login_attempts SET locked_until = $1 \
     WHERE \"key\" = $2 AND (locked_until IS NULL OR locked_until <= $3)";

const LOCKED_UNTIL: &str =
    "SELECT locked_until FROM login_attempts WHERE \"key\" = $1 AND locked_until > $2";

#[async_trait]
impl LockoutStore for Database {
    async fn reserve(
        &self,
        key: &str,
        policy: LockoutPolicy,
        now: i64,
    ) -> Result<Reserved, StoreError> {
        let counted: Option<(i64,)> = with_pool!(self,
            pool => sqlx::query_as(RESERVE)
                .bind(key).bind(now).bind(policy.window_secs)
                .fetch_optional(pool).await,
            MySql(pool) => reserve_mysql(pool, key, policy.window_secs, now).await)
        .map_err(store_error)?;
        match counted {
            Some((attempts,)) if attempts <= i64::from(policy.limit) => Ok(Reserved::Allowed(
                u32::try_from(attempts).unwrap_or(u32::MAX),
            )),
            // Past the limit while unlocked: `limit` attempts are in flight (their failures lock
            // the key as they are recorded; a success clears it). Not evaluated, not a lock.
            Some(_) => Ok(Reserved::Busy),
            None => {
                let until = self.locked_until(key, now).await?.unwrap_or(now + 1);
                Ok(Reserved::Locked {
                    until,
                    newly: false,
                })
            }
        }
    }

    async fn lock(&self, key: &str, until: i64, now: i64) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql(LOCK)).bind(until).bind(key).bind(now)
            .execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn clear(&self, key: &str) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql("DELETE FROM login_attempts WHERE \"key\" = $1"))
            .bind(key).execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(self.sql(LOCKED_UNTIL))
            .bind(key).bind(now).fetch_optional(pool).await)
        .map_err(store_error)?;
        Ok(row.map(|(until,)| until))
    }

    async fn locks(&self, now: i64, limit: u32) -> Result<Vec<(String, i64)>, StoreError> {
        with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT \"key\", locked_until FROM login_attempts WHERE locked_until > $1 \
             ORDER BY locked_until DESC, \"key\" LIMIT $2"))
            .bind(now).bind(i64::from(limit)).fetch_all(pool).await)
        .map_err(store_error)
    }
}

/// [`RESERVE`] on MySQL: `None` when the key is locked.
async fn reserve_mysql(
    pool: &sqlx::MySqlPool,
    key: &str,
    window: i64,
    now: i64,
) -> Result<Option<(i64,)>, sqlx::Error> {
    sqlx::query(ENSURE_MYSQL)
        .bind(key)
        .bind(now)
        .execute(pool)
        .await?;
    let mut tx = pool.begin().await?;
    let counted = sqlx::query(COUNT_MYSQL)
        .bind(window)
        .bind(now)
        .bind(window)
        .bind(now)
        .bind(now)
        .bind(key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if counted.rows_affected() != 1 {
        return Ok(None);
    }
    let attempts = sqlx::query_as(COUNTED_MYSQL)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(attempts)
}
