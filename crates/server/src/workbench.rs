//! The shared loading every command and the server start from: the one snapshot of the
//! process environment, the configuration with its encrypted env file layered in, the master
//! key, and the [`Workbench`] of commands that read or change kunci's data.
//!
//! It sits below `commands/` and beside `wiring.rs` (whose builders it uses); nothing here
//! dispatches or prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use kunci_crypto::{MasterKey, SecretString};
use kunci_domain::audit::AuditLog;
use kunci_domain::clock::SystemClock;
use kunci_domain::environment::Environment;

use crate::config::{self, EncryptedLayer, KeySettings, LoadInput, Loaded};
use crate::secrets::envfiles::{self, EnvPaths};
use crate::secrets::keychain::{self, Create, KeyInputs, KeySource};
use crate::wiring;

/// What kunci takes from the process environment, read once.
#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    /// `KUNCI__…` configuration variables.
    pub variables: Vec<(String, String)>,
    pub master_key: Option<SecretString>,
    pub master_key_file: Option<PathBuf>,
    pub editor: Option<String>,
    /// `KUNCI_…` names with a single underscore that look like configuration variables
    /// (`KUNCI_SECURITY_LOCKOUT_HOURS`): never read, worth a warning.
    pub lookalikes: Vec<String>,
}

impl ProcessEnv {
    /// The one snapshot of the process environment (besides clap's `KUNCI_ENV`).
    #[expect(
        clippy::disallowed_methods,
        reason = "the one read of the process environment"
    )]
    pub fn capture() -> Self {
        let mut env = Self::default();
        for (name, value) in std::env::vars_os() {
            let Ok(name) = name.into_string() else {
                continue;
            };
            // A value that is not UTF-8 cannot be a setting; keep it empty so it is reported.
            let value = value.into_string().unwrap_or_default();
            match name.as_str() {
                "KUNCI_MASTER_KEY" => env.master_key = Some(SecretString::new(value)),
                "KUNCI_MASTER_KEY_FILE" => env.master_key_file = Some(PathBuf::from(value)),
                "VISUAL" if !value.is_empty() => env.editor = Some(value),
                "EDITOR" if env.editor.is_none() && !value.is_empty() => env.editor = Some(value),
                _ if name.starts_with("KUNCI__") => env.variables.push((name, value)),
                "KUNCI_ENV" => {}
                // The project's own: its test services, its supply-chain check.
                _ if name.starts_with("KUNCI_TEST_") || name == "KUNCI_ADVISORY_DB" => {}
                _ if name.starts_with("KUNCI_") => env.lookalikes.push(name),
                _ => {}
            }
        }
        env
    }
}

/// Whether a command needs the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Always; in development and test it is created on first use.
    Always,
    /// Only to read an encrypted env file, if there is one.
    IfEncrypted,
}

/// Loads the configuration, with the encrypted env file decrypted and layered in when present.
/// The plain layers are judged only as far as the master key needs them
/// (`master_key_command`) before the file is decrypted: the file may hold the very values they
/// lack, and the whole configuration is judged once, with it.
pub(crate) async fn load(
    input: &LoadInput,
    process: &ProcessEnv,
    need: Need,
) -> anyhow::Result<(Loaded, Option<(MasterKey, KeySource)>)> {
    let paths = EnvPaths::new(&input.root, input.environment);
    envfiles::refuse_plaintext_beside_encrypted(&paths, input.environment)?;
    if need == Need::IfEncrypted && !paths.encrypted.exists() {
        return Ok((config::load(input)?, None));
    }
    let create = if need == Need::Always {
        Create::Yes
    } else {
        Create::No
    };
    let settings = config::key_settings(input)?;
    let (key, source) =
        master_key(&settings, &input.root, process, input.environment, create).await?;
    let Some(entries) = envfiles::load(&paths, input.environment, &key)? else {
        return Ok((config::load(input)?, Some((key, source))));
    };
    let file = format!(".env.{}.enc", input.environment);
    let entries = entries.into_iter().map(|e| (e.name, e.value)).collect();
    let layered = LoadInput {
        encrypted: Some(EncryptedLayer { file, entries }),
        ..input.clone()
    };
    Ok((config::load(&layered)?, Some((key, source))))
}

