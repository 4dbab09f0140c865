//! What each subcommand does. Results go to stdout through [`output`], progress to the log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use kunci_crypto::keyring::{KeyPurpose, Kid};
use kunci_crypto::{MasterKey, SecretString};
use kunci_domain::audit::AuditLog;
use kunci_domain::clock::SystemClock;
use kunci_domain::environment::Environment;
use kunci_domain::keys::KeyRingService;

use crate::cli::{
    AuditCommand, Cli, Command, ConfigCommand, DbCommand, EnvCommand, KeyCommand, KeysCommand,
};
use crate::config::{self, EncryptedLayer, LoadInput, Loaded};
use crate::secrets::envfiles::{self, EnvPaths};
use crate::secrets::keychain::{self, Create, KeyInputs, KeySource};
use crate::{logging, output, startup};

/// What kunci takes from the process environment, read once.
#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    /// `KUNCI__…` configuration variables.
    pub variables: Vec<(String, String)>,
    pub master_key: Option<SecretString>,
    pub master_key_file: Option<PathBuf>,
    pub editor: Option<String>,
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
                _ => {}
            }
        }
        env
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let root = std::path::absolute(&cli.global.root).with_context(|| {
        format!(
            "cannot resolve the project folder {}",
            cli.global.root.display()
        )
    })?;
    let process = ProcessEnv::capture();
    let input = LoadInput {
        root,
        environment: cli.global.env,
        variables: process.variables.clone(),
        encrypted: None,
    };
    match cli.command {
        Command::Serve => serve(&input, &process).await,
        Command::Config(ConfigCommand::Show) => {
            let (loaded, _) = load(&input, &process, Need::IfEncrypted).await?;
            output::result(&config::show::render(&loaded));
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            load(&input, &process, Need::IfEncrypted).await?;
            output::result(&format!("the {} configuration is valid", input.environment));
            Ok(())
        }
        Command::Config(ConfigCommand::Docs) => {
            output::result(&config::docs::markdown());
            Ok(())
        }
        Command::Db(command) => db(&input, &process, command).await,
        Command::Key(KeyCommand::Generate { out }) => generate_key(out.as_deref()),
        Command::Env(command) => env(&input, &process, command).await,
        Command::Keys(command) => keys(&input, &process, command).await,
        Command::Audit(command) => audit(&input, &process, command).await,
        Command::Client(command) => crate::admin::client(&input, &process, command).await,
        Command::User(command) => crate::admin::user(&input, &process, command).await,
        Command::Apikey(command) => crate::admin::apikey(&input, &process, command).await,
        Command::Doctor { url } => crate::doctor::command(&input, &process, url).await,
        Command::Backup(command) => crate::backup::command(&input, &process, command).await,
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
pub(crate) async fn load(
    input: &LoadInput,
    process: &ProcessEnv,
    need: Need,
) -> anyhow::Result<(Loaded, Option<(MasterKey, KeySource)>)> {
    let plain = config::load(input)?;
    let paths = EnvPaths::new(&input.root, input.environment);
    envfiles::refuse_plaintext_beside_encrypted(&paths, input.environment)?;
    if need == Need::IfEncrypted && !paths.encrypted.exists() {
        return Ok((plain, None));
    }
    let create = if need == Need::Always {
        Create::Yes
    } else {
        Create::No
    };
    let (key, source) = master_key(&plain, process, input.environment, create).await?;
    let Some(entries) = envfiles::load(&paths, input.environment, &key)? else {
        return Ok((plain, Some((key, source))));
    };
    let file = format!(".env.{}.enc", input.environment);
    let entries = entries.into_iter().map(|e| (e.name, e.value)).collect();
    let layered = LoadInput {
        encrypted: Some(EncryptedLayer { file, entries }),
        ..input.clone()
    };
    Ok((config::load(&layered)?, Some((key, source))))
}

async fn master_key(
    loaded: &Loaded,
    process: &ProcessEnv,
    environment: Environment,
    create: Create,
) -> anyhow::Result<(MasterKey, KeySource)> {
    let security = &loaded.config.security;
    let inputs = KeyInputs {
        variable: process.master_key.clone(),
        file: process.master_key_file.clone(),
        command: security.master_key_command.clone(),
        command_timeout: Duration::from_secs(security.master_key_command_timeout_secs),
    };
    keychain::resolve(&inputs, &loaded.root, environment, create).await
}

async fn serve(input: &LoadInput, process: &ProcessEnv) -> anyhow::Result<()> {
    let (loaded, key) = load(input, process, Need::Always).await?;
    let _log = logging::init(&loaded.config.logger, &loaded.root)?;
    let (key, source) = key.context("no master key")?;
    if let KeySource::Created(path) = &source {
        output::note(&format!(
            "created the development master key {} (fingerprint {}). Keep a copy in a \
             password manager: without it nothing encrypted with it can be read.",
            path.display(),
            key.fingerprint()
        ));
    }
    tracing::info!(fingerprint = %key.fingerprint(), %source, "master key loaded");
    let app = startup::Application::build(&loaded, key, Arc::new(SystemClock)).await?;
    for line in app.first_run_notes() {
        output::note(line);
    }
    output::note(&format!(
        "kunci ({}) is serving on {}://{} — public URL {}",
        loaded.environment,
        if app.serves_https() { "https" } else { "http" },
        app.local_addr(),
        loaded.config.environment.public_url
    ));
    app.run_until(startup::shutdown_signal()).await
}

async fn db(input: &LoadInput, process: &ProcessEnv, command: DbCommand) -> anyhow::Result<()> {
    let (loaded, _) = load(input, process, Need::IfEncrypted).await?;
    let database = startup::open_database(&loaded).await?;
    let result = match command {
        DbCommand::Migrate => database
            .migrate()
            .await
            .map(|applied| match applied.as_slice() {
                [] => "the database is up to date".to_owned(),
                versions => format!("applied migrations {}", list(versions)),
            }),
        DbCommand::Rollback { steps } => {
            let steps = usize::try_from(steps).unwrap_or(usize::MAX);
            database
                .rollback(steps)
                .await
                .map(|reverted| match reverted.as_slice() {
                    [] => "no migration is applied; nothing to roll back".to_owned(),
                    versions => format!("reverted migrations {}", list(versions)),
                })
        }
        DbCommand::Status => database.migration_status().await.map(|states| {
            let mut text = format!(
                "backend: {}\n{:>8}  {:<9}  description\n",
                database.backend(),
                "version",
                "state"
            );
            for state in states {
                let shown = if state.applied { "applied" } else { "pending" };
                text.push_str(&format!(
                    "{:>8}  {shown:<9}  {}\n",
                    state.version, state.description
                ));
            }
            text
        }),
    };
    database.close().await;
    output::result(&result?);
    Ok(())
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn generate_key(out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let key = MasterKey::generate()?;
    match out {
        Some(path) => {
            let text = format!("{}\n", key.encode().expose());
            kunci_store::fs::create_private_file(path, text.as_bytes()).with_context(|| {
                format!(
                    "cannot create {} (an existing file is never overwritten)",
                    path.display()
                )
            })?;
            output::result(&format!(
                "wrote a new master key to {} (fingerprint {})",
                path.display(),
                key.fingerprint()
            ));
        }
        None => output::result(key.encode().expose()),
    }
    Ok(())
}

async fn env(input: &LoadInput, process: &ProcessEnv, command: EnvCommand) -> anyhow::Result<()> {
    // Each command works on the environment it names: its config file (for
    // master_key_command) and its key-source rules apply.
    let for_env = |environment| LoadInput {
        environment,
        encrypted: None,
        ..input.clone()
    };
    match command {
        EnvCommand::Encrypt { environment } => {
            let input = for_env(environment);
            let loaded = config::load(&input)?;
            let (key, _) = master_key(&loaded, process, environment, Create::Yes).await?;
            let paths = EnvPaths::new(&input.root, environment);
            let count = envfiles::encrypt(&paths, environment, &key)?;
            output::result(&format!(
                "encrypted {count} entries into {} (master key {}); {} can now be deleted",
                paths.encrypted.display(),
                key.fingerprint(),
                paths.plain.display()
            ));
        }
        EnvCommand::Decrypt { environment, out } => {
            let input = for_env(environment);
            let loaded = config::load(&input)?;
            let (key, _) = master_key(&loaded, process, environment, Create::No).await?;
            let paths = EnvPaths::new(&input.root, environment);
            let plaintext = envfiles::decrypt(&paths, environment, &key)?;
            match out {
                Some(path) => {
                    kunci_store::fs::create_private_file(&path, plaintext.as_bytes())
                        .with_context(|| {
                            format!(
                                "cannot create {} (an existing file is never overwritten)",
                                path.display()
                            )
                        })?;
                    output::note(&format!(
                        "wrote the plaintext to {} (mode 0600)",
                        path.display()
                    ));
                }
                None => output::result(&plaintext),
            }
        }
        EnvCommand::Edit { environment } => {
            let input = for_env(environment);
            let loaded = config::load(&input)?;
            let (key, _) = master_key(&loaded, process, environment, Create::Yes).await?;
            let paths = EnvPaths::new(&input.root, environment);
            let editor = process.editor.clone().unwrap_or_else(|| "vi".to_owned());
            match envfiles::edit(&paths, environment, &key, &editor)? {
                envfiles::Edited::Unchanged => {
                    output::result("no changes; the file was not written");
                }
                envfiles::Edited::Saved { entries } => output::result(&format!(
                    "saved {entries} entries to {}",
                    paths.encrypted.display()
                )),
            }
        }
        EnvCommand::Rekey {
            environment,
            new_key_file,
            out,
        } => {
            let input = for_env(environment);
            let loaded = config::load(&input)?;
            let (old, _) = master_key(&loaded, process, environment, Create::No).await?;
            let new = match &new_key_file {
                Some(path) => keychain::read_key_file(path)?,
                None => MasterKey::generate()?,
            };
            if new.fingerprint() == old.fingerprint() {
                bail!("the new master key is the one in use; nothing to do");
            }
            if let Some(path) = &out {
                let text = format!("{}\n", new.encode().expose());
                kunci_store::fs::create_private_file(path, text.as_bytes()).with_context(|| {
                    format!(
                        "cannot create {} (an existing file is never overwritten)",
                        path.display()
                    )
                })?;
            }
            let paths = EnvPaths::new(&input.root, environment);
            envfiles::rekey(&paths, environment, &old, &new, &|_| Ok(()))?;
            output::note(&format!(
                "re-encrypted {} under master key {} (was {}); the previous file is kept as {} \
                 until the new key is first used. Give the new key to every instance of {environment}.",
                paths.encrypted.display(),
                new.fingerprint(),
                old.fingerprint(),
                paths.backup.display()
            ));
            if new_key_file.is_none() && out.is_none() {
                output::result(new.encode().expose());
            }
        }
        EnvCommand::Diff { file, show_values } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let key = match kunci_crypto::envfile::inspect(&text)
                .ok()
                .and_then(|h| h.environment.parse::<Environment>().ok())
            {
                Some(environment) => {
                    let loaded = config::load(&for_env(environment))?;
                    master_key(&loaded, process, environment, Create::No)
                        .await
                        .ok()
                        .map(|(key, _)| key)
                }
                None => None,
            };
            output::result(&envfiles::textconv(&text, key.as_ref(), show_values));
        }
    }
    Ok(())
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
        let database = startup::open_database(&loaded).await?;
        if !database.pending_migrations().await?.is_empty() {
            database.close().await;
            bail!(
                "the database has pending migrations; run `kunci --env {} db migrate` first",
                input.environment
            );
        }
        let clock: Arc<dyn kunci_domain::clock::Clock> = Arc::new(SystemClock);
        let audit = AuditLog::new(Arc::new(database.clone()), master.clone(), clock.clone());
        let notifier = startup::notifier(&loaded.config, clock.clone())?;
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

/// The actor the audit log names for commands.
pub(crate) const CLI: &str = "cli";

async fn keys(input: &LoadInput, process: &ProcessEnv, command: KeysCommand) -> anyhow::Result<()> {
    let bench = Workbench::open(input, process).await?;
    let text = bench
        .run(async |b: &Workbench| {
            let service = KeyRingService::start(
                Arc::new(b.database.clone()),
                b.master.clone(),
                b.clock.clone(),
                startup::key_policy(&b.loaded.config),
            )
            .await?
            .with_audit(b.audit.clone())
            .with_notifier(b.notifier.clone());
            match command {
                KeysCommand::List => Ok(render_keys(&service.keys())),
                KeysCommand::Rotate { purpose } => {
                    let purposes = match purpose {
                        Some(p) => vec![p.into()],
                        None => KeyPurpose::ALL.to_vec(),
                    };
                    let mut lines = Vec::new();
                    for purpose in purposes {
                        let kid = service.rotate_as(CLI, purpose).await?;
                        lines.push(format!(
                            "{}: {kid} is now active; the previous key keeps verifying",
                            purpose.as_str()
                        ));
                    }
                    Ok(lines.join("\n"))
                }
                KeysCommand::Retire { kid } => {
                    let Some(kid) = Kid::parse(&kid) else {
                        bail!(
                            "`{}` is not a key id",
                            kid.chars().take(40).collect::<String>()
                        );
                    };
                    service.retire_as(CLI, &kid).await?;
                    Ok(format!("{kid} is retired: it verifies nothing any more"))
                }
            }
        })
        .await?;
    output::result(&text);
    Ok(())
}

async fn audit(
    input: &LoadInput,
    process: &ProcessEnv,
    command: AuditCommand,
) -> anyhow::Result<()> {
    let bench = Workbench::open(input, process).await?;
    bench
        .run(async |b: &Workbench| match command {
            AuditCommand::Verify => {
                let report = b.audit.verify().await?;
                output::result(&format!(
                    "the audit chain is intact: {} entries; head {} {}\n\
                     (keep the head elsewhere too: it also catches a rollback of the whole database)",
                    report.entries, report.head_seq, report.head_mac
                ));
                Ok(())
            }
            AuditCommand::Export { since } => {
                let since = since.as_deref().map(parse_since).transpose()?;
                let mut after = 0;
                loop {
                    let page = b.audit.page(after, 1000).await?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    for entry in page.iter().filter(|e| since.is_none_or(|t| e.record.at >= t)) {
                        if !output::line(&export_line(entry).to_string()) {
                            return Ok(());
                        }
                    }
                }
                Ok(())
            }
        })
        .await
}

/// `--since`: a date (UTC midnight) or an RFC 3339 time.
fn parse_since(text: &str) -> anyhow::Result<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            anyhow::anyhow!(
                "`--since` takes a date (2026-11-01) or a time (2026-11-01T12:00:00Z), not `{}`",
                text.chars().take(40).collect::<String>()
            )
        })
}

