//! Uses per API key and day in the SQL database.

use async_trait::async_trait;
use kunci_domain::apikeys::{DailyUse, DailyUseStore};
use kunci_domain::store::StoreError;

use super::{Database, Dialect, store_error, with_pool};

const ADD: &str = "INSERT INTO api_key_days (key_id, day, uses) VALUES ($1, $2, $3) \
     ON CONFLICT (key_id, day) DO UPDATE SET uses = api_key_days.uses + excluded.uses";

const ADD_MYSQL: &str = "INSERT INTO api_key_days (key_id, day, uses) VALUES (?, ?, ?) \
     ON DUPLICATE KEY UPDATE uses = uses + VALUES(uses)";

#[async_trait]
impl DailyUseStore for Database {
    async fn add(&self, key_id: &str, day: i64, uses: i64) -> Result<(), StoreError> {
        let sql = match self.dialect() {
            Dialect::MySql => ADD_MYSQL,
            Dialect::Numbered => ADD,
        };
        with_pool!(self, pool => sqlx::query(sql)
            .bind(key_id).bind(day).bind(uses).execute(pool).await.map(drop))
        .map_err(store_error)
    }

    async fn since(&self, day: i64) -> Result<Vec<DailyUse>, StoreError> {
        let rows: Vec<(String, i64, i64)> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT key_id, day, uses FROM api_key_days WHERE day >= $1 ORDER BY day, key_id"))
            .bind(day).fetch_all(pool).await)
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(key_id, day, uses)| DailyUse { key_id, day, uses })
            .collect())
    }
}
