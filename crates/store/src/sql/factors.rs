//! Second factors in the SQL database: TOTP secrets (sealed) with their last used step, and
//! recovery codes as keyed hashes.

use async_trait::async_trait;
use kunci_domain::audit::Journal;
use kunci_domain::factors::{FactorStore, StoredTotp};
use kunci_domain::store::StoreError;

use super::audit::journaled;
use super::{Database, store_error, with_pool};

type Row = (String, String, i64, Option<i64>, i64);

#[async_trait]
impl FactorStore for Database {
    async fn put_totp(
        &self,
        totp: &StoredTotp,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError> {
        journaled!(self, journal, tx => {
            let confirmed: Option<(i64,)> = match sqlx::query_as(self.sql(
                "SELECT confirmed_at FROM totp_factors WHERE account_id = $1 AND confirmed_at IS NOT NULL"))
                .bind(&totp.account_id).fetch_optional(&mut *tx).await
            {
                Ok(row) => row,
                Err(err) => return Err(store_error(err)),
            };
            if confirmed.is_some() {
                Err(StoreError::Conflict)
            } else {
                match sqlx::query(self.sql("DELETE FROM totp_factors WHERE account_id = $1"))
                    .bind(&totp.account_id).execute(&mut *tx).await
                {
                    Ok(_) => sqlx::query(self.sql(
                        "INSERT INTO totp_factors (account_id, sealed, created_at, confirmed_at, last_step) \
                         VALUES ($1, $2, $3, NULL, -1)"))
                        .bind(&totp.account_id).bind(&totp.sealed).bind(totp.created_at)
                        .execute(&mut *tx).await.map(drop).map_err(store_error),
                    Err(err) => Err(store_error(err)),
                }
            }
        })
    }

    async fn totp(&self, account_id: &str) -> Result<Option<StoredTotp>, StoreError> {
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT account_id, sealed, created_at, confirmed_at, last_step FROM totp_factors \
             WHERE account_id = $1"))
            .bind(account_id).fetch_optional(pool).await)
        .map_err(store_error)?;
        Ok(row.map(|r| StoredTotp {
            account_id: r.0,
            sealed: r.1,
            created_at: r.2,
            confirmed_at: r.3,
            last_step: r.4,
        }))
    }

    async fn confirm_totp(
        &self,
        account_id: &str,
        step: i64,
        now: i64,
        journal: &Journal,
    ) -> Result<bool, StoreError> {
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(
            "UPDATE totp_factors SET confirmed_at = $1, last_step = $2 \
             WHERE account_id = $3 AND confirmed_at IS NULL"))
            .bind(now).bind(step).bind(account_id)
            .execute(&mut *tx).await.map(|r| r.rows_affected() == 1).map_err(store_error))
    }

    async fn use_step(&self, account_id: &str, step: i64) -> Result<bool, StoreError> {
        // One compare-and-set: of two uses of a step at once (on any instance), one moves it.
        with_pool!(self, pool => sqlx::query(self.sql(
            "UPDATE totp_factors SET last_step = $1 \
             WHERE account_id = $2 AND confirmed_at IS NOT NULL AND last_step < $3"))
            .bind(step).bind(account_id).bind(step)
            .execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn remove_totp(&self, account_id: &str, journal: &Journal) -> Result<bool, StoreError> {
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(
            "DELETE FROM totp_factors WHERE account_id = $1"))
            .bind(account_id).execute(&mut *tx).await.map(|r| r.rows_affected() == 1)
            .map_err(store_error))
    }

    async fn set_recovery(
        &self,
        account_id: &str,
        hashes: &[String],
        journal: Option<&Journal>,
    ) -> Result<(), StoreError> {
        journaled!(self, journal, tx => {
            let mut done = sqlx::query(self.sql("DELETE FROM recovery_codes WHERE account_id = $1"))
                .bind(account_id).execute(&mut *tx).await.map(drop).map_err(store_error);
            for hash in hashes {
                if done.is_err() {
                    break;
                }
                done = sqlx::query(self.sql(
                    "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)"))
                    .bind(account_id).bind(hash).execute(&mut *tx).await.map(drop)
                    .map_err(store_error);
            }
            done
        })
    }

    async fn use_recovery(&self, account_id: &str, hash: &str) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql(
            "DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2"))
            .bind(account_id).bind(hash).execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn recovery_left(&self, account_id: &str) -> Result<u32, StoreError> {
        let (count,): (i64,) = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1"))
            .bind(account_id).fetch_one(pool).await)
        .map_err(store_error)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }
}