fn export_line(e: &kunci_domain::audit::AuditEntry) -> serde_json::Value {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::from_unix_timestamp(e.record.at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok());
    serde_json::json!({
        "seq": e.seq,
        "at": at,
        "actor": e.record.actor,
        "action": e.record.action,
        "target": e.record.target,
        "outcome": e.record.outcome,
        "kid": e.record.kid,
        "ip_hash": e.ip_hash(),
        "prev": e.prev,
        "mac": e.mac,
    })
}

fn render_keys(keys: &[kunci_domain::keys::StoredKey]) -> String {
    let date = |t: Option<i64>| {
        t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .map(|t| t.date().to_string())
            .unwrap_or_else(|| "-".to_owned())
    };
    let mut text = format!(
        "{:<16} {:<7} {:<8} {:<10} {:<10} {:<12} {:<10} {:>13}\n",
        "kid",
        "purpose",
        "state",
        "created",
        "activated",
        "verify since",
        "retired",
        "verifications"
    );
    for k in keys {
        text.push_str(&format!(
            "{:<16} {:<7} {:<8} {:<10} {:<10} {:<12} {:<10} {:>13}\n",
            k.kid.as_str(),
            k.purpose.as_str(),
            k.state.as_str(),
            date(Some(k.created_at)),
            date(k.activated_at),
            date(k.verify_since),
            date(k.retired_at),
            k.verifications
        ));
    }
    text
}
