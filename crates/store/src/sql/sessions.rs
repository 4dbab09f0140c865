//! Sessions in the configured SQL database (`data.session_store = "sql"`).

use async_trait::async_trait;
use kunci_domain::session::{Capabilities, SessionRecord, SessionStore};
use kunci_domain::store::StoreError;

use super::{Backend, Database, store_error, with_pool};

fn encode(record: &SessionRecord) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::corrupt("sql", e))
}

fn decode(text: &str) -> Result<SessionRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt("sql", e))
}

#[async_trait]
impl SessionStore for Database {
    fn name(&self) -> &'static str {
        "sql"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // A SQLite file serves the instances of one machine only.
            shared: self.backend() != Backend::Sqlite,
            durable: true,
            expires_by_itself: false,
        }
    }

    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let json = encode(record)?;
        with_pool!(self, pool => sqlx::query(self.sql(
            "INSERT INTO sessions (\"key\", sub, expires_at, record) VALUES ($1, $2, $3, $4)"))
            .bind(&record.key).bind(&record.sub).bind(record.expires_at).bind(&json)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map(drop)
        .map_err(store_error)
    }

    async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<String> = with_pool!(self, pool => sqlx::query_scalar(self.sql(
            "SELECT record FROM sessions WHERE \"key\" = $1 AND expires_at > $2"))
            .bind(key).bind(now).fetch_optional(pool).await)
        .map_err(store_error)?;
        row.as_deref().map(decode).transpose()
    }

    async fn save(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let json = encode(record)?;
        with_pool!(self, pool => sqlx::query(self.sql(
            "UPDATE sessions SET sub = $1, expires_at = $2, record = $3 WHERE \"key\" = $4"))
            .bind(&record.sub).bind(record.expires_at).bind(&json).bind(&record.key)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map(drop)
        .map_err(store_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql("DELETE FROM sessions WHERE \"key\" = $1"))
            .bind(key).execute(pool).await.map(|r| r.rows_affected()))
        .map(drop)
        .map_err(store_error)
    }

    async fn list_by_account(&self, sub: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<String> = with_pool!(self, pool => sqlx::query_scalar(self.sql(
            "SELECT record FROM sessions WHERE sub = $1 AND expires_at > $2 ORDER BY expires_at"))
            .bind(sub).bind(now).fetch_all(pool).await)
        .map_err(store_error)?;
        rows.iter().map(|r| decode(r)).collect()
    }

    async fn delete_by_account(&self, sub: &str) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql("DELETE FROM sessions WHERE sub = $1"))
            .bind(sub).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(store_error)
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql("DELETE FROM sessions WHERE expires_at <= $1"))
            .bind(now).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(store_error)
    }
}
