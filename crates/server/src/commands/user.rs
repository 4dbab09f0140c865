//! `kunci user …`: accounts. Passwords are read from the terminal or standard input, never
//! from arguments, and must have `security.password_min_length` characters; each change is
//! audited (actor `cli`).

use std::sync::Arc;

use anyhow::{Context as _, bail};
use kunci_crypto::SecretString;
use kunci_domain::accounts::Accounts;
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

/// The configured minimum, checked before anything is hashed or stored.
fn long_enough(b: &Workbench, password: &SecretString) -> anyhow::Result<()> {
    let min = b.loaded.config.security.password_min_length;
    if password.expose().chars().count() < min {
        bail!("passwords have at least {min} characters (`security.password_min_length`)");
    }
    Ok(())
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
                    long_enough(b, password)?;
                    let account = accounts
                        .add(&Actor::cli(), &name, password, scope == ScopeArg::Admin)
                        .await?;
                    Ok(format!(
                        "created the account `{}` ({})",
                        account.username,
                        scopes_of(&account)
                    ))
                }
                UserCommand::List => list(b, &accounts).await,
                UserCommand::Scope { name, add, remove } => {
                    scope(b, &accounts, &name, add, remove).await
                }
                UserCommand::Disable { name } => {
                    accounts.set_disabled(&Actor::cli(), &name, true).await?;
                    Ok(format!("`{name}` is disabled: its logins are refused"))
                }
                UserCommand::Enable { name } => {
                    accounts.set_disabled(&Actor::cli(), &name, false).await?;
                    Ok(format!("`{name}` can log in again"))
                }
                UserCommand::Unlock { name } => unlock(b, &name).await,
                UserCommand::MfaReset { name } => {
                    let account = accounts
                        .by_name(&name)
                        .await?
                        .with_context(|| format!("there is no account named `{name}`"))?;
                    let factors = wiring::second_factors(&b.database, &b.master, &b.clock, &b.audit);
                    let had = factors.of(&account.id).await?;
                    Ok(if had.totp || had.recovery_left > 0 {
                        factors.remove(&Actor::cli(), &account.id).await?;
                        format!(
                            "the second factors of `{}` are removed (its authenticator app and {} recovery code(s))",
                            account.username, had.recovery_left
                        )
                    } else {
                        format!("`{}` had no second factor", account.username)
                    })
                }
                UserCommand::Passwd { name } => {
                    let password = password.context("no password")?;
                    long_enough(b, password)?;
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

fn scopes_of(account: &kunci_domain::accounts::Account) -> String {
    account
        .scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn lockout(b: &Workbench) -> kunci_domain::lockout::Lockout {
    wiring::lockout(
        &b.loaded.config,
        &b.database,
        b.audit.clone(),
        b.clock.clone(),
        b.notifier.clone(),
    )
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| {
            let format =
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            t.format(&format).unwrap_or_default()
        })
        .unwrap_or_default()
}

/// `user list`: a locked name shows as `locked` with when it unlocks.
async fn list(b: &Workbench, accounts: &Accounts) -> anyhow::Result<String> {
    let lockout = lockout(b);
    let mut text = format!(
        "{:<32} {:<12} {:<30} {:<10}",
        "name", "scopes", "state", "created"
    );
    for a in accounts.list().await? {
        let created = date(a.created_at).chars().take(10).collect::<String>();
        let state = match lockout.locked_until(&a.username).await? {
            Some(until) => format!("locked until {}", date(until)),
            None if a.disabled => "disabled".to_owned(),
            None => "active".to_owned(),
        };
        text.push_str(&format!(
            "\n{:<32} {:<12} {state:<30} {created:<10}",
            a.username,
            scopes_of(&a).replace(' ', ",")
        ));
    }
    Ok(text)
}

/// `user scope NAME --add admin | --remove admin`.
async fn scope(
    b: &Workbench,
    accounts: &Accounts,
    name: &str,
    add: Option<ScopeArg>,
    remove: Option<ScopeArg>,
) -> anyhow::Result<String> {
    let admin = match (add, remove) {
        (Some(ScopeArg::Admin), _) => true,
        (_, Some(ScopeArg::Admin)) => false,
        (Some(ScopeArg::User), _) => bail!("every account has the scope `user` already"),
        (_, Some(ScopeArg::User)) => bail!("`user` cannot be taken away: disable the account"),
        (None, None) => bail!("say --add or --remove"),
    };
    let account = accounts.set_admin(&Actor::cli(), name, admin).await?;
    if admin {
        return Ok(format!(
            "`{}` now has {} (from its next login on)",
            account.username,
            scopes_of(&account)
        ));
    }
    // Sessions and app logins keep the scopes they were given: end them all.
    let config = &b.loaded.config;
    let redis = wiring::redis(config, &mut Vec::new()).await?;
    let store = wiring::session_store(&b.loaded, &b.database, redis.as_ref())?;
    let sessions = wiring::sessions(config, store, b.clock.clone());
    let notifier: Arc<dyn kunci_domain::notify::Notifier> = b.notifier.clone();
    let refresh = wiring::refresh_tokens(
        config,
        &b.database,
        &b.master,
        &b.clock,
        b.audit.clone(),
        notifier,
    );
    let ended = sessions.destroy_account(&account.id).await?;
    let apps = refresh.revoke_account(&account.id).await?;
    Ok(format!(
        "`{}` now has {}; its {ended} session(s) and {apps} app login(s) are ended",
        account.username,
        scopes_of(&account)
    ))
}

/// `user unlock NAME`: a name without a lock says so and is no error.
async fn unlock(b: &Workbench, name: &str) -> anyhow::Result<String> {
    let name = kunci_domain::accounts::normalize_username(name)
        .unwrap_or_else(|| name.trim().to_ascii_lowercase());
    Ok(if lockout(b).unlock(&Actor::cli(), &name).await? {
        format!("`{name}` is unlocked; its failed logins are forgotten")
    } else {
        format!("`{name}` has no lock: nothing to do")
    })
}
