//! The `.env.<environment>` files on disk: plaintext (never committed) and encrypted
//! (`.env.<environment>.enc`), and the operations `kunci env …` performs on them.
//!
//! Every write is atomic (temporary file, then rename) and born private (0600). Plaintext is
//! written to disk only where the user asks (`decrypt --out`) and, during `edit`, in a private
//! temporary folder that is always removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use kunci_crypto::envfile::{self, EnvFileError};
use kunci_crypto::{MasterKey, Purpose};
use kunci_domain::environment::Environment;
use zeroize::Zeroizing;

use super::dotenv::{self, Entry};
use super::permissions;

/// The three files of one environment.
#[derive(Debug, Clone)]
pub struct EnvPaths {
    pub plain: PathBuf,
    pub encrypted: PathBuf,
    pub backup: PathBuf,
}

impl EnvPaths {
    pub fn new(root: &Path, environment: Environment) -> Self {
        let plain = root.join(format!(".env.{environment}"));
        let encrypted = root.join(format!(".env.{environment}.enc"));
        let backup = root.join(format!(".env.{environment}.enc.bak"));
        Self {
            plain,
            encrypted,
            backup,
        }
    }

    fn shown(path: &Path) -> String {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// Reads and decrypts the encrypted file of `environment`, if there is one. A `.bak` left by
/// `rekey` is removed once the new key has opened the file: the new key has been used once.
pub fn load(
    paths: &EnvPaths,
    environment: Environment,
    key: &MasterKey,
) -> anyhow::Result<Option<Vec<Entry>>> {
    if !paths.encrypted.exists() {
        return Ok(None);
    }
    let plaintext = decrypt(paths, environment, key)?;
    let entries = parse(&plaintext, &paths.encrypted)?;
    retire_backup(paths, key);
    Ok(Some(entries))
}

/// In staging and production, a plaintext `.env.<env>` next to the encrypted one stops the
/// start: it is either stale or a secret lying on disk in the clear.
pub fn refuse_plaintext_beside_encrypted(
    paths: &EnvPaths,
    environment: Environment,
) -> anyhow::Result<()> {
    if environment.is_deployed() && paths.plain.exists() && paths.encrypted.exists() {
        bail!(
            "{} lies next to {} in {environment}: plaintext secrets must not stay on a deployed \
             machine. Remove it (after `kunci env encrypt {environment}` if it holds changes)",
            paths.plain.display(),
            EnvPaths::shown(&paths.encrypted)
        );
    }
    Ok(())
}

/// The decrypted text of the encrypted file.
pub fn decrypt(
    paths: &EnvPaths,
    environment: Environment,
    key: &MasterKey,
) -> anyhow::Result<Zeroizing<String>> {
    permissions::check(&paths.encrypted)?;
    let text = std::fs::read_to_string(&paths.encrypted)
        .with_context(|| format!("cannot read {}", paths.encrypted.display()))?;
    let plaintext = envfile::decrypt(key, environment.name(), &text)
        .map_err(|err| explain(err, &paths.encrypted))?;
    let plaintext = String::from_utf8(plaintext.to_vec()).map_err(|_| {
        anyhow::anyhow!(
            "{}: the decrypted content is not UTF-8 text",
            paths.encrypted.display()
        )
    })?;
    Ok(Zeroizing::new(plaintext))
}

fn explain(err: EnvFileError, path: &Path) -> anyhow::Error {
    anyhow::anyhow!("{}: {err}", path.display())
}

fn parse(plaintext: &str, origin: &Path) -> anyhow::Result<Vec<Entry>> {
    dotenv::parse(plaintext).with_context(|| format!("{} holds an invalid line", origin.display()))
}

fn retire_backup(paths: &EnvPaths, key: &MasterKey) {
    let Ok(text) = std::fs::read_to_string(&paths.backup) else {
        return;
    };
    if envfile::inspect(&text).is_ok_and(|header| header.key != key.fingerprint()) {
        match std::fs::remove_file(&paths.backup) {
            Ok(()) => tracing::info!(
                file = %paths.backup.display(),
                "removed the backup made by `env rekey`: the new master key has been used"
            ),
            Err(err) => {
                tracing::warn!(file = %paths.backup.display(), %err, "cannot remove the rekey backup");
            }
        }
    }
}

/// `kunci env encrypt`: `.env.<env>` → `.env.<env>.enc`. The plaintext must parse; the
/// result is read back and checked before it replaces anything. Returns the number of entries.
/// Encrypts `.env.<env>` into `.env.<env>.enc`; the names of its entries.
pub fn encrypt(
    paths: &EnvPaths,
    environment: Environment,
    key: &MasterKey,
) -> anyhow::Result<Vec<String>> {
    let plaintext = Zeroizing::new(
        std::fs::read_to_string(&paths.plain)
            .with_context(|| format!("cannot read {}", paths.plain.display()))?,
    );
    let entries = parse(&plaintext, &paths.plain)?;
    write_encrypted(paths, environment, key, &plaintext)?;
    Ok(entries.into_iter().map(|e| e.name).collect())
}

fn write_encrypted(
    paths: &EnvPaths,
    environment: Environment,
    key: &MasterKey,
    plaintext: &str,
) -> anyhow::Result<()> {
    let text = envfile::encrypt(key, environment.name(), plaintext.as_bytes())?;
    let check = envfile::decrypt(key, environment.name(), &text)?;
    if check.as_slice() != plaintext.as_bytes() {
        bail!("the encrypted file did not read back the same; nothing was written");
    }
    kunci_store::fs::write_private_atomic(&paths.encrypted, text.as_bytes())
        .with_context(|| format!("cannot write {}", paths.encrypted.display()))
}

/// The steps of `rekey`, in order; a test can stop after any of them to play a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyStep {
    Decrypted,
    Encrypted,
    Verified,
    BackedUp,
    Replaced,
}

/// `kunci env rekey`: re-encrypts under `new` without ever leaving a file nobody can open. The
/// old file is decrypted, the new one written beside it and read back with the new key, the old
/// file kept as `.enc.bak`, and only then is the new one renamed into place. Stopped at any
/// point, the file in place opens with the old key or (after the rename) with the new one,
/// and the backup with the old one.
pub fn rekey(
    paths: &EnvPaths,
    environment: Environment,
    old: &MasterKey,
    new: &MasterKey,
    after: &dyn Fn(RekeyStep) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let plaintext = decrypt(paths, environment, old)?;
    let old_text = std::fs::read(&paths.encrypted)?;
    after(RekeyStep::Decrypted)?;

    let new_text = envfile::encrypt(new, environment.name(), plaintext.as_bytes())?;
    let tmp = kunci_store::fs::temporary_sibling(&paths.encrypted);
    let _ = std::fs::remove_file(&tmp);
    kunci_store::fs::create_private_file(&tmp, new_text.as_bytes())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    after(RekeyStep::Encrypted)?;

    let written = std::fs::read_to_string(&tmp)?;
    let check = envfile::decrypt(new, environment.name(), &written);
    if !check.is_ok_and(|c| c.as_slice() == plaintext.as_bytes()) {
        let _ = std::fs::remove_file(&tmp);
        bail!("the re-encrypted file did not read back the same; nothing was replaced");
    }
    after(RekeyStep::Verified)?;

    kunci_store::fs::write_private_atomic(&paths.backup, &old_text)
        .with_context(|| format!("cannot write {}", paths.backup.display()))?;
    after(RekeyStep::BackedUp)?;

    std::fs::rename(&tmp, &paths.encrypted)
        .with_context(|| format!("cannot replace {}", paths.encrypted.display()))?;
    after(RekeyStep::Replaced)
}

/// What `edit` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    Unchanged,
    Saved { entries: usize },
}

