//! What a killed backup leaves behind, found and removed. A `backup create` interrupted at
//! the wrong moment (SIGKILL, a power cut) can leave the SQLite snapshot — the whole database
//! in clear — in its private folder beside the database, and the encrypted file it was writing
//! under its temporary name. The next `backup create` and every `kunci serve` remove them;
//! `kunci doctor` fails while any is there.
//!
//! Only leftovers of processes that are gone are touched: each name carries the process id of
//! its writer, and a running one (`/proc/<pid>`) is left alone.

use std::path::{Path, PathBuf};

/// The prefix of the private folder a snapshot is taken in, beside the database.
pub(super) const SNAPSHOT_DIR: &str = ".kunci-snapshot-";

/// The process id at the end of `name` after `marker`, if `name` has that form.
fn pid_after(name: &str, marker: &str) -> Option<u32> {
    let (_, pid) = name.rsplit_once(marker)?;
    pid.parse().ok()
}

fn running(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

/// Whether `name` in a folder is a leftover of a backup whose writer is gone.
fn is_leftover(name: &str) -> bool {
    let pid = pid_after(name, SNAPSHOT_DIR)
        // Before the private folder: `kunci.db.backup-snapshot-<pid>` (and its `-journal`).
        .or_else(|| pid_after(name.trim_end_matches("-journal"), ".backup-snapshot-"))
        .or_else(|| pid_after(name, ".kbk.partial-"));
    pid.is_some_and(|pid| !running(pid))
}

/// The leftovers in `folders` (missing folders are skipped).
pub fn find(folders: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_str().is_some_and(is_leftover) {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

/// Removes the leftovers in `folders`; what was removed.
pub fn remove(folders: &[PathBuf]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for path in find(folders) {
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match gone {
            Ok(()) => {
                tracing::warn!(file = %path.display(), "removed what a killed backup left behind");
                removed.push(path);
            }
            Err(err) => {
                let file = path.display();
                tracing::warn!(%file, error = %err, "cannot remove what a backup left");
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_leftovers_of_processes_that_are_gone_count() {
        let gone = 999_999_999_u32;
        for name in [
            format!(".kunci-snapshot-{gone}"),
            format!("kunci.db.backup-snapshot-{gone}"),
            format!("kunci.db.backup-snapshot-{gone}-journal"),
            format!("kunci-20261203-120000.kbk.partial-{gone}"),
        ] {
            assert!(is_leftover(&name), "{name}");
        }
        let me = std::process::id();
        for name in [
            format!(".kunci-snapshot-{me}"),
            format!("kunci-20261203-120000.kbk.partial-{me}"),
            "kunci.db".to_owned(),
            "kunci-20261203-120000.kbk".to_owned(),
            ".kunci-snapshot-x".to_owned(),
            "notes.partial-12".to_owned(),
        ] {
            assert!(!is_leftover(&name), "{name}");
        }
    }
}