/// The master key, from the first source that has one (docs/secrets.md).
pub(crate) async fn master_key(
    settings: &KeySettings,
    root: &Path,
    process: &ProcessEnv,
    environment: Environment,
    create: Create,
) -> anyhow::Result<(MasterKey, KeySource)> {
    let inputs = KeyInputs {
        variable: process.master_key.clone(),
        file: process.master_key_file.clone(),
        command: settings.command.clone(),
        command_timeout: Duration::from_secs(settings.command_timeout_secs),
    };
    keychain::resolve(&inputs, root, environment, create).await
}

/// What commands that read or change kunci's data work with: the configuration, the master
/// key, the migrated database, the audit log and the notification channels.
pub(crate) struct Workbench {
    pub(crate) loaded: Loaded,
    pub(crate) master: MasterKey,
    pub(crate) database: kunci_store::Database,
    pub(crate) audit: AuditLog,
    pub(crate) notifier: Arc<kunci_upstream::notify::Dispatcher>,
    pub(crate) clock: Arc<dyn kunci_domain::clock::Clock>,
}

impl Workbench {
    pub(crate) async fn open(input: &LoadInput, process: &ProcessEnv) -> anyhow::Result<Self> {
        let (loaded, key) = load(input, process, Need::Always).await?;
        let (master, _) = key.context("no master key")?;
        let database = wiring::open_database(&loaded).await?;
        if !database.pending_migrations().await?.is_empty() {
            database.close().await;
            bail!(
                "the database has pending migrations; run `kunci --env {} db migrate` first",
                input.environment
            );
        }
        let clock: Arc<dyn kunci_domain::clock::Clock> = Arc::new(SystemClock);
        let audit = AuditLog::new(Arc::new(database.clone()), master.clone(), clock.clone());
        let notifier = wiring::notifier(&loaded.config, clock.clone())?;
        Ok(Self {
            loaded,
            master,
            database,
            audit,
            notifier,
            clock,
        })
    }

    /// Lets queued notifications go out, then closes the database.
    async fn close(self) {
        self.notifier.finish(Duration::from_secs(15)).await;
        self.database.close().await;
    }

    /// Runs `work`, closes, and returns what `work` returned.
    pub(crate) async fn run<T>(
        self,
        work: impl AsyncFnOnce(&Self) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let result = work(&self).await;
        self.close().await;
        result
    }
}

/// `instance/kunci.lock`: `kunci serve` holds it shared while it runs, so that the commands
/// that would pull the database from under it (`backup restore`, `db rollback`) can tell.
fn lock_path(root: &Path) -> PathBuf {
    root.join("instance").join("kunci.lock")
}

/// Held by `serve` for as long as it runs.
#[derive(Debug)]
pub(crate) struct ServingLock {
    _file: std::fs::File,
}

/// Marks the project as served (a shared lock: several instances may serve one project).
pub(crate) fn serving(root: &Path) -> anyhow::Result<ServingLock> {
    let path = lock_path(root);
    kunci_store::fs::create_private_dir_all(&root.join("instance"))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.lock_shared()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(ServingLock { _file: file })
}

/// Refuses when `kunci serve` runs on this project, unless the operator says they know.
pub(crate) fn refuse_while_served(root: &Path, anyway: bool, what: &str) -> anyhow::Result<()> {
    let path = lock_path(root);
    let Ok(file) = std::fs::OpenOptions::new().append(true).open(&path) else {
        return Ok(());
    };
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) if anyway => {
            tracing::warn!("{what} while `kunci serve` runs on this project, as asked");
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "`kunci serve` runs on this project ({} is held): stop it before you {what}, or add \
             --i-know-the-server-is-running",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("cannot check {}", path.display()))
        }
    }
}
