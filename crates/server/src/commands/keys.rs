//! `kunci keys list | rotate | retire`: the signing keys of the ring.

use std::sync::Arc;

use anyhow::bail;
use kunci_crypto::keyring::{KeyPurpose, Kid};
use kunci_domain::audit::Actor;
use kunci_domain::keys::KeyRingService;

use crate::cli::KeysCommand;
use crate::config::LoadInput;
use crate::workbench::{ProcessEnv, Workbench};
use crate::{output, wiring};

pub(super) async fn command(
    input: &LoadInput,
    process: &ProcessEnv,
    command: KeysCommand,
) -> anyhow::Result<()> {
    let bench = Workbench::open(input, process).await?;
    let text = bench
        .run(async |b: &Workbench| {
            let service = KeyRingService::start(
                Arc::new(b.database.clone()),
                b.master.clone(),
                b.clock.clone(),
                wiring::key_policy(&b.loaded.config),
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
                        let kid = service.rotate_as(&Actor::cli(), purpose).await?;
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
                    service.retire_as(&Actor::cli(), &kid).await?;
                    Ok(format!("{kid} is retired: it verifies nothing any more"))
                }
            }
        })
        .await?;
    output::result(&text);
    Ok(())
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
