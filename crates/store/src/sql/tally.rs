//! Counts per name and time bucket in the SQL database, one table per kind of count.

use async_trait::async_trait;
use kunci_domain::store::StoreError;
use kunci_domain::tally::{Tally, TallyStore};
use sqlx::AssertSqlSafe;

use super::{Database, Dialect, store_error, with_pool};

/// Which counts a [`SqlTallies`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallyTable {
    /// Uses per API key and day: `api_key_days (key_id, day, uses)`.
    KeyDays,
    /// Requests and upstream answers per hour: `activity_hours (name, hour, count)`.
    ActivityHours,
}

impl TallyTable {
    /// The table and its name, bucket and count columns (our own constants, never input).
    fn columns(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Self::KeyDays => ("api_key_days", "key_id", "day", "uses"),
            Self::ActivityHours => ("activity_hours", "name", "hour", "count"),
        }
    }
}

/// A [`TallyStore`] in one table of the database.
#[derive(Debug, Clone)]
pub struct SqlTallies {
    db: Database,
    table: TallyTable,
}

impl SqlTallies {
    pub fn new(db: Database, table: TallyTable) -> Self {
        Self { db, table }
    }
}

#[async_trait]
impl TallyStore for SqlTallies {
    async fn add(&self, name: &str, bucket: i64, count: i64) -> Result<(), StoreError> {
        let (table, n, b, c) = self.table.columns();
        let sql = match self.db.dialect() {
            Dialect::MySql => format!(
                "INSERT INTO {table} ({n}, {b}, {c}) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE {c} = {c} + VALUES({c})"
            ),
            Dialect::Numbered => format!(
                "INSERT INTO {table} ({n}, {b}, {c}) VALUES ($1, $2, $3) \
                 ON CONFLICT ({n}, {b}) DO UPDATE SET {c} = {table}.{c} + excluded.{c}"
            ),
        };
        with_pool!(&self.db, pool => sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(name).bind(bucket).bind(count).execute(pool).await.map(drop))
        .map_err(store_error)
    }

    async fn since(&self, bucket: i64) -> Result<Vec<Tally>, StoreError> {
        let (table, n, b, c) = self.table.columns();
        let sql = format!("SELECT {n}, {b}, {c} FROM {table} WHERE {b} >= $1 ORDER BY {b}, {n}");
        let rows: Vec<(String, i64, i64)> = with_pool!(&self.db, pool => sqlx::query_as(
            self.db.sql(sql.clone())).bind(bucket).fetch_all(pool).await)
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(name, bucket, count)| Tally {
                name,
                bucket,
                count,
            })
            .collect())
    }
}
