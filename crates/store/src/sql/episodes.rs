//! Notification episodes in the SQL database: one row per condition, flipped atomically so
//! exactly one caller (on any instance) sees each change.

use async_trait::async_trait;
use kunci_domain::notify::EpisodeStore;
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

/// Opens an episode unless it is open already.
const OPEN: &str = "INSERT INTO notification_episodes (key, open, changed_at) VALUES ($1, 1, $2) \
     ON CONFLICT (key) DO UPDATE SET open = 1, changed_at = excluded.changed_at \
     WHERE notification_episodes.open = 0";
/// Closes an open episode; one that never opened stays unknown (no "ended" without a start).
const CLOSE: &str =
    "UPDATE notification_episodes SET open = 0, changed_at = $2 WHERE key = $1 AND open = 1";

#[async_trait]
impl EpisodeStore for Database {
    async fn transition(&self, key: &str, open: bool, now: i64) -> Result<bool, StoreError> {
        let sql = if open { OPEN } else { CLOSE };
        with_pool!(self, pool => sqlx::query(sql).bind(key).bind(now).execute(pool).await
            .map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }
}
