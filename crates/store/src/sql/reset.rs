//! Password-reset links in the SQL database: their hashes, one per account.

use async_trait::async_trait;
use kunci_domain::audit::Journal;
use kunci_domain::reset::ResetStore;
use kunci_domain::store::StoreError;

use super::audit::journaled;
use super::{Database, store_error, with_pool};

#[async_trait]
impl ResetStore for Database {
    async fn put(
        &self,
        hash: &str,
        account_id: &str,
        expires_at: i64,
        journal: &Journal,
    ) -> Result<(), StoreError> {
        journaled!(self, Some(journal), tx => {
            let cleared = sqlx::query(self.sql("DELETE FROM password_resets WHERE account_id = $1"))
                .bind(account_id).execute(&mut *tx).await;
            match cleared {
                Ok(_) => sqlx::query(self.sql(
                    "INSERT INTO password_resets (token_hash, account_id, expires_at) VALUES ($1, $2, $3)"))
                    .bind(hash).bind(account_id).bind(expires_at)
                    .execute(&mut *tx).await.map(drop).map_err(store_error),
                Err(err) => Err(store_error(err)),
            }
        })
    }

    async fn live(&self, hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT account_id FROM password_resets WHERE token_hash = $1 AND expires_at > $2"))
            .bind(hash).bind(now).fetch_optional(pool).await)
        .map_err(store_error)?;
        Ok(row.map(|(id,)| id))
    }

    async fn take(&self, hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let Some(account) = self.live(hash, now).await? else {
            return Ok(None);
        };
        // Only the one DELETE that removes the row wins: two uses at once cannot both pass.
        let removed = with_pool!(self, pool => sqlx::query(self.sql(
            "DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > $2"))
            .bind(hash).bind(now).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(store_error)?;
        Ok((removed == 1).then_some(account))
    }
}
