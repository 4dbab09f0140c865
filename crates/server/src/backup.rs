//! `kunci backup create | verify | restore`: encrypted, complete, checkable copies of the
//! database (docs/backups.md). The stream format is `kunci_crypto::backup`: chunk by chunk,
//! so a database of any size is never held in memory.
//!
//! This version backs up SQLite, the embedded default: a `VACUUM INTO` snapshot (consistent,
//! taken while the server runs) is encrypted into the backup; a restore decrypts it beside the
//! database, checks it is an intact kunci database, keeps the current file aside and renames
//! the restored one into place. PostgreSQL needs a logical export and is refused with a clear
//! message until that is built.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use kunci_crypto::MasterKey;
use kunci_crypto::backup::{Header, MAX_CHUNK, Opener, Sealer};
use kunci_store::fs::{create_private, sibling, sync_parent};
use kunci_store::{ConnectOptions, Database, DatabaseTarget};

use kunci_domain::clock::{Clock as _, SystemClock};

use crate::commands::{Need, ProcessEnv, load};
use crate::config::{LoadInput, Loaded};
use crate::output;

/// What a backup holds, as `verify` found it.
#[derive(Debug)]
pub struct Summary {
    pub header: Header,
    /// Bytes of the database inside.
    pub bytes: u64,
}

fn sqlite_path(loaded: &Loaded) -> anyhow::Result<PathBuf> {
    let target = DatabaseTarget::parse(loaded.config.data.database_url.expose(), &loaded.root)
        .context("`data.database_url`")?;
    match target {
        DatabaseTarget::Sqlite { path: Some(path) } => Ok(path),
        DatabaseTarget::Sqlite { path: None } => {
            bail!("an in-memory database cannot be backed up")
        }
        DatabaseTarget::Postgres { .. } | DatabaseTarget::MySql { .. } => bail!(
            "backups of PostgreSQL are not built yet (only SQLite): use pg_dump for now, \
             and keep its output as private as the database"
        ),
    }
}

/// Reads up to a full chunk (short only at the end of the input).
fn read_chunk(input: &mut impl io::Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Encrypts `snapshot` into `out`, frame by frame.
fn seal_file(snapshot: &Path, out: &mut File, sealer: &mut Sealer) -> anyhow::Result<u64> {
    let mut input = BufReader::new(File::open(snapshot)?);
    let mut current = vec![0u8; MAX_CHUNK];
    let mut next = vec![0u8; MAX_CHUNK];
    let mut length = read_chunk(&mut input, &mut current)?;
    let mut total = 0u64;
    loop {
        let next_length = read_chunk(&mut input, &mut next)?;
        let last = next_length == 0;
        out.write_all(&sealer.frame(&current[..length], last)?)?;
        total += u64::try_from(length)?;
        if last {
            return Ok(total);
        }
        std::mem::swap(&mut current, &mut next);
        length = next_length;
    }
}

/// `backup create`: the path written and the database's size.
pub async fn create(
    loaded: &Loaded,
    master: &MasterKey,
    out: Option<PathBuf>,
    now: i64,
) -> anyhow::Result<(PathBuf, u64)> {
    let db_path = sqlite_path(loaded)?;
    let database = crate::startup::open_database(loaded).await?;
    let out =
        out.unwrap_or_else(|| default_name(&loaded.root.join(&loaded.config.backup.dir), now));
    let result = write_backup(&database, &db_path, master, &out, now).await;
    database.close().await;
    result.map(|bytes| (out, bytes))
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

/// Snapshots `database` (the SQLite file `db_path`) and writes it encrypted to `out`.
async fn write_backup(
    database: &Database,
    db_path: &Path,
    master: &MasterKey,
    out: &Path,
    now: i64,
) -> anyhow::Result<u64> {
    let schema = database
        .migration_status()
        .await?
        .iter()
        .filter(|m| m.applied)
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let snapshot = sibling(db_path, "backup-snapshot");
    let taken = database.snapshot_into(&snapshot).await;
    // The snapshot is the database in clear: private at once, removed whatever happens.
    let result = async {
        taken.context("the snapshot of the database failed")?;
        std::fs::set_permissions(
            &snapshot,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )?;
        if let Some(parent) = out.parent() {
            kunci_store::fs::create_private_dir_all(parent)?;
        }
        if out.exists() {
            bail!("{} exists: a backup never replaces another", out.display());
        }
        let header = Header {
            fingerprint: master.fingerprint(),
            created_at: now,
            backend: "sqlite".to_owned(),
            schema,
        };
        // Written under a temporary name and renamed when complete: a backup interrupted at
        // any point leaves no file under the final name.
        let partial = sibling(out, "partial");
        let written = (|| {
            let mut file = create_private(&partial)?;
            let (mut sealer, line) = Sealer::new(master, &header);
            file.write_all(line.as_bytes())?;
            let bytes = seal_file(&snapshot, &mut file, &mut sealer)?;
            file.sync_all()?;
            std::fs::rename(&partial, out)?;
            sync_parent(out)?;
            anyhow::Ok(bytes)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written
    }
    .await;
    let _ = std::fs::remove_file(&snapshot);
    result
}

/// Scheduled backups (`[backup]`): where, and how many to keep.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub database: Database,
    pub db_path: PathBuf,
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
        let db_path = sqlite_path(loaded).context("`backup.interval_hours`")?;
        let dir = if config.dir.is_absolute() {
            config.dir.clone()
        } else {
            loaded.root.join(&config.dir)
        };
        Ok(Some(Self {
            database: database.clone(),
            db_path,
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
        let written = write_backup(&self.database, &self.db_path, &self.master, &out, now).await;
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
        let mut backups: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("kunci-") && n.ends_with(".kbk"))
            })
            .collect();
        backups.sort();
        let excess = backups.len().saturating_sub(self.keep);
        for old in backups.into_iter().take(excess) {
            std::fs::remove_file(&old)?;
            tracing::info!(file = %old.display(), "old backup deleted (backup.keep)");
        }
        Ok(())
    }
}

/// Reads a whole backup, checking every frame, and writes what it holds to `sink`.
pub fn read(path: &Path, master: &MasterKey, sink: &mut dyn io::Write) -> anyhow::Result<Summary> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut input = BufReader::new(file);
    let mut line = Vec::new();
    (&mut input).take(512).read_until(b'\n', &mut line)?;
    let line =
        String::from_utf8(line).map_err(|_| kunci_crypto::backup::BackupError::NotABackup)?;
    let (mut opener, header) = Opener::new(master, &line)?;
    let mut bytes = 0u64;
    let mut blob = Vec::new();
    loop {
        let mut prefix = [0u8; 4];
        match input.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(err) => return Err(err.into()),
        }
        let (length, last) = opener.prefix(prefix)?;
        blob.resize(length, 0);
        input.read_exact(&mut blob).map_err(|err| {
            if err.kind() == io::ErrorKind::UnexpectedEof {
                anyhow::Error::from(kunci_crypto::backup::BackupError::Truncated)
            } else {
                err.into()
            }
        })?;
        let plain = opener.open(&blob, last)?;
        sink.write_all(&plain)?;
        bytes += u64::try_from(plain.len())?;
    }
    opener.finish()?;
    Ok(Summary { header, bytes })
}

