//! Scheduled backups (`[backup] interval_hours, dir, keep`), run by the server's jobs.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use kunci_crypto::MasterKey;
use kunci_store::Database;

use super::create::write_backup;
use super::{Source, default_name};
use crate::config::Loaded;
use crate::output::Progress;

/// The scheduled backups in `dir` (`kunci-*.kbk`), oldest first.
pub fn scheduled_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("kunci-") && n.ends_with(".kbk"))
        })
        .collect();
    backups.sort();
    Ok(backups)
}

/// Scheduled backups (`[backup]`): where, and how many to keep.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub database: Database,
    pub source: Source,
    pub master: MasterKey,
    pub dir: PathBuf,
    pub keep: usize,
}

impl Schedule {
    /// The schedule of `loaded`, if `backup.interval_hours` asks for one.
    pub fn of(
        loaded: &Loaded,
        database: &Database,
        master: &MasterKey,
    ) -> anyhow::Result<Option<Self>> {
        let config = &loaded.config.backup;
        if config.interval_hours == 0 {
            return Ok(None);
        }
        let source = Source::of(loaded).context("`backup.interval_hours`")?;
        let dir = if config.dir.is_absolute() {
            config.dir.clone()
        } else {
            loaded.root.join(&config.dir)
        };
        Ok(Some(Self {
            database: database.clone(),
            source,
            master: master.clone(),
            dir,
            keep: usize::try_from(config.keep).unwrap_or(usize::MAX),
        }))
    }

    /// One scheduled run: a new backup, then the oldest beyond `keep` deleted. A failure is
    /// notified (`backup_failed`) and leaves the older backups alone.
    pub async fn run(
        &self,
        now: i64,
        notifier: &dyn kunci_domain::notify::Notifier,
    ) -> anyhow::Result<PathBuf> {
        let out = default_name(&self.dir, now);
        let written = write_backup(
            &self.database,
            &self.source,
            &self.master,
            &out,
            now,
            &mut Progress::hidden(),
        )
        .await;
        let result = written.and_then(|bytes| {
            tracing::info!(file = %out.display(), bytes, "scheduled backup written");
            self.prune()
        });
        match result {
            Ok(()) => Ok(out),
            Err(err) => {
                let why: String = format!("{err:#}").chars().take(300).collect();
                tracing::error!(error = %why, "scheduled backup failed");
                notifier.notify(
                    kunci_domain::notify::Notification::new(
                        kunci_domain::notify::EventKind::BackupFailed,
                        now,
                        self.dir.display().to_string(),
                    )
                    .detail("error", why),
                );
                Err(err)
            }
        }
    }

    /// Deletes the oldest `kunci-*.kbk` files beyond `keep`.
    fn prune(&self) -> anyhow::Result<()> {
        let backups = scheduled_files(&self.dir)?;
        let excess = backups.len().saturating_sub(self.keep);
        for old in backups.into_iter().take(excess) {
            std::fs::remove_file(&old)?;
            tracing::info!(file = %old.display(), "old backup deleted (backup.keep)");
        }
        Ok(())
    }
}
