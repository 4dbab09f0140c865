//! The audit log in the SQL database.

use async_trait::async_trait;
use kunci_domain::audit::{AuditEntry, AuditFilter, AuditHead, AuditStore, Chain, Draft};
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

pub(crate) const INSERT: &str = "INSERT INTO audit_log (seq, at, actor, action, target, outcome, kid, ip, \
     ip_commit, prev, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
pub(crate) const MOVE_HEAD: &str =
    "UPDATE audit_head SET seq = $1, mac = $2, seal = $3 WHERE id = 1";

/// Appends `$draft` after the head that `$head_query` reads (and locks) in transaction `$tx`,
/// moving the head: one entry of the chain. Evaluates to `Result<AuditEntry, sqlx::Error>`.
macro_rules! append_in {
    ($db:expr, $tx:expr, $head_query:expr, $chain:expr, $draft:expr) => {
        async {
            let (seq, mac): (i64, String) = sqlx::query_as($head_query)
                .fetch_optional(&mut *$tx)
                .await?
                .ok_or_else(|| sqlx::Error::Protocol("the audit head row is missing".into()))?;
            let entry = $chain.link(seq + 1, &mac, $draft);
            let record = &entry.record;
            sqlx::query($db.sql($crate::sql::audit::INSERT))
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
                .execute(&mut *$tx)
                .await?;
            let head = $chain.head(entry.seq, &entry.mac);
            sqlx::query($db.sql($crate::sql::audit::MOVE_HEAD))
                .bind(head.seq)
                .bind(&head.mac)
                .bind(&head.seal)
                .execute(&mut *$tx)
                .await?;
            Ok::<_, sqlx::Error>(entry)
        }
    };
}

/// Runs `$write` (an expression of type `Result<T, StoreError>` with `T:` [`Written`], using
/// transaction `$tx`) in one transaction that first appends the entry of `$journal` (an
/// `Option<&Journal>`), as [`Journal`] promises: the entry commits with the write or not at
/// all, and a write that changes nothing rolls back. Every writer locks the audit head first
/// (`BEGIN IMMEDIATE` on SQLite, `FOR UPDATE` elsewhere), so journaled writes queue in one order.
macro_rules! journaled {
    ($db:expr, $journal:expr, $tx:ident => $write:expr) => {
        match $db {
            $crate::sql::Database::Sqlite(pool) => $crate::sql::audit::journaled!(
                @in $db, pool.begin_with("BEGIN IMMEDIATE").await, $crate::sql::audit::HEAD,
                $journal, $tx => $write),
            $crate::sql::Database::Postgres(pool) => $crate::sql::audit::journaled!(
                @in $db, pool.begin().await, $crate::sql::audit::HEAD_LOCKED, $journal,
                $tx => $write),
            $crate::sql::Database::MySql(pool) => $crate::sql::audit::journaled!(
                @in $db, pool.begin().await, $crate::sql::audit::HEAD_LOCKED, $journal,
                $tx => $write),
        }
    };
    (@in $db:expr, $begin:expr, $head_query:expr, $journal:expr, $tx:ident => $write:expr) => {{
        let mut $tx = $begin.map_err($crate::sql::store_error)?;
        let journal: Option<&kunci_domain::audit::Journal> = $journal;
        if let Some(journal) = journal {
            $crate::sql::audit::append_in!($db, $tx, $head_query, journal.chain(), journal.draft())
                .await
                .map_err(kunci_domain::store::StoreError::audit_refused)?;
        }
        let result: Result<_, kunci_domain::store::StoreError> = $write;
        match result {
            Ok(value) if kunci_domain::audit::Written::written(&value) => {
                $tx.commit().await.map_err($crate::sql::store_error)?;
                Ok(value)
            }
            // Dropping the transaction rolls it back, entry and all.
            other => other,
        }
    }};
}
pub(crate) use {append_in, journaled};

pub(crate) const HEAD: &str = "SELECT seq, mac FROM audit_head WHERE id = 1";
/// The head row is the lock every writer (every instance) queues on.
pub(crate) const HEAD_LOCKED: &str = "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE";

