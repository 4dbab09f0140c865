//! `kunci user | client | apikey`: the records an operator manages from the command line —
//! accounts, service clients and the API-key pool. Each change is audited (actor `cli`) and
//! secrets are read from the terminal or standard input, never from arguments.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use kunci_crypto::SecretString;
use kunci_domain::clients::ServiceClients;

use crate::cli::{ApikeyCommand, ClientCommand, ScopeArg, UserCommand};
use crate::commands::{CLI, ProcessEnv, Workbench};
use crate::config::LoadInput;
use crate::{output, startup};

pub(crate) async fn client(
    input: &LoadInput,
    process: &ProcessEnv,
    command: ClientCommand,
) -> anyhow::Result<()> {
    let bench = Workbench::open(input, process).await?;
    let text = bench
        .run(async |b: &Workbench| {
            // Managing clients needs no nonce store: the database stands in for it.
            let clients = ServiceClients::new(
                Arc::new(b.database.clone()),
                Arc::new(b.database.clone()),
                b.master.clone(),
                b.clock.clone(),
                b.audit.clone(),
            );
            match command {
                ClientCommand::Add { name } => {
                    let secret = clients.add(CLI, &name).await?;
                    output::note(&format!(
                        "created the service client `{name}`. Its secret is printed below, once: \
                         store it in the client's secret manager now; kunci cannot show it again."
                    ));
                    Ok(secret.expose().to_owned())
                }
                ClientCommand::List => {
                    let date = |t: i64| {
                        time::OffsetDateTime::from_unix_timestamp(t)
                            .map(|t| t.date().to_string())
                            .unwrap_or_default()
                    };
                    let mut text = format!("{:<32} {:<10} {:<10}", "name", "created", "revoked");
                    for c in clients.list().await? {
                        let revoked = c.revoked_at.map_or_else(|| "-".to_owned(), date);
                        text.push_str(&format!(
                            "\n{:<32} {:<10} {revoked:<10}",
                            c.name,
                            date(c.created_at)
                        ));
                    }
                    Ok(text)
                }
                ClientCommand::Revoke { name } => {
                    clients.revoke(CLI, &name).await?;
                    Ok(format!(
                        "`{name}` is revoked: its requests are refused from now on"
                    ))
                }
            }
        })
        .await?;
    output::result(&text);
    Ok(())
}

/// Reads a new password: a no-echo prompt (twice) at a terminal, else one line of stdin.
fn read_password(name: &str) -> anyhow::Result<SecretString> {
    use std::io::{BufRead as _, IsTerminal as _};
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(SecretString::new(password))
}

