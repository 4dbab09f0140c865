//! Reading a backup (every frame checked) and restoring it: a SQLite file beside the database
//! and renamed into place, or a server dump imported in one transaction.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use anyhow::{Context as _, bail};
use kunci_crypto::MasterKey;
use kunci_crypto::backup::{Header, Opener};
use kunci_store::fs::{create_private, sibling, sync_parent};
use kunci_store::{ConnectOptions, Database, DatabaseTarget};

use super::{Source, Summary, len64};
use crate::config::Loaded;
use crate::output::Progress;

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
    let database = crate::wiring::open_database(loaded).await?;
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
        let database = crate::wiring::open_database(loaded).await?;
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
