//! The audit log in the SQL database.

use async_trait::async_trait;
use kunci_domain::audit::{AuditEntry, AuditHead, AuditStore, Chain, Draft};
use kunci_domain::store::StoreError;

use super::{Database, store_error, with_pool};

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn decode(r: Row) -> AuditEntry {
    AuditEntry {
        seq: r.0,
        record: Draft {
            at: r.1,
            actor: r.2,
            action: r.3,
            target: r.4,
            outcome: r.5,
            kid: r.6,
            ip: r.7,
            ip_commit: r.8,
        },
        prev: r.9,
        mac: r.10,
    }
}

const INSERT: &str = "INSERT INTO audit_log (seq, at, actor, action, target, outcome, kid, ip, \
     ip_commit, prev, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const MOVE_HEAD: &str = "UPDATE audit_head SET seq = $1, mac = $2, seal = $3 WHERE id = 1";

#[async_trait]
impl AuditStore for Database {
    async fn append(&self, chain: &Chain, draft: Draft) -> Result<AuditEntry, StoreError> {
        macro_rules! append_in {
            ($tx:expr, $head_query:expr) => {{
                let mut tx = $tx.map_err(store_error)?;
                let (seq, mac): (i64, String) = sqlx::query_as($head_query)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| StoreError::corrupt("sql", "the audit head row is missing"))?;
                let entry = chain.link(seq + 1, &mac, draft);
                let record = &entry.record;
                sqlx::query(self.sql(INSERT))
                    .bind(entry.seq)
                    .bind(record.at)
                    .bind(&record.actor)
                    .bind(&record.action)
                    .bind(&record.target)
                    .bind(&record.outcome)
                    .bind(&record.kid)
                    .bind(&record.ip)
                    .bind(&record.ip_commit)
                    .bind(&entry.prev)
                    .bind(&entry.mac)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let head = chain.head(entry.seq, &entry.mac);
                sqlx::query(self.sql(MOVE_HEAD))
                    .bind(head.seq)
                    .bind(&head.mac)
                    .bind(&head.seal)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(entry)
            }};
        }
        match self {
            // IMMEDIATE takes the write lock first: writers queue instead of failing.
            Database::Sqlite(pool) => append_in!(
                pool.begin_with("BEGIN IMMEDIATE").await,
                "SELECT seq, mac FROM audit_head WHERE id = 1"
            ),
            // The head row is the lock every writer (every instance) queues on.
            Database::Postgres(pool) => append_in!(
                pool.begin().await,
                "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE"
            ),
            Database::MySql(pool) => append_in!(
                pool.begin().await,
                "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE"
            ),
        }
    }

    async fn head(&self) -> Result<Option<AuditHead>, StoreError> {
        let row: Option<(i64, String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT seq, mac, seal FROM audit_head WHERE id = 1").fetch_optional(pool).await)
        .map_err(store_error)?;
        // Sequence 0 is the row the migration seeds: no entry written yet.
        Ok(row
            .filter(|(seq, _, seal)| *seq != 0 || !seal.is_empty())
            .map(|(seq, mac, seal)| AuditHead { seq, mac, seal }))
    }

    async fn page(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(self.sql(
            "SELECT seq, at, actor, action, target, outcome, kid, ip, ip_commit, prev, mac \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after).bind(i64::from(limit)).fetch_all(pool).await)
        .map_err(store_error)?;
        Ok(rows.into_iter().map(decode).collect())
    }

    async fn purge_ips(&self, before: i64) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query(self.sql(
            "UPDATE audit_log SET ip = NULL WHERE at < $1 AND ip IS NOT NULL"))
            .bind(before).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(store_error)
    }
}
