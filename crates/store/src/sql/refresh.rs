//! Refresh-token families and tokens in the SQL database.

use async_trait::async_trait;
use kunci_domain::refresh::{Family, RefreshStore, TokenRecord};
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

type Joined = (
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
);

const INSERT_TOKEN: &str = "INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at, \
     used_at, successor) VALUES ($1, $2, $3, $4, NULL, NULL)";

const FAMILY_COLUMNS: &str =
    "id, account_id, client_id, created_at, expires_at, last_used_at, revoked_at";

type FamilyRow = (String, String, String, i64, i64, i64, Option<i64>);

fn family(r: FamilyRow) -> Family {
    Family {
        id: r.0,
        account_id: r.1,
        client_id: r.2,
        created_at: r.3,
        expires_at: r.4,
        last_used_at: r.5,
        revoked_at: r.6,
    }
}

#[async_trait]
impl RefreshStore for Database {
    async fn create_family(&self, f: &Family, first: &TokenRecord) -> Result<(), StoreError> {
        macro_rules! create_in {
            ($tx:expr) => {{
                let mut tx = $tx.map_err(store_error)?;
                sqlx::query(self.sql(format!(
                    "INSERT INTO refresh_families ({FAMILY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL)"
                )))
                .bind(&f.id)
                .bind(&f.account_id)
                .bind(&f.client_id)
                .bind(f.created_at)
                .bind(f.expires_at)
                .bind(f.last_used_at)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                sqlx::query(self.sql(INSERT_TOKEN))
                    .bind(&first.hash)
                    .bind(&first.family_id)
                    .bind(first.created_at)
                    .bind(first.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            }};
        }
        match self {
            Database::Sqlite(pool) => create_in!(pool.begin().await),
            Database::Postgres(pool) => create_in!(pool.begin().await),
            Database::MySql(pool) => create_in!(pool.begin().await),
        }
    }

    async fn find(&self, hash: &str) -> Result<Option<(TokenRecord, Family)>, StoreError> {
        let row: Option<Joined> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT t.hash, t.family_id, t.created_at, t.expires_at, t.used_at, t.successor, \
             f.account_id, f.client_id, f.created_at, f.expires_at, f.last_used_at, f.revoked_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = $1"))
            .bind(hash).fetch_optional(pool).await)
        .map_err(store_error)?;
        Ok(row.map(|r| {
            let token = TokenRecord {
                hash: r.0,
                family_id: r.1.clone(),
                created_at: r.2,
                expires_at: r.3,
                used_at: r.4,
                successor: r.5,
            };
            let family = Family {
                id: r.1,
                account_id: r.6,
                client_id: r.7,
                created_at: r.8,
                expires_at: r.9,
                last_used_at: r.10,
                revoked_at: r.11,
            };
            (token, family)
        }))
    }

    async fn rotate(
        &self,
        old: &str,
        successor: &str,
        new: &TokenRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        macro_rules! rotate_in {
            ($tx:expr) => {{
                let mut tx = $tx.map_err(store_error)?;
                let used = sqlx::query(self.sql(
                    "UPDATE refresh_tokens SET used_at = $1, successor = $2 \
                     WHERE hash = $3 AND used_at IS NULL",
                ))
                .bind(now)
                .bind(successor)
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                if used.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query(self.sql(INSERT_TOKEN))
                    .bind(&new.hash)
                    .bind(&new.family_id)
                    .bind(new.created_at)
                    .bind(new.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query(
                    self.sql("UPDATE refresh_families SET last_used_at = $1 WHERE id = $2"),
                )
                .bind(now)
                .bind(&new.family_id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }};
        }
        match self {
            // IMMEDIATE: the check-and-mark is taken under the write lock.
            Database::Sqlite(pool) => rotate_in!(pool.begin_with("BEGIN IMMEDIATE").await),
            Database::Postgres(pool) => rotate_in!(pool.begin().await),
            // The row lock of the UPDATE decides between concurrent rotations.
            Database::MySql(pool) => rotate_in!(pool.begin().await),
        }
    }

    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql(
            "UPDATE refresh_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"))
            .bind(now).bind(family_id).execute(pool).await.map(|r| r.rows_affected() == 1))
        .map_err(store_error)
    }

    async fn revoke_account(&self, account_id: &str, now: i64) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql(
            "UPDATE refresh_families SET revoked_at = $1 \
             WHERE account_id = $2 AND revoked_at IS NULL AND expires_at > $3"))
            .bind(now).bind(account_id).bind(now).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(store_error)
    }

    async fn families(&self, account_id: &str, now: i64) -> Result<Vec<Family>, StoreError> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS} FROM refresh_families \
             WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id"
        );
        let rows: Vec<FamilyRow> = with_pool!(self, pool => sqlx::query_as(self.sql(sql))
            .bind(account_id).bind(now).fetch_all(pool).await)
        .map_err(store_error)?;
        Ok(rows.into_iter().map(family).collect())
    }
}