/// `backup restore`: the file the previous database was kept as, if there was one.
pub async fn restore(
    loaded: &Loaded,
    master: &MasterKey,
    backup: &Path,
    force: bool,
    now: i64,
) -> anyhow::Result<Option<PathBuf>> {
    let db_path = sqlite_path(loaded)?;
    // Everything is checked before anything is touched.
    let summary = read(backup, master, &mut io::sink())?;
    if summary.header.backend != "sqlite" {
        bail!(
            "this backup holds a {} database; this deployment uses SQLite",
            summary.header.backend
        );
    }
    let occupied = if db_path.exists() {
        let database = crate::startup::open_database(loaded).await?;
        let holds = database.holds_data().await;
        database.close().await;
        holds.unwrap_or(true)
    } else {
        false
    };
    if occupied && !force {
        bail!(
            "{} holds data: restoring would replace it. Stop kunci, then run `backup restore \
             --force` (the current database is kept beside it)",
            db_path.display()
        );
    }
    if let Some(parent) = db_path.parent() {
        kunci_store::fs::create_private_dir_all(parent)?;
    }
    let restored = sibling(&db_path, "restoring");
    let result = async {
        {
            let mut file = create_private(&restored)?;
            read(backup, master, &mut file)?;
            file.sync_all()?;
        }
        let target = DatabaseTarget::Sqlite {
            path: Some(restored.clone()),
        };
        let check = Database::connect(&target, &ConnectOptions::default()).await?;
        let integrity = check.integrity().await;
        let status = check.migration_status().await;
        check.close().await;
        let integrity = integrity.context("the restored database cannot be read")?;
        if integrity != "ok" {
            bail!("the restored database is damaged: {integrity}");
        }
        status.context("the restored file is not a kunci database")?;
        let kept = if db_path.exists() {
            let kept = db_path.with_file_name(format!(
                "{}.before-restore-{now}",
                db_path.file_name().unwrap_or_default().to_string_lossy()
            ));
            for suffix in ["", "-wal", "-shm"] {
                let from = PathBuf::from(format!("{}{suffix}", db_path.display()));
                if from.exists() {
                    std::fs::rename(&from, format!("{}{suffix}", kept.display()))?;
                }
            }
            Some(kept)
        } else {
            None
        };
        std::fs::rename(&restored, &db_path)?;
        sync_parent(&db_path)?;
        anyhow::Ok(kept)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&restored);
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", restored.display()));
        }
    }
    result
}

/// `kunci backup …`
pub async fn command(
    input: &LoadInput,
    process: &ProcessEnv,
    command: crate::cli::BackupCommand,
) -> anyhow::Result<()> {
    use crate::cli::BackupCommand;
    let (loaded, key) = load(input, process, Need::Always).await?;
    let (key, _) = key.context("no master key")?;
    let now = SystemClock.now_unix();
    match command {
        BackupCommand::Create { out } => {
            let (path, bytes) = create(&loaded, &key, out, now).await?;
            output::result(&format!(
                "wrote {} ({bytes} bytes of database, encrypted under master key {})",
                path.display(),
                key.fingerprint()
            ));
        }
        BackupCommand::Verify { file } => {
            let summary = read(&file, &key, &mut io::sink())?;
            output::result(&format!(
                "{} is complete and intact: a {} database ({} bytes, schema {}) taken at {}",
                file.display(),
                summary.header.backend,
                summary.bytes,
                summary.header.schema,
                time::OffsetDateTime::from_unix_timestamp(summary.header.created_at)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            ));
        }
        BackupCommand::Restore { file, force } => {
            let kept = restore(&loaded, &key, &file, force, now).await?;
            let mut text = format!("restored the database from {}", file.display());
            if let Some(kept) = kept {
                text.push_str(&format!("; the previous one is kept as {}", kept.display()));
            }
            output::result(&text);
        }
    }
    Ok(())
}
