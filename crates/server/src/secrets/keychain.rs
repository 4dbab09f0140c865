//! Where the master key comes from, first hit wins:
//!
//! 1. `KUNCI_MASTER_KEY`, the value itself: the production way, given at run time only;
//! 2. `KUNCI_MASTER_KEY_FILE`, a path (a mounted secret), which must be private;
//! 3. `security.master_key_command`, a command whose standard output is the key (the hook for a
//!    secret manager); run with a timeout, its standard error never shown;
//! 4. `instance/.masterkey`, in development and test only, created (0600) on first use.
//!
//! In staging and production the key file under `instance/` is never read: a key lying next to
//! the data it protects protects nothing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use kunci_crypto::{MasterKey, SecretString};
use kunci_domain::environment::Environment;
use tokio::io::AsyncReadExt as _;

use super::permissions;

/// The inputs of the chain, gathered from the process environment and the configuration.
#[derive(Debug, Clone, Default)]
pub struct KeyInputs {
    pub variable: Option<SecretString>,
    pub file: Option<PathBuf>,
    pub command: Option<String>,
    pub command_timeout: Duration,
}

/// Where the key in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Variable,
    File(PathBuf),
    Command,
    Instance(PathBuf),
    /// The development key file, created just now.
    Created(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Variable => f.write_str("KUNCI_MASTER_KEY"),
            Self::File(path) => write!(f, "KUNCI_MASTER_KEY_FILE ({})", path.display()),
            Self::Command => f.write_str("security.master_key_command"),
            Self::Instance(path) | Self::Created(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The development key file.
pub fn instance_key_path(root: &Path) -> PathBuf {
    root.join("instance").join(".masterkey")
}

/// Whether to create the development key file when no key is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    Yes,
    No,
}

/// Resolves the master key for `environment`.
pub async fn resolve(
    inputs: &KeyInputs,
    root: &Path,
    environment: Environment,
    create: Create,
) -> anyhow::Result<(MasterKey, KeySource)> {
    if let Some(value) = &inputs.variable {
        let key = MasterKey::parse(value.expose()).context("KUNCI_MASTER_KEY")?;
        return Ok((key, KeySource::Variable));
    }
    if let Some(path) = &inputs.file {
        return Ok((
            read_key_file(path).context("KUNCI_MASTER_KEY_FILE")?,
            KeySource::File(path.clone()),
        ));
    }
    if let Some(command) = &inputs.command {
        let key = run_command(command, inputs.command_timeout)
            .await
            .context("security.master_key_command")?;
        return Ok((key, KeySource::Command));
    }
    let path = instance_key_path(root);
    if environment.is_deployed() {
        bail!(
            "no master key for {environment}: give it at run time with KUNCI_MASTER_KEY (or \
             KUNCI_MASTER_KEY_FILE, or security.master_key_command); {} is accepted in \
             development and test only",
            path.display()
        );
    }
    if path.exists() {
        return Ok((read_key_file(&path)?, KeySource::Instance(path)));
    }
    if create == Create::No {
        bail!(
            "no master key: set KUNCI_MASTER_KEY, or run `kunci serve` once in development to \
             create {}",
            path.display()
        );
    }
    let key = MasterKey::generate()?;
    let parent = path.parent().unwrap_or(root);
    kunci_store::fs::create_private_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    permissions::check(parent)?;
    let text = format!("{}\n", key.encode().expose());
    kunci_store::fs::create_private_file(&path, text.as_bytes())
        .with_context(|| format!("cannot create the master key file {}", path.display()))?;
    Ok((key, KeySource::Created(path)))
}

/// Reads a key file after checking that nobody else can read it.
pub fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    permissions::check(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    let text = SecretString::new(text);
    MasterKey::parse(text.expose()).with_context(|| format!("in {}", path.display()))
}

async fn run_command(command: &str, timeout: Duration) -> anyhow::Result<MasterKey> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // A secret manager's error output may contain the secret: never shown, never logged.
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the command")?;
    let mut stdout = child.stdout.take().context("no standard output")?;
    let run = async {
        let mut output = Vec::new();
        stdout.read_to_end(&mut output).await?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, output))
    };
    let (status, output) = tokio::time::timeout(timeout, run)
        .await
        .with_context(|| format!("the command did not finish within {} s", timeout.as_secs()))?
        .context("the command failed to run")?;
    let output = SecretString::new(String::from_utf8(output).unwrap_or_default());
    if !status.success() {
        bail!("the command exited with {status} (its output is not shown)");
    }
    Ok(MasterKey::parse(output.expose())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> KeyInputs {
        KeyInputs {
            command_timeout: Duration::from_secs(5),
            ..KeyInputs::default()
        }
    }

    #[tokio::test]
    async fn the_variable_wins_over_everything_else() {
        let tmp = tempfile::tempdir().unwrap();
        let key = MasterKey::generate().unwrap();
        let mut inputs = inputs();
        inputs.variable = Some(key.encode());
        inputs.command = Some("exit 1".to_owned());
        let (found, source) = resolve(&inputs, tmp.path(), Environment::Production, Create::No)
            .await
            .unwrap();
        assert_eq!(found.fingerprint(), key.fingerprint());
        assert_eq!(source, KeySource::Variable);
    }

    #[tokio::test]
    async fn development_creates_a_private_key_file_once() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, source) = resolve(&inputs(), tmp.path(), Environment::Development, Create::Yes)
            .await
            .unwrap();
        let path = instance_key_path(tmp.path());
        assert_eq!(source, KeySource::Created(path.clone()));
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, source) = resolve(&inputs(), tmp.path(), Environment::Development, Create::Yes)
            .await
            .unwrap();
        assert_eq!(source, KeySource::Instance(path));
        assert_eq!(again.fingerprint(), first.fingerprint());
    }

    #[tokio::test]
    async fn staging_and_production_refuse_the_instance_key_file() {
        let tmp = tempfile::tempdir().unwrap();
        resolve(&inputs(), tmp.path(), Environment::Development, Create::Yes)
            .await
            .unwrap();
        for env in [Environment::Staging, Environment::Production] {
            let err = resolve(&inputs(), tmp.path(), env, Create::Yes)
                .await
                .unwrap_err();
            assert!(
                err.to_string()
                    .contains("give it at run time with KUNCI_MASTER_KEY"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn the_command_hook_gives_the_key_and_fails_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let key = MasterKey::generate().unwrap();
        let mut ok = inputs();
        ok.command = Some(format!(
            "echo CANARY-stderr >&2; printf '%s\\n' {}",
            key.encode().expose()
        ));
        let (found, _) = resolve(&ok, tmp.path(), Environment::Production, Create::No)
            .await
            .unwrap();
        assert_eq!(found.fingerprint(), key.fingerprint());

        let mut failing = inputs();
        failing.command = Some("echo CANARY >&2; echo CANARY; exit 3".to_owned());
        let err = resolve(&failing, tmp.path(), Environment::Production, Create::No)
            .await
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("exited with exit status: 3"), "{text}");
        assert!(!text.contains("CANARY"), "{text}");

        let mut slow = inputs();
        slow.command = Some("sleep 30".to_owned());
        slow.command_timeout = Duration::from_millis(200);
        let err = resolve(&slow, tmp.path(), Environment::Production, Create::No)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("did not finish"), "{err:#}");

        let mut garbage = inputs();
        garbage.command = Some("echo CANARY-not-a-key".to_owned());
        let err = resolve(&garbage, tmp.path(), Environment::Production, Create::No)
            .await
            .unwrap_err();
        assert!(!format!("{err:#}").contains("CANARY"), "{err:#}");
    }

    #[tokio::test]
    async fn a_loose_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("mk");
        std::fs::write(&path, MasterKey::generate().unwrap().encode().expose()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut inputs = inputs();
        inputs.file = Some(path.clone());
        let err = resolve(&inputs, tmp.path(), Environment::Production, Create::No)
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!("chmod 600 {}", path.display())),
            "{err:#}"
        );
    }
}