/// `kunci env edit`: opens `editor` on a private temporary copy of the plaintext (an empty
/// template when there is no encrypted file yet), then encrypts what was saved. The copy is
/// overwritten and removed whatever happens: editor failure, invalid content, panic.
pub fn edit(
    paths: &EnvPaths,
    environment: Environment,
    key: &MasterKey,
    editor: &str,
) -> anyhow::Result<Edited> {
    let original = if paths.encrypted.exists() {
        decrypt(paths, environment, key)?
    } else {
        Zeroizing::new(format!(
            "# Secrets for {environment}, one NAME=value a line; kunci reads KUNCI__SECTION__KEY names.\n"
        ))
    };
    let scratch = Scratch::new(environment, &original)?;
    loop {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$@\""))
            .arg(editor)
            .arg(&scratch.file)
            .status()
            .with_context(|| format!("cannot start the editor `{editor}`"))?;
        if !status.success() {
            bail!("the editor exited with {status}; nothing was changed");
        }
        let edited = Zeroizing::new(
            std::fs::read_to_string(&scratch.file).context("cannot read the edited copy back")?,
        );
        if *edited == *original {
            return Ok(Edited::Unchanged);
        }
        match dotenv::parse(&edited) {
            Ok(entries) => {
                write_encrypted(paths, environment, key, &edited)?;
                return Ok(Edited::Saved {
                    entries: entries.len(),
                });
            }
            Err(err) if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                crate::output::note(&format!(
                    "{err}; opening the editor again (quit without saving to give up)"
                ));
            }
            Err(err) => bail!("{err}; nothing was changed"),
        }
    }
}

