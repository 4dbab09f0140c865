//! Logins waiting for their second factor, in the SQL database.

use async_trait::async_trait;
use kunci_domain::factors::{Challenge, ChallengeStore};
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

type Row = (String, String, Option<String>, i64);

#[async_trait]
impl ChallengeStore for Database {
    async fn put(&self, hash: &str, c: &Challenge) -> Result<(), StoreError> {
        // Purge what has expired on the way, so the table holds only live challenges.
        with_pool!(self, pool => sqlx::query(self.sql(
            "DELETE FROM mfa_challenges WHERE secret_hash = $1 OR expires_at <= $2"))
            .bind(hash).bind(c.expires_at - kunci_domain::factors::CHALLENGE_SECS)
            .execute(pool).await.map(drop))
        .map_err(store_error)?;
        with_pool!(self, pool => sqlx::query(self.sql(
            "INSERT INTO mfa_challenges (secret_hash, account_id, flow, client_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5)"))
            .bind(hash).bind(&c.account_id).bind(&c.flow).bind(&c.client_id).bind(c.expires_at)
            .execute(pool).await.map(drop))
        .map_err(store_error)
    }

    async fn live(&self, hash: &str, now: i64) -> Result<Option<Challenge>, StoreError> {
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT account_id, flow, client_id, expires_at FROM mfa_challenges \
             WHERE secret_hash = $1 AND expires_at > $2"))
            .bind(hash).bind(now).fetch_optional(pool).await)
        .map_err(store_error)?;
        Ok(
            row.map(|(account_id, flow, client_id, expires_at)| Challenge {
                account_id,
                flow,
                client_id,
                expires_at,
            }),
        )
    }

    async fn take(&self, hash: &str, now: i64) -> Result<Option<Challenge>, StoreError> {
        let Some(challenge) = self.live(hash, now).await? else {
            return Ok(None);
        };
        let removed = with_pool!(self, pool => sqlx::query(self.sql(
            "DELETE FROM mfa_challenges WHERE secret_hash = $1 AND expires_at > $2"))
            .bind(hash).bind(now).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(store_error)?;
        Ok((removed == 1).then_some(challenge))
    }
}
