//! `kunci backup create | verify | restore`: encrypted, complete, checkable copies of the
//! database (docs/backups.md). The stream format is `kunci_crypto::backup`: chunk by chunk,
//! so a database of any size is never held in memory.
//!
//! SQLite, the embedded default: a `VACUUM INTO` snapshot (consistent, taken while the server
//! runs) is encrypted into the backup; a restore decrypts it beside the database, checks it is
//! an intact kunci database, keeps the current file aside and renames the restored one into
//! place. PostgreSQL and MariaDB/MySQL: a logical dump of every kunci table from one consistent
//! snapshot (`kunci_store::Database::export`) is encrypted as it is produced, never written in
//! clear; a restore checks the whole file first, then replaces every table's rows in one
//! transaction. A dump of either server restores into either.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use anyhow::{Context as _, bail};
use kunci_crypto::MasterKey;
use kunci_crypto::backup::{Header, MAX_CHUNK, Opener, Sealer};
use kunci_store::fs::{create_private, sibling, sync_parent};
use kunci_store::{ConnectOptions, Database, DatabaseTarget};

use kunci_domain::clock::{Clock as _, SystemClock};

use crate::commands::{Need, ProcessEnv, load};
use crate::config::{LoadInput, Loaded};
use crate::output::{self, Progress};

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

/// Encrypts what is written to it into the backup file, a frame per [`MAX_CHUNK`] bytes; the
/// rest goes out as the last frame in [`SealingWriter::finish`]. The clear text waits in a
/// buffer that is wiped when dropped.
struct SealingWriter<'a> {
    file: &'a mut File,
    sealer: &'a mut Sealer,
    buffer: Zeroizing<Vec<u8>>,
    total: u64,
}

impl<'a> SealingWriter<'a> {
    fn new(file: &'a mut File, sealer: &'a mut Sealer) -> Self {
        Self {
            file,
            sealer,
            buffer: Zeroizing::new(Vec::with_capacity(2 * MAX_CHUNK)),
            total: 0,
        }
    }

    /// Seals the rest as the last frame; the number of clear bytes sealed in all.
    fn finish(mut self) -> io::Result<u64> {
        let frame = self
            .sealer
            .frame(&self.buffer, true)
            .map_err(io::Error::other)?;
        self.file.write_all(&frame)?;
        self.total += len64(self.buffer.len());
        Ok(self.total)
    }
}

impl io::Write for SealingWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        // Strictly more than a chunk: what remains at the end is never empty unless the whole
        // stream is, and the last frame always carries it.
        while self.buffer.len() > MAX_CHUNK {
            let frame = self
                .sealer
                .frame(&self.buffer[..MAX_CHUNK], false)
                .map_err(io::Error::other)?;
            self.file.write_all(&frame)?;
            self.buffer.drain(..MAX_CHUNK);
            self.total += len64(MAX_CHUNK);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Copies the snapshot file into `out`, showing progress in bytes.
fn copy_file(snapshot: &Path, out: &mut dyn io::Write, progress: &mut Progress) -> io::Result<()> {
    let mut input = File::open(snapshot)?;
    let total = input.metadata()?.len();
    let mut buffer = Zeroizing::new(vec![0u8; MAX_CHUNK]);
    let mut done = 0u64;
    progress.set(0, total);
    loop {
        let n = input.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buffer[..n])?;
        done += len64(n);
        progress.set(done, total);
    }
}

/// `backup create`: the path written and the database's size.
pub async fn create(
    loaded: &Loaded,
    master: &MasterKey,
    out: Option<PathBuf>,
    now: i64,
) -> anyhow::Result<(PathBuf, u64)> {
    let source = Source::of(loaded)?;
    let database = crate::startup::open_database(loaded).await?;
    let out =
        out.unwrap_or_else(|| default_name(&loaded.root.join(&loaded.config.backup.dir), now));
    let mut progress = Progress::new("backup", units(&source));
    let result = write_backup(&database, &source, master, &out, now, &mut progress).await;
    progress.finish();
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

fn units(source: &Source) -> &'static str {
    match source {
        Source::File(_) => "bytes",
        Source::Server => "rows",
    }
}

