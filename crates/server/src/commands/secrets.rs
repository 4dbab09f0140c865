//! `kunci key generate` and `kunci env encrypt | decrypt | edit | rekey | diff`: the master
//! key and the encrypted env files.

use anyhow::{Context as _, bail};
use kunci_crypto::MasterKey;
use kunci_domain::environment::Environment;

use crate::cli::EnvCommand;
use crate::config::{self, LoadInput};
use crate::output;
use crate::secrets::envfiles::{self, EnvPaths};
use crate::secrets::keychain::{self, Create};
use crate::workbench::{ProcessEnv, master_key};

pub(super) fn generate_key(out: Option<&std::path::Path>) -> anyhow::Result<()> {
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

/// Names of an env file kunci would refuse at start, said when the file is written.
fn warn_of_unknown(names: &[String]) {
    for name in names.iter().filter(|n| !is_configuration_key(n)) {
        output::note(&format!(
            "warning: {name} is not a configuration key (KUNCI__SECTION__KEY, \
             docs/configuration.md): kunci refuses to start with it in the file"
        ));
    }
}

/// Whether `name` addresses a key of the registry (`KUNCI__SECURITY__LOCKOUT_HOURS`).
fn is_configuration_key(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("KUNCI__") else {
        return false;
    };
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    config::schema::key_for(&path).is_some()
}

/// The master key of `input`'s environment, from the sources its plain layers allow.
async fn key_of(
    input: &LoadInput,
    process: &ProcessEnv,
    create: Create,
) -> anyhow::Result<MasterKey> {
    let settings = config::key_settings(input)?;
    let (key, _) = master_key(&settings, &input.root, process, input.environment, create).await?;
    Ok(key)
}

pub(super) async fn env(
    input: &LoadInput,
    process: &ProcessEnv,
    command: EnvCommand,
) -> anyhow::Result<()> {
    // Each command works on the environment it names: its config file (for
    // master_key_command) and its key-source rules apply. Nothing else of that environment's
    // configuration is judged here (SPEC §10): the secrets are often written first.
    let for_env = |environment| LoadInput {
        environment,
        encrypted: None,
        ..input.clone()
    };
    match command {
        EnvCommand::Encrypt { environment } => {
            let input = for_env(environment);
            let key = key_of(&input, process, Create::Yes).await?;
            let paths = EnvPaths::new(&input.root, environment);
            let names = envfiles::encrypt(&paths, environment, &key)?;
            warn_of_unknown(&names);
            let count = names.len();
            output::result(&format!(
                "encrypted {count} entries into {} (master key {}); {} can now be deleted",
                paths.encrypted.display(),
                key.fingerprint(),
                paths.plain.display()
            ));
        }
        EnvCommand::Decrypt { environment, out } => {
            let input = for_env(environment);
            let key = key_of(&input, process, Create::No).await?;
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
            let key = key_of(&input, process, Create::Yes).await?;
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
            let old = key_of(&input, process, Create::No).await?;
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
                    let input = for_env(environment);
                    let settings = config::key_settings(&input)?;
                    master_key(&settings, &input.root, process, environment, Create::No)
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
