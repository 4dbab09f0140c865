//! Files born private: kunci's folders, database files and key files are never readable by
//! group or others, not even for the moment between creating and `chmod`ing them.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `dir` and any missing parents with mode 0700. Folders that already exist are left
/// as they are (the permission checks at start-up judge them).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates `path` empty with mode 0600 unless it exists; an existing file is left untouched.
pub fn ensure_private_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Creates `path` with `content` and mode 0600, failing if it exists (a key file must never
/// replace another one by accident).
pub fn create_private_file(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut file = create_private(path)?;
    file.write_all(content)?;
    file.sync_all()?;
    sync_parent(path)
}

/// Opens the new file `path` for writing with mode 0600, failing if it exists.
pub fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Replaces `path` with `content` atomically: a private temporary file beside it is written,
/// flushed to disk and renamed over `path`. A reader sees the old file or the new one, never a
/// mix; a crash leaves at most a `.tmp` file behind, never a partial `path`.
pub fn write_private_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let tmp = temporary_sibling(path);
    let result = (|| {
        let mut file = create_private(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `FILE.tmp-<pid>`: unique per process, so two writers never share a temporary file.
pub fn temporary_sibling(path: &Path) -> std::path::PathBuf {
    sibling(path, "tmp")
}

/// `FILE.<tag>-<pid>`: a working file beside `path`, unique per process.
pub fn sibling(path: &Path, tag: &str) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}-{}", std::process::id()));
    path.with_file_name(name)
}

/// Flushes the folder holding `path`, so a rename or a new file in it survives a crash.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn folders_and_files_are_born_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("instance/nested");
        create_private_dir_all(&dir).unwrap();
        let file = dir.join("kunci.db");
        ensure_private_file(&file).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&tmp.path().join("instance")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f.enc");
        write_private_atomic(&file, b"one").unwrap();
        write_private_atomic(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn private_files_are_never_created_over_existing_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("key");
        create_private_file(&file, b"first").unwrap();
        let err = create_private_file(&file, b"second").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&file).unwrap(), b"first");
    }

    #[test]
    fn an_existing_file_keeps_its_content() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, b"data").unwrap();
        ensure_private_file(&file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"data");
    }
}
