//! Encrypted, complete, checkable copies of the database (docs/backups.md): the engine behind
//! `kunci backup` and the schedule. The stream format is `kunci_crypto::backup`: chunk by
//! chunk, so a database of any size is never held in memory.
//!
//! SQLite, the embedded default: a `VACUUM INTO` snapshot (consistent, taken while the server
//! runs) is encrypted into the backup; a restore decrypts it beside the database, checks it is
//! an intact kunci database, keeps the current file aside and renames the restored one into
//! place. PostgreSQL and MariaDB/MySQL: a logical dump of every kunci table from one consistent
//! snapshot (`kunci_store::Database::export`) is encrypted as it is produced, never written in
//! clear; a restore checks the whole file first, then replaces every table's rows in one
//! transaction. A dump of either server restores into either.
//!
//! `create.rs` writes, `restore.rs` reads and restores, `schedule.rs` is `[backup]`'s schedule;
//! the command is `commands/backup.rs`.

mod create;
pub mod leftovers;
mod restore;
mod schedule;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use kunci_crypto::backup::Header;
use kunci_store::DatabaseTarget;

use crate::config::Loaded;

pub use create::create;

/// The folders a backup writes in on this deployment: beside a SQLite database (its snapshot)
/// and `backup.dir` (the files, under a temporary name until complete).
pub fn folders(loaded: &Loaded) -> Vec<PathBuf> {
    let mut folders = vec![loaded.root.join(&loaded.config.backup.dir)];
    if let Ok(Source::File(db)) = Source::of(loaded)
        && let Some(parent) = db.parent()
    {
        folders.push(parent.to_path_buf());
    }
    folders
}
pub use restore::{BackupReader, read, restore};
pub use schedule::{Schedule, scheduled_files};

/// What a backup holds, as `verify` found it.
#[derive(Debug)]
pub struct Summary {
    pub header: Header,
    /// Bytes of the database inside.
    pub bytes: u64,
}

/// What a backup copies: a SQLite file, or a server database's tables.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Server,
}

impl Source {
    fn of(loaded: &Loaded) -> anyhow::Result<Self> {
        let target = DatabaseTarget::parse(loaded.config.data.database_url.expose(), &loaded.root)
            .context("`data.database_url`")?;
        match target {
            DatabaseTarget::Sqlite { path: Some(path) } => Ok(Self::File(path)),
            DatabaseTarget::Sqlite { path: None } => {
                bail!("an in-memory database cannot be backed up")
            }
            DatabaseTarget::Postgres { .. } | DatabaseTarget::MySql { .. } => Ok(Self::Server),
        }
    }
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `<dir>/kunci-<UTC time>.kbk`: names that sort in time order.
fn default_name(dir: &Path, now: i64) -> PathBuf {
    let stamp = time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day]-[hour][minute][second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| now.to_string());
    dir.join(format!("kunci-{stamp}.kbk"))
}
