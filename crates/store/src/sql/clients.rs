//! Service clients and request nonces in the SQL database.

use async_trait::async_trait;
use kunci_domain::audit::Journal;
use kunci_domain::clients::{Claim, ClientStore, NonceStore, StoredClient};
use kunci_domain::store::StoreError;

use super::audit::journaled;
use super::{Database, store_error, with_pool};

type Row = (String, String, String, i64, Option<i64>);

fn decode(row: Row) -> StoredClient {
    StoredClient {
        name: row.0,
        sealed: row.1,
        // Unknown words are dropped: a scope this version does not know grants nothing.
        scopes: row
            .2
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect(),
        created_at: row.3,
        revoked_at: row.4,
    }
}

fn encode_scopes(client: &StoredClient) -> String {
    client
        .scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[async_trait]
impl ClientStore for Database {
    async fn insert(&self, client: &StoredClient, journal: &Journal) -> Result<(), StoreError> {
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(
            "INSERT INTO service_clients (name, sealed, scopes, created_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)"))
            .bind(&client.name).bind(&client.sealed).bind(encode_scopes(client)).bind(client.created_at)
            .execute(&mut *tx).await.map(drop).map_err(store_error))
    }

    async fn get(&self, name: &str) -> Result<Option<StoredClient>, StoreError> {
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT name, sealed, scopes, created_at, revoked_at FROM service_clients WHERE name = $1"))
            .bind(name).fetch_optional(pool).await)
        .map_err(store_error)?;
        Ok(row.map(decode))
    }

    async fn list(&self) -> Result<Vec<StoredClient>, StoreError> {
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT name, sealed, scopes, created_at, revoked_at FROM service_clients ORDER BY name")
            .fetch_all(pool).await)
        .map_err(store_error)?;
        Ok(rows.into_iter().map(decode).collect())
    }

    async fn revoke(&self, name: &str, now: i64, journal: &Journal) -> Result<bool, StoreError> {
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(
            "UPDATE service_clients SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL"))
            .bind(now).bind(name).execute(&mut *tx).await.map(|r| r.rows_affected() == 1)
            .map_err(store_error))
    }
}

/// A new nonce, or one whose previous use has expired (the purge job has not run yet).
const CLAIM: &str = "INSERT INTO request_nonces (\"key\", expires_at) VALUES ($1, $2) \
     ON CONFLICT (\"key\") DO UPDATE SET expires_at = excluded.expires_at \
     WHERE request_nonces.expires_at <= $3";

/// MySQL's upsert cannot say whether it changed a row (with found-rows counting, an unchanged
/// row counts as one, like an insert): the expired use is forgotten first, then exactly one of
/// any concurrent claimers inserts.
const FORGET_EXPIRED: &str = "DELETE FROM request_nonces WHERE \"key\" = ? AND expires_at <= ?";
const CLAIM_MYSQL: &str = "INSERT IGNORE INTO request_nonces (\"key\", expires_at) VALUES (?, ?)";

#[async_trait]
impl NonceStore for Database {
    /// The database is never flushed behind kunci's back, so it has no watermark.
    async fn claim(
        &self,
        key: &str,
        _timestamp: i64,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Claim, StoreError> {
        let fresh = with_pool!(self,
            pool => sqlx::query(CLAIM)
                .bind(key).bind(now + ttl_secs).bind(now)
                .execute(pool).await.map(|r| r.rows_affected() == 1),
            MySql(pool) => claim_mysql(pool, key, now, ttl_secs).await)
        .map_err(store_error)?;
        Ok(if fresh { Claim::Fresh } else { Claim::Replayed })
    }
}

/// [`CLAIM`] on MySQL: true when the nonce is new (or its last use expired).
async fn claim_mysql(
    pool: &sqlx::MySqlPool,
    key: &str,
    now: i64,
    ttl_secs: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(FORGET_EXPIRED)
        .bind(key)
        .bind(now)
        .execute(pool)
        .await?;
    let inserted = sqlx::query(CLAIM_MYSQL)
        .bind(key)
        .bind(now + ttl_secs)
        .execute(pool)
        .await?;
    Ok(inserted.rows_affected() == 1)
}

impl Database {
    /// Forgets nonces whose lifetime has passed.
    pub async fn purge_nonces(&self, now: i64) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql("DELETE FROM request_nonces WHERE expires_at <= $1"))
            .bind(now).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(store_error)
    }
}
