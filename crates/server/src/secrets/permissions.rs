//! ssh-style permission checks: a secret file or folder that group or others can read or
//! write stops kunci, naming the file and the `chmod` that fixes it.

use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// A file or folder kunci refuses to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoosePermissions {
    pub path: PathBuf,
    pub mode: u32,
    pub is_dir: bool,
}

impl fmt::Display for LoosePermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix = if self.is_dir { 700 } else { 600 };
        write!(
            f,
            "{} is accessible by group or others (mode {:04o}); kunci refuses to use it. \
             Fix: chmod {fix} {}",
            self.path.display(),
            self.mode,
            self.path.display()
        )
    }
}

impl std::error::Error for LoosePermissions {}

/// Checks `path` if it exists: no permission bits for group or others. A missing path is fine
/// (kunci creates it private).
pub fn check(path: &Path) -> Result<(), LoosePermissions> {
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(LoosePermissions {
            path: path.to_path_buf(),
            mode,
            is_dir: metadata.is_dir(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn loose_files_and_folders_are_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("key");
        std::fs::write(&file, "k").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o666] {
            set(&file, mode);
            let err = check(&file).unwrap_err();
            assert!(
                err.to_string()
                    .ends_with(&format!("Fix: chmod 600 {}", file.display())),
                "{err}"
            );
        }
        set(&file, 0o600);
        check(&file).unwrap();
        set(&file, 0o400);
        check(&file).unwrap();

        let dir = tmp.path().join("instance");
        std::fs::create_dir(&dir).unwrap();
        set(&dir, 0o755);
        assert!(check(&dir).unwrap_err().to_string().contains("chmod 700"));
        set(&dir, 0o700);
        check(&dir).unwrap();
    }

    #[test]
    fn a_missing_path_is_not_an_error() {
        check(Path::new("/nonexistent/kunci/key")).unwrap();
    }
}
