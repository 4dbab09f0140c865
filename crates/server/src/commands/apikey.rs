//! `kunci apikey …`: the API-key pool from the command line (add, import, list, test, …).
//! Keys are read from standard input, never from arguments.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use kunci_crypto::SecretString;
use kunci_domain::audit::Actor;

use crate::cli::ApikeyCommand;

use crate::config::LoadInput;
use crate::workbench::{ProcessEnv, Workbench};
use crate::{output, wiring};

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

/// `apikey import`: one key per line (`#` comments and blank lines skipped); a report of what
/// was added and why each other line was skipped — never the line itself, which is a key.
async fn import(
    pool: &kunci_domain::apikeys::ApiKeyPool,
    upstream: &str,
    file: &std::path::Path,
    format: &dyn kunci_domain::apikeys::KeyFormat,
    priority: i64,
) -> anyhow::Result<String> {
    use kunci_domain::apikeys::ImportLine;
    let content =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = pool
        .import(&Actor::cli(), upstream, &content, format, priority)
        .await?;
    let mut text = format!("imported {} key(s) into `{upstream}`", report.added());
    for (n, line) in &report.lines {
        let why = match line {
            ImportLine::Added { .. } => continue,
            ImportLine::Duplicate => "this key is in the pool already".to_owned(),
            ImportLine::Invalid => format!("not a key of `{upstream}`: {}", format.describe()),
            ImportLine::Failed(err) => err.clone(),
        };
        text.push_str(&format!("\n  skipped line {n}: {why}"));
    }
    Ok(text)
}

pub(super) async fn command(
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
            let pool = wiring::api_key_pool(
                &b.database,
                b.master.clone(),
                b.clock.clone(),
                b.audit.clone(),
                b.notifier.clone(),
            );
            let answers = Arc::new(kunci_upstream::proxy::MemoryAnswers::default());
            let upstreams = wiring::gateway(
                &b.loaded.config,
                pool.clone(),
                (answers, None),
                b.clock.clone(),
            )?;
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
                pool.change(&Actor::cli(), id, &change)
                    .await
                    .map(|k| key_line(&k))
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
                        .add(
                            &Actor::cli(),
                            &upstream,
                            &key,
                            format.as_ref(),
                            priority,
                            quota_group,
                        )
                        .await?;
                    if let Some(budget) = daily_budget {
                        let change = KeyChange {
                            daily_budget: Some(Some(budget)),
                            ..KeyChange::default()
                        };
                        added = pool.change(&Actor::cli(), &added.id, &change).await?;
                    }
                    Ok(format!("added {}", key_line(&added)))
                }
                ApikeyCommand::List => {
                    let keys = pool.list(None).await?;
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
                    import(&pool, &upstream, &file, format.as_ref(), priority).await
                }
                ApikeyCommand::Disable { id } => Ok(set_status(&id, KeyStatus::Disabled).await?),
                ApikeyCommand::Enable { id } => Ok(set_status(&id, KeyStatus::Active).await?),
                ApikeyCommand::Remove { id } => {
                    pool.remove(&Actor::cli(), &id).await?;
                    Ok(format!("removed {id}"))
                }
            }
        })
        .await?;
    output::result(&text);
    Ok(())
}