pub(crate) async fn user(
    input: &LoadInput,
    process: &ProcessEnv,
    command: UserCommand,
) -> anyhow::Result<()> {
    // Read the password before opening anything, so a bad one costs nothing.
    let password = match &command {
        UserCommand::Add { name, .. } | UserCommand::Passwd { name } => Some(read_password(name)?),
        _ => None,
    };
    let bench = Workbench::open(input, process).await?;
    let text = bench
        .run(async |b: &Workbench| {
            let accounts = startup::accounts(
                &b.loaded.config,
                &b.database,
                b.audit.clone(),
                b.clock.clone(),
            )
            .await?;
            let password = password.as_ref();
            match command {
                UserCommand::Add { name, scope } => {
                    let password = password.context("no password")?;
                    let account = accounts
                        .add(CLI, &name, password, scope == ScopeArg::Admin)
                        .await?;
                    Ok(format!(
                        "created the account `{}` ({})",
                        account.username,
                        account
                            .scopes
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                }
                UserCommand::List => {
                    let mut text = format!(
                        "{:<32} {:<12} {:<10} {:<10}",
                        "name", "scopes", "state", "created"
                    );
                    for a in accounts.list().await? {
                        let created = time::OffsetDateTime::from_unix_timestamp(a.created_at)
                            .map(|t| t.date().to_string())
                            .unwrap_or_default();
                        let scopes: Vec<&str> = a.scopes.iter().map(|s| s.as_str()).collect();
                        let state = if a.disabled { "disabled" } else { "active" };
                        text.push_str(&format!(
                            "\n{:<32} {:<12} {state:<10} {created:<10}",
                            a.username,
                            scopes.join(",")
                        ));
                    }
                    Ok(text)
                }
                UserCommand::Disable { name } => {
                    accounts.set_disabled(CLI, &name, true).await?;
                    Ok(format!("`{name}` is disabled: its logins are refused"))
                }
                UserCommand::Enable { name } => {
                    accounts.set_disabled(CLI, &name, false).await?;
                    Ok(format!("`{name}` can log in again"))
                }
                UserCommand::Unlock { name } => {
                    let name = kunci_domain::accounts::normalize_username(&name)
                        .unwrap_or_else(|| name.trim().to_ascii_lowercase());
                    let lockout = startup::lockout(
                        &b.loaded.config,
                        &b.database,
                        b.audit.clone(),
                        b.clock.clone(),
                        b.notifier.clone(),
                    );
                    Ok(if lockout.unlock(CLI, &name).await? {
                        format!("`{name}` is unlocked; its failed logins are forgotten")
                    } else {
                        format!("`{name}` was not locked")
                    })
                }
                UserCommand::Passwd { name } => {
                    let password = password.context("no password")?;
                    accounts.set_password(CLI, &name, password).await?;
                    Ok(format!("the password of `{name}` is changed"))
                }
            }
        })
        .await?;
    output::result(&text);
    Ok(())
}

/// Reads one API key: a no-echo prompt at a terminal, else one line of standard input.
fn read_api_key() -> anyhow::Result<SecretString> {
    use std::io::{BufRead as _, IsTerminal as _};
    let key = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("API key: ")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the key from standard input")?;
        line.trim().to_owned()
    };
    if key.is_empty() {
        bail!("the key is empty");
    }
    Ok(SecretString::new(key))
}

fn key_line(k: &kunci_domain::apikeys::ApiKey) -> String {
    let group = k.quota_group.as_deref().unwrap_or("-");
    format!(
        "{:<22} {:<10} {:<12} {:<15} {:>8} {:>8} {group}",
        k.id,
        k.upstream,
        k.masked,
        k.status.as_str(),
        k.priority,
        k.usage_count
    )
}

pub(crate) async fn apikey(
    input: &LoadInput,
    process: &ProcessEnv,
    command: ApikeyCommand,
) -> anyhow::Result<()> {
    use kunci_domain::apikeys::{KeyChange, KeyStatus};
    let key = match &command {
        ApikeyCommand::Add { .. } => Some(read_api_key()?),
        _ => None,
    };
    let bench = Workbench::open(input, process).await?;
    let text = bench
        .run(async |b: &Workbench| {
            let pool = startup::api_key_pool(
                &b.database,
                b.master.clone(),
                b.clock.clone(),
                b.audit.clone(),
                b.notifier.clone(),
            );
            let answers = Arc::new(kunci_upstream::proxy::MemoryAnswers::default());
            let upstreams =
                startup::gateway(&b.loaded.config, pool.clone(), answers, b.clock.clone())?;
            let format = |upstream: &str| {
                upstreams.key_format(upstream).with_context(|| {
                    format!(
                        "no upstream `{upstream}` is configured (known: {})",
                        upstreams.names().join(", ")
                    )
                })
            };
            let set_status = async |id: &str, status: KeyStatus| {
                let change = KeyChange {
                    status: Some(status),
                    ..KeyChange::default()
                };
                pool.change(CLI, id, &change).await.map(|k| key_line(&k))
            };
            match command {
                ApikeyCommand::Add {
                    upstream,
                    priority,
                    quota_group,
                    daily_budget,
                } => {
                    let format = format(&upstream)?;
                    let key = key.context("no key")?;
                    let mut added = pool
                        .add(CLI, &upstream, &key, format.as_ref(), priority, quota_group)
                        .await?;
                    if let Some(budget) = daily_budget {
                        let change = KeyChange {
                            daily_budget: Some(Some(budget)),
                            ..KeyChange::default()
                        };
                        added = pool.change(CLI, &added.id, &change).await?;
                    }
                    Ok(format!("added {}", key_line(&added)))
                }
                ApikeyCommand::List => {
                    let keys = pool.store().list(None).await?;
                    let mut text = format!(
                        "{:<22} {:<10} {:<12} {:<15} {:>8} {:>8} quota group",
                        "id", "upstream", "key", "status", "priority", "uses"
                    );
                    for k in &keys {
                        text.push('\n');
                        text.push_str(&key_line(k));
                    }
                    Ok(text)
                }
                ApikeyCommand::Import {
                    upstream,
                    file,
                    priority,
                } => {
                    let format = format(&upstream)?;
                    let content = std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    let (mut added, mut problems) = (0, Vec::new());
                    for (n, line) in content.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let key = SecretString::new(line);
                        match pool
                            .add(CLI, &upstream, &key, format.as_ref(), priority, None)
                            .await
                        {
                            Ok(_) => added += 1,
                            // Never the line itself: it is a key.
                            Err(err) => problems.push(format!("line {}: {err}", n + 1)),
                        }
                    }
                    let mut text = format!("imported {added} key(s) into `{upstream}`");
                    for problem in &problems {
                        text.push_str(&format!("\n  skipped {problem}"));
                    }
                    Ok(text)
                }
                ApikeyCommand::Disable { id } => Ok(set_status(&id, KeyStatus::Disabled).await?),
                ApikeyCommand::Enable { id } => Ok(set_status(&id, KeyStatus::Active).await?),
                ApikeyCommand::Remove { id } => {
                    pool.remove(CLI, &id).await?;
                    Ok(format!("removed {id}"))
                }
            }
        })
        .await?;
    output::result(&text);
    Ok(())
}