#[async_trait]
impl AuditStore for Database {
    async fn append(&self, chain: &Chain, draft: Draft) -> Result<AuditEntry, StoreError> {
        macro_rules! append {
            ($begin:expr, $head_query:expr) => {{
                let mut tx = $begin.map_err(store_error)?;
                let entry = append_in!(self, tx, $head_query, chain, draft)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(entry)
            }};
        }
        match self {
            // IMMEDIATE takes the write lock first: writers queue instead of failing.
            Database::Sqlite(pool) => append!(pool.begin_with("BEGIN IMMEDIATE").await, HEAD),
            Database::Postgres(pool) => append!(pool.begin().await, HEAD_LOCKED),
            Database::MySql(pool) => append!(pool.begin().await, HEAD_LOCKED),
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

    async fn newest(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (sql, binds) = newest_query(filter, before, limit);
        let rows: Vec<Row> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(self.sql(sql));
            for bind in &binds {
                query = match bind {
                    Bind::Int(n) => query.bind(*n),
                    Bind::Text(t) => query.bind(t.as_str()),
                };
            }
            query.fetch_all(pool).await
        })
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

/// A value bound to one placeholder of [`newest_query`].
#[derive(Debug, PartialEq, Eq)]
enum Bind {
    Int(i64),
    Text(String),
}

/// The shared SQL of [`AuditStore::newest`]: one condition (and one placeholder, numbered in
/// order) per part of the filter that is set, so each database plans it with its indexes. An
/// action prefix becomes `LIKE` with `!` as the escape, so that `_` in a name matches itself.
fn newest_query(filter: &AuditFilter, before: Option<i64>, limit: u32) -> (String, Vec<Bind>) {
    let mut sql = String::from(
        "SELECT seq, at, actor, action, target, outcome, kid, ip, ip_commit, prev, mac \
         FROM audit_log WHERE 1 = 1",
    );
    let mut binds = Vec::new();
    let mut condition = |sql: &mut String, text: &str, bind: Bind, after: &str| {
        binds.push(bind);
        sql.push_str(&format!(" AND {text} ${}{after}", binds.len()));
    };
    if let Some(before) = before {
        condition(&mut sql, "seq <", Bind::Int(before), "");
    }
    if let Some(actor) = &filter.actor {
        condition(&mut sql, "actor =", Bind::Text(actor.clone()), "");
    }
    match filter.action.as_deref().map(|a| (a, a.strip_suffix('.'))) {
        Some((_, Some(prefix))) => {
            let escaped: String = prefix
                .chars()
                .flat_map(|c| match c {
                    '!' | '%' | '_' => vec!['!', c],
                    c => vec![c],
                })
                .collect();
            let pattern = Bind::Text(format!("{escaped}.%"));
            condition(&mut sql, "action LIKE", pattern, " ESCAPE '!'");
        }
        Some((action, None)) => condition(&mut sql, "action =", Bind::Text(action.into()), ""),
        None => {}
    }
    if let Some(outcome) = &filter.outcome {
        condition(&mut sql, "outcome =", Bind::Text(outcome.clone()), "");
    }
    if let Some(from) = filter.from {
        condition(&mut sql, "at >=", Bind::Int(from), "");
    }
    if let Some(until) = filter.until {
        condition(&mut sql, "at <", Bind::Int(until), "");
    }
    binds.push(Bind::Int(i64::from(limit)));
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", binds.len()));
    (sql, binds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_the_order_of_their_values() {
        let filter = AuditFilter {
            actor: Some("user:a".into()),
            action: Some("admin.api_key.".into()),
            until: Some(9),
            ..AuditFilter::default()
        };
        let (sql, binds) = newest_query(&filter, Some(50), 25);
        assert!(
            sql.ends_with(
                "seq < $1 AND actor = $2 AND action LIKE $3 ESCAPE '!' AND at < $4 \
             ORDER BY seq DESC LIMIT $5"
            ),
            "{sql}"
        );
        assert_eq!(
            binds,
            [
                Bind::Int(50),
                Bind::Text("user:a".into()),
                Bind::Text("admin.api!_key.%".into()),
                Bind::Int(9),
                Bind::Int(25),
            ]
        );
        let (all, binds) = newest_query(&AuditFilter::default(), None, 10);
        assert!(all.ends_with("WHERE 1 = 1 ORDER BY seq DESC LIMIT $1"));
        assert_eq!(binds, [Bind::Int(10)]);
    }
}
