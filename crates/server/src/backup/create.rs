//! Writing a backup: a consistent snapshot, sealed as it is produced, under a temporary name
//! until complete.

use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use anyhow::{Context as _, bail};
use kunci_crypto::MasterKey;
use kunci_crypto::backup::{Header, MAX_CHUNK, Sealer};
use kunci_store::Database;
use kunci_store::fs::{create_private, sibling, sync_parent};

use super::{Source, default_name, len64};
use crate::config::Loaded;
use crate::output::Progress;

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
    let out =
        out.unwrap_or_else(|| default_name(&loaded.root.join(&loaded.config.backup.dir), now));
    // What killed runs left goes first: beside the database, in `backup.dir`, and in the
    // folder this backup is written to.
    let mut folders = super::folders(loaded);
    folders.extend(out.parent().map(Path::to_path_buf));
    super::leftovers::remove(&folders);
    let database = crate::wiring::open_database(loaded).await?;
    let mut progress = Progress::new("backup", units(&source));
    let result = write_backup(&database, &source, master, &out, now, &mut progress).await;
    progress.finish();
    database.close().await;
    result.map(|bytes| (out, bytes))
}

fn units(source: &Source) -> &'static str {
    match source {
        Source::File(_) => "bytes",
        Source::Server => "rows",
    }
}

/// Snapshots `database` and writes it encrypted to `out`: the bytes of clear text inside.
pub(super) async fn write_backup(
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

/// A consistent copy of the SQLite file, into `out`. The copy (the database in clear) is
/// written inside a folder created 0700 beside the database before SQLite writes a byte, so
/// no other user can read it at any moment; it is removed whatever happens, and what a killed
/// run leaves is removed by the next one (`leftovers.rs`).
async fn snapshot_file(
    database: &Database,
    db_path: &Path,
    out: &mut (dyn io::Write + Send),
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let parent = db_path.parent().unwrap_or_else(|| Path::new("."));
    let folder = parent.join(format!(
        "{}{}",
        super::leftovers::SNAPSHOT_DIR,
        std::process::id()
    ));
    kunci_store::fs::create_private_dir_all(&folder)?;
    let snapshot = folder.join("snapshot.db");
    let taken = database.snapshot_into(&snapshot).await;
    let result = (|| {
        taken.context("the snapshot of the database failed")?;
        copy_file(&snapshot, out, progress)?;
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_dir_all(&folder);
    result
}
