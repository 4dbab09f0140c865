//! `kunci user …`: accounts. Passwords are read from the terminal or standard input, never
//! from arguments; each change is audited (actor `cli`).

use anyhow::{Context as _, bail};
use kunci_crypto::SecretString;
use kunci_domain::audit::Actor;

use crate::cli::{ScopeArg, UserCommand};

use crate::config::LoadInput;
use crate::workbench::{ProcessEnv, Workbench};
use crate::{output, wiring};

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

pub(super) async fn command(
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
            let accounts = wiring::accounts(
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
                        .add(&Actor::cli(), &name, password, scope == ScopeArg::Admin)
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
                    accounts.set_disabled(&Actor::cli(), &name, true).await?;
                    Ok(format!("`{name}` is disabled: its logins are refused"))
                }
                UserCommand::Enable { name } => {
                    accounts.set_disabled(&Actor::cli(), &name, false).await?;
                    Ok(format!("`{name}` can log in again"))
                }
                UserCommand::Unlock { name } => {
                    let name = kunci_domain::accounts::normalize_username(&name)
                        .unwrap_or_else(|| name.trim().to_ascii_lowercase());
                    let lockout = wiring::lockout(
                        &b.loaded.config,
                        &b.database,
                        b.audit.clone(),
                        b.clock.clone(),
                        b.notifier.clone(),
                    );
                    Ok(if lockout.unlock(&Actor::cli(), &name).await? {
                        format!("`{name}` is unlocked; its failed logins are forgotten")
                    } else {
                        format!("`{name}` was not locked")
                    })
                }
                UserCommand::Passwd { name } => {
                    let password = password.context("no password")?;
                    accounts
                        .set_password(&Actor::cli(), &name, password)
                        .await?;
                    Ok(format!("the password of `{name}` is changed"))
                }
            }
        })
        .await?;
    output::result(&text);
    Ok(())
}