/// A private temporary folder (0700) holding the plaintext copy (0600); zeroed and removed
/// on drop.
struct Scratch {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl Scratch {
    fn new(environment: Environment, content: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("kunci-edit-")
            .tempdir()
            .context("cannot create a private temporary folder")?;
        let file = dir.path().join(format!(".env.{environment}"));
        kunci_store::fs::create_private_file(&file, content.as_bytes())?;
        Ok(Self { _dir: dir, file })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(metadata) = std::fs::metadata(&self.file) {
            let zeros = vec![0u8; usize::try_from(metadata.len()).unwrap_or(0)];
            let _ = std::fs::write(&self.file, zeros);
        }
    }
}

/// `kunci env diff FILE`, the git textconv driver: the header, then each name with a keyed
/// digest of its value (so a changed value shows as a changed line without showing the value),
/// or the values themselves with `show_values`. A file that cannot be decrypted still gives
/// output, so `git diff` keeps working.
pub fn textconv(text: &str, key: Option<&MasterKey>, show_values: bool) -> String {
    let header = match envfile::inspect(text) {
        Ok(header) => header,
        Err(EnvFileError::NotEncrypted) => return text.to_owned(),
        Err(err) => return format!("# {err}\n"),
    };
    let mut out = format!(
        "# kunci-env v1 env={} key={}\n",
        header.environment, header.key
    );
    let Some(key) = key else {
        out.push_str("# (no master key for this environment: values not shown)\n");
        return out;
    };
    let entries = envfile::decrypt(key, &header.environment, text)
        .map_err(|e| e.to_string())
        .and_then(|plain| {
            String::from_utf8(plain.to_vec()).map_err(|_| "not UTF-8 text".to_owned())
        })
        .and_then(|plain| dotenv::parse(&plain).map_err(|e| e.to_string()));
    match entries {
        Err(err) => out.push_str(&format!("# (cannot decrypt: {err})\n")),
        Ok(entries) => {
            for entry in entries {
                if show_values {
                    out.push_str(&format!("{}={:?}\n", entry.name, entry.value.expose()));
                } else {
                    let mut data = format!("{}\0{}\0", header.environment, entry.name).into_bytes();
                    data.extend_from_slice(entry.value.expose().as_bytes());
                    let digest = key.keyed_digest(Purpose::Digest, &data);
                    let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
                    out.push_str(&format!("{}=<value {short}>\n", entry.name));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "CANARY-envfile";

    fn project() -> (tempfile::TempDir, EnvPaths) {
        let tmp = tempfile::tempdir().unwrap();
        let paths = EnvPaths::new(tmp.path(), Environment::Staging);
        std::fs::write(
            &paths.plain,
            format!("KUNCI__DATA__DATABASE_URL=postgres://u:{CANARY}@db/k\n"),
        )
        .unwrap();
        (tmp, paths)
    }

    fn opens_with(paths: &EnvPaths, path: &Path, key: &MasterKey) -> bool {
        let text = std::fs::read_to_string(path).unwrap();
        envfile::decrypt(key, "staging", &text).is_ok_and(|_| paths.encrypted.exists())
    }

    #[test]
    fn rekey_stopped_after_any_step_leaves_a_file_that_opens() {
        let steps = [
            RekeyStep::Decrypted,
            RekeyStep::Encrypted,
            RekeyStep::Verified,
            RekeyStep::BackedUp,
            RekeyStep::Replaced,
        ];
        for stop in steps {
            let (_tmp, paths) = project();
            let (old, new) = (
                MasterKey::generate().unwrap(),
                MasterKey::generate().unwrap(),
            );
            encrypt(&paths, Environment::Staging, &old).unwrap();
            let crash = |step| if step == stop { bail!("crash") } else { Ok(()) };
            let result = rekey(&paths, Environment::Staging, &old, &new, &crash);
            assert!(result.is_err(), "{stop:?}");
            let in_place_old = opens_with(&paths, &paths.encrypted, &old);
            let in_place_new = opens_with(&paths, &paths.encrypted, &new);
            if stop == RekeyStep::Replaced {
                assert!(in_place_new, "{stop:?}");
                assert!(
                    opens_with(&paths, &paths.backup, &old),
                    "{stop:?}: the backup opens with the old key"
                );
            } else {
                assert!(
                    in_place_old,
                    "{stop:?}: the file in place still opens with the old key"
                );
            }
        }
    }

    #[test]
    fn a_completed_rekey_keeps_the_backup_until_the_new_key_is_used() {
        let (_tmp, paths) = project();
        let (old, new) = (
            MasterKey::generate().unwrap(),
            MasterKey::generate().unwrap(),
        );
        encrypt(&paths, Environment::Staging, &old).unwrap();
        rekey(&paths, Environment::Staging, &old, &new, &|_| Ok(())).unwrap();
        assert!(paths.backup.exists());
        assert!(
            load(&paths, Environment::Staging, &old).is_err(),
            "the old key no longer opens it"
        );
        assert!(paths.backup.exists(), "a failed use keeps the backup");
        let entries = load(&paths, Environment::Staging, &new).unwrap().unwrap();
        assert_eq!(entries.len(), 1);
        assert!(
            !paths.backup.exists(),
            "the first use of the new key retires the backup"
        );
    }

    #[test]
    fn encrypt_refuses_invalid_plaintext_and_writes_nothing() {
        let (_tmp, paths) = project();
        std::fs::write(&paths.plain, "NOT VALID\n").unwrap();
        let err = encrypt(
            &paths,
            Environment::Staging,
            &MasterKey::generate().unwrap(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
        assert!(!paths.encrypted.exists());
    }

    #[test]
    fn textconv_shows_names_and_digests_but_not_values() {
        let (_tmp, paths) = project();
        let key = MasterKey::generate().unwrap();
        encrypt(&paths, Environment::Staging, &key).unwrap();
        let text = std::fs::read_to_string(&paths.encrypted).unwrap();
        let shown = textconv(&text, Some(&key), false);
        assert!(
            shown.contains("KUNCI__DATA__DATABASE_URL=<value "),
            "{shown}"
        );
        assert!(!shown.contains(CANARY));
        assert!(textconv(&text, Some(&key), true).contains(CANARY));
        let other = MasterKey::generate().unwrap();
        assert!(textconv(&text, Some(&other), false).contains("[wrong_key]"));
        assert!(textconv(&text, None, false).contains("values not shown"));
    }
}
