//! Versioned, reversible migrations: `kunci db migrate | rollback | status`.
//!
//! Each backend has its own folder with the same version numbers, embedded into the binary.
//! Every migration has an up and a down script, from the first one on: a database that starts
//! with irreversible migrations can never adopt reversible ones later.

use std::collections::BTreeMap;

use sqlx::migrate::{Migrate, MigrateError, Migrator};

use super::database::{Backend, Database, DatabaseError};
use super::with_pool;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
static MYSQL: Migrator = sqlx::migrate!("migrations/mysql");

/// sqlx's bookkeeping table (its default name).
const TABLE: &str = "_sqlx_migrations";

/// One migration as `db status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

impl Database {
    fn migrator(&self) -> &'static Migrator {
        match self.backend() {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
            Backend::MySql => &MYSQL,
        }
    }

    fn migrate_error(&self, source: MigrateError) -> DatabaseError {
        match source {
            MigrateError::VersionMissing(version) => DatabaseError::UnknownMigration { version },
            source => DatabaseError::Migrate {
                backend: self.backend(),
                source,
            },
        }
    }

    /// Every known migration and whether it is applied, oldest first.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, DatabaseError> {
        let applied = self.applied_versions().await?;
        let states: BTreeMap<i64, MigrationState> = self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| {
                let state = MigrationState {
                    version: m.version,
                    description: m.description.to_string(),
                    applied: applied.contains(&m.version),
                };
                (m.version, state)
            })
            .collect();
        if let Some(&version) = applied.iter().find(|v| !states.contains_key(v)) {
            return Err(DatabaseError::UnknownMigration { version });
        }
        Ok(states.into_values().collect())
    }

    /// Versions applied to this database, ascending.
    async fn applied_versions(&self) -> Result<Vec<i64>, DatabaseError> {
        let applied = with_pool!(self, pool => {
            let mut conn = pool.acquire().await.map_err(|e| self.query_error(e))?;
            conn.ensure_migrations_table(TABLE)
                .await
                .map_err(|e| self.migrate_error(e))?;
            conn.list_applied_migrations(TABLE).await
        });
        let mut versions: Vec<i64> = applied
            .map_err(|e| self.migrate_error(e))?
            .into_iter()
            .map(|m| m.version)
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    fn query_error(&self, source: sqlx::Error) -> DatabaseError {
        DatabaseError::Query {
            backend: self.backend(),
            source,
        }
    }

    /// Versions known to this binary but not applied yet.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, DatabaseError> {
        Ok(self
            .migration_status()
            .await?
            .into_iter()
            .filter(|m| !m.applied)
            .map(|m| m.version)
            .collect())
    }

    /// Applies every pending migration; returns the versions applied, oldest first.
    pub async fn migrate(&self) -> Result<Vec<i64>, DatabaseError> {
        let pending = self.pending_migrations().await?;
        let result = with_pool!(self, pool => self.migrator().run(pool).await);
        result.map_err(|e| self.migrate_error(e))?;
        Ok(pending)
    }

    /// Reverts the `steps` most recently applied migrations; returns the versions reverted,
    /// newest first. Asking for more steps than are applied reverts them all.
    pub async fn rollback(&self, steps: usize) -> Result<Vec<i64>, DatabaseError> {
        let applied = self.applied_versions().await?;
        let keep = applied.len().saturating_sub(steps);
        let target = if keep == 0 { 0 } else { applied[keep - 1] };
        let reverted: Vec<i64> = applied[keep..].iter().rev().copied().collect();
        if reverted.is_empty() {
            return Ok(reverted);
        }
        let result = with_pool!(self, pool => self.migrator().undo(pool, target).await);
        result.map_err(|e| self.migrate_error(e))?;
        Ok(reverted)
    }
}
