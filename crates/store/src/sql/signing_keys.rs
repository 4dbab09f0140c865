//! The signing-key pool in the SQL database.

use async_trait::async_trait;
use kunci_crypto::keyring::{KeyPurpose, Kid};
use kunci_domain::audit::Journal;
use kunci_domain::keys::{SigningKeyStore, StoredKey};
use kunci_domain::store::StoreError;

use super::audit::journaled;
use super::{Database, store_error, with_pool};

type Row = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
);

const LIST: &str = "SELECT kid, purpose, state, sealed, created_at, activated_at, verify_since, \
     retired_at, verifications FROM signing_keys ORDER BY created_at, kid";

fn decode(row: Row) -> Result<StoredKey, StoreError> {
    let corrupt =
        |what: &str| StoreError::corrupt("sql", format!("signing_keys holds an invalid {what}"));
    Ok(StoredKey {
        kid: Kid::parse(&row.0).ok_or_else(|| corrupt("kid"))?,
        purpose: row.1.parse().map_err(|_| corrupt("purpose"))?,
        state: row.2.parse().map_err(|_| corrupt("state"))?,
        sealed: row.3,
        created_at: row.4,
        activated_at: row.5,
        verify_since: row.6,
        retired_at: row.7,
        verifications: row.8,
    })
}

const INSERT: &str = "INSERT INTO signing_keys (kid, purpose, state, sealed, created_at, activated_at, \
     verify_since, retired_at, verifications) VALUES ($1, $2, 'active', $3, $4, $5, NULL, NULL, 0)";
const DEMOTE: &str = "UPDATE signing_keys SET state = 'verify', verify_since = $1 \
     WHERE kid = $2 AND purpose = $3 AND state = 'active'";

#[async_trait]
impl SigningKeyStore for Database {
    async fn list(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(LIST).fetch_all(pool).await)
            .map_err(store_error)?;
        rows.into_iter().map(decode).collect()
    }

    async fn insert_active(
        &self,
        key: &StoredKey,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError> {
        journaled!(self, journal, tx => sqlx::query(self.sql(INSERT))
            .bind(key.kid.as_str()).bind(key.purpose.as_str()).bind(&key.sealed)
            .bind(key.created_at).bind(key.activated_at)
            .execute(&mut *tx).await.map(drop).map_err(store_error))
    }

    async fn rotate(
        &self,
        purpose: KeyPurpose,
        expected: &Kid,
        new: &StoredKey,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError> {
        // On SQLite, IMMEDIATE takes the write lock up front instead of upgrading a read lock,
        // which SQLite refuses under concurrency without waiting; on MariaDB the unique index on
        // the active purpose settles two rotations at once.
        journaled!(self, journal, tx => async {
            let demoted = sqlx::query(self.sql(DEMOTE))
                .bind(now)
                .bind(expected.as_str())
                .bind(purpose.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            if demoted.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
            sqlx::query(self.sql(INSERT))
                .bind(new.kid.as_str())
                .bind(purpose.as_str())
                .bind(&new.sealed)
                .bind(new.created_at)
                .bind(new.activated_at)
                .execute(&mut *tx)
                .await
                .map(drop)
                .map_err(store_error)
        }.await)
    }

    async fn retire(
        &self,
        kid: &Kid,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<bool, StoreError> {
        journaled!(self, journal, tx => sqlx::query(self.sql(
            "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE kid = $2 AND state = 'verify'"))
            .bind(now).bind(kid.as_str()).execute(&mut *tx).await.map(|r| r.rows_affected() == 1)
            .map_err(store_error))
    }

    async fn add_verifications(&self, counts: &[(Kid, u64)]) -> Result<(), StoreError> {
        for (kid, n) in counts {
            let n = i64::try_from(*n).unwrap_or(i64::MAX);
            with_pool!(self, pool => sqlx::query(self.sql(
                "UPDATE signing_keys SET verifications = verifications + $1 WHERE kid = $2"))
                .bind(n).bind(kid.as_str()).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(store_error)?;
        }
        Ok(())
    }
}
