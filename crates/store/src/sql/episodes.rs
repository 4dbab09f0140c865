//! Notification episodes in the SQL database: one row per condition, flipped atomically so
//! exactly one caller (on any instance) sees each change.

use async_trait::async_trait;
use kunci_domain::notify::EpisodeStore;
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

/// Opens an episode unless it is open already.
const OPEN: &str = "INSERT INTO notification_episodes (\"key\", open, changed_at) VALUES ($1, 1, $2) \
     ON CONFLICT (\"key\") DO UPDATE SET open = 1, changed_at = excluded.changed_at \
     WHERE notification_episodes.open = 0";
/// Closes an open episode; one that never opened stays unknown (no "ended" without a start).
const CLOSE: &str =
    "UPDATE notification_episodes SET open = 0, changed_at = $1 WHERE \"key\" = $2 AND open = 1";

/// MySQL's upsert cannot say whether it changed a row: reopen a closed episode (the row lock
/// lets one caller through), else insert a new one (the primary key lets one through).
const REOPEN_MYSQL: &str =
    "UPDATE notification_episodes SET open = 1, changed_at = ? WHERE \"key\" = ? AND open = 0";
const OPEN_MYSQL: &str =
    "INSERT IGNORE INTO notification_episodes (\"key\", open, changed_at) VALUES (?, 1, ?)";

#[async_trait]
impl EpisodeStore for Database {
    async fn transition(&self, key: &str, open: bool, now: i64) -> Result<bool, StoreError> {
        if !open {
            return with_pool!(self, pool => sqlx::query(self.sql(CLOSE)).bind(now).bind(key)
                .execute(pool).await.map(|r| r.rows_affected() == 1))
            .map_err(store_error);
        }
        with_pool!(self,
            pool => sqlx::query(OPEN).bind(key).bind(now)
                .execute(pool).await.map(|r| r.rows_affected() == 1),
            MySql(pool) => open_mysql(pool, key, now).await)
        .map_err(store_error)
    }
}

/// [`OPEN`] on MySQL.
async fn open_mysql(pool: &sqlx::MySqlPool, key: &str, now: i64) -> Result<bool, sqlx::Error> {
    let reopened = sqlx::query(REOPEN_MYSQL)
        .bind(now)
        .bind(key)
        .execute(pool)
        .await?;
    if reopened.rows_affected() == 1 {
        return Ok(true);
    }
    let opened = sqlx::query(OPEN_MYSQL)
        .bind(key)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(opened.rows_affected() == 1)
}
