//! The revocation lists, read from the SQL database.

use async_trait::async_trait;
use kunci_domain::revocation::RevocationSource;
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

#[async_trait]
impl RevocationSource for Database {
    async fn revoked_families(&self, since: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT id FROM refresh_families WHERE revoked_at >= $1"))
            .bind(since).fetch_all(pool).await)
        .map_err(store_error)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn disabled_accounts(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM accounts WHERE disabled = 1").fetch_all(pool).await)
        .map_err(store_error)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