/// Snapshots `database` and writes it encrypted to `out`: the bytes of clear text inside.
async fn write_backup(
    database: &Database,
    source: &Source,
    master: &MasterKey,
    out: &Path,
    now: i64,
    progress: &mut Progress,
) -> anyhow::Result<u64> {
    if out.exists() {
        bail!("{} exists: a backup never replaces another", out.display());
    }
    if let Some(parent) = out.parent() {
        kunci_store::fs::create_private_dir_all(parent)?;
    }
    let schema = database
        .migration_status()
        .await?
        .iter()
        .filter(|m| m.applied)
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let header = Header {
        fingerprint: master.fingerprint(),
        created_at: now,
        backend: database.backend().to_string(),
        schema,
    };
    // Written under a temporary name and renamed when complete: a backup interrupted at any
    // point leaves no file under the final name.
    let partial = sibling(out, "partial");
    let written = async {
        let mut file = create_private(&partial)?;
        let (mut sealer, line) = Sealer::new(master, &header);
        file.write_all(line.as_bytes())?;
        let mut sealing = SealingWriter::new(&mut file, &mut sealer);
        match source {
            Source::File(db_path) => {
                snapshot_file(database, db_path, &mut sealing, progress).await?;
            }
            Source::Server => {
                database
                    .export(schema, &mut sealing, &mut |done, total| {
                        progress.set(done, total);
                    })
                    .await
                    .context("the export of the database failed")?;
            }
        }
        let bytes = sealing.finish()?;
        file.sync_all()?;
        std::fs::rename(&partial, out)?;
        sync_parent(out)?;
        anyhow::Ok(bytes)
    }
    .await;
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// A consistent copy of the SQLite file beside it, into `out`; the copy (the database in
/// clear) is private at once and removed whatever happens.
async fn snapshot_file(
    database: &Database,
    db_path: &Path,
    out: &mut (dyn io::Write + Send),
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let snapshot = sibling(db_path, "backup-snapshot");
    let taken = database.snapshot_into(&snapshot).await;
    let result = (|| {
        taken.context("the snapshot of the database failed")?;
        std::fs::set_permissions(
            &snapshot,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )?;
        copy_file(&snapshot, out, progress)?;
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_file(&snapshot);
    result
}

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

/// The clear text of a backup, each frame checked as it is read: what it yields is authentic
/// and in order, and the end is only reached after the last frame.
pub struct BackupReader {
    input: BufReader<File>,
    opener: Opener,
    header: Header,
    plain: Zeroizing<Vec<u8>>,
    at: usize,
    ended: bool,
    blob: Vec<u8>,
}

impl std::fmt::Debug for BackupReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupReader")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl BackupReader {
    /// Opens `path` and reads its header: refused at once if it is not a backup or was made
    /// under another master key.
    pub fn open(path: &Path, master: &MasterKey) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut input = BufReader::new(file);
        let mut line = Vec::new();
        (&mut input).take(512).read_until(b'\n', &mut line)?;
        let line =
            String::from_utf8(line).map_err(|_| kunci_crypto::backup::BackupError::NotABackup)?;
        let (opener, header) = Opener::new(master, &line)?;
        Ok(Self {
            input,
            opener,
            header,
            plain: Zeroizing::new(Vec::new()),
            at: 0,
            ended: false,
            blob: Vec::new(),
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Opens the next frame into `plain`; false at the end of a complete stream.
    fn next_frame(&mut self) -> anyhow::Result<bool> {
        let mut prefix = [0u8; 4];
        match self.input.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                self.opener.finish()?;
                self.ended = true;
                return Ok(false);
            }
            Err(err) => return Err(err.into()),
        }
        let (length, last) = self.opener.prefix(prefix)?;
        self.blob.resize(length, 0);
        self.input.read_exact(&mut self.blob).map_err(|err| {
            if err.kind() == io::ErrorKind::UnexpectedEof {
                anyhow::Error::from(kunci_crypto::backup::BackupError::Truncated)
            } else {
                err.into()
            }
        })?;
        self.plain = self.opener.open(&self.blob, last)?;
        self.at = 0;
        Ok(true)
    }
}

impl io::Read for BackupReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.ended || !self.next_frame().map_err(io::Error::other)? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads a whole backup, checking every frame, and writes what it holds to `sink`.
pub fn read(path: &Path, master: &MasterKey, sink: &mut dyn io::Write) -> anyhow::Result<Summary> {
    let mut reader = BackupReader::open(path, master)?;
    let mut bytes = 0u64;
    while reader.next_frame()? {
        sink.write_all(&reader.plain)?;
        bytes += len64(reader.plain.len());
    }
    Ok(Summary {
        header: reader.header,
        bytes,
    })
}

/// Restores a dump of a server database (PostgreSQL or MariaDB/MySQL) into the configured one.
/// The database is brought to the backup's schema version first when it holds nothing, then
/// every table is replaced in one transaction, then the newer migrations run again.
async fn restore_server(
    loaded: &Loaded,
    master: &MasterKey,
    backup: &Path,
    force: bool,
    summary: &Summary,
) -> anyhow::Result<kunci_store::DumpSummary> {
    let wanted = summary.header.schema;
    let database = crate::startup::open_database(loaded).await?;
    let result = async {
        let status = database.migration_status().await?;
        let latest = status.iter().map(|m| m.version).max().unwrap_or(0);
        let current = status
            .iter()
            .filter(|m| m.applied)
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        if wanted > latest {
            bail!(
                "the backup has schema {wanted}, newer than this kunci knows ({latest}): restore \
                 it with the kunci version that made it"
            );
        }
        let occupied = current > 0 && database.holds_data().await.unwrap_or(true);
        if occupied && !force {
            bail!(
                "the {} database holds data: restoring would replace it. Stop kunci, then run \
                 `backup restore --force` (the restore is one transaction: all of the backup, \
                 or nothing)",
                database.backend()
            );
        }
        if current != wanted {
            if occupied {
                bail!(
                    "the database is at schema {current} and the backup at {wanted}: bring the \
                     database to schema {wanted} with `kunci db migrate` or `db rollback`, or \
                     restore into an empty database"
                );
            }
            database.migrate().await?;
            let newer = status.iter().filter(|m| m.version > wanted).count();
            database.rollback(newer).await?;
        }
        let mut progress = Progress::new("restore", "rows");
        let mut reader = BufReader::new(BackupReader::open(backup, master)?);
        let restored = database
            .import(&mut reader, &mut |done, total| progress.set(done, total))
            .await;
        progress.finish();
        let restored = restored.context("the restore failed; the database is as it was")?;
        database.migrate().await?;
        anyhow::Ok(restored)
    }
    .await;
    database.close().await;
    result
}

/// `backup restore`: the file the previous database was kept as, if there was one.
pub async fn restore(
    loaded: &Loaded,
    master: &MasterKey,
    backup: &Path,
    force: bool,
    now: i64,
) -> anyhow::Result<Option<PathBuf>> {
    // Everything is checked before anything is touched.
    let summary = read(backup, master, &mut io::sink())?;
    let server_dump = matches!(summary.header.backend.as_str(), "postgres" | "mysql");
    let db_path = match Source::of(loaded)? {
        Source::File(path) if summary.header.backend == "sqlite" => path,
        Source::Server if server_dump => {
            restore_server(loaded, master, backup, force, &summary).await?;
            return Ok(None);
        }
        Source::File(_) => bail!(
            "this backup holds a {} database; this deployment uses SQLite",
            summary.header.backend
        ),
        Source::Server => bail!(
            "this backup holds a {} database file; this deployment uses a database server \
             (a server database restores from a backup of PostgreSQL or MariaDB/MySQL)",
            summary.header.backend
        ),
    };
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
