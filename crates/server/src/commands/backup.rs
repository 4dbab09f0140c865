//! `kunci backup create | verify | restore`.

use std::io;

use anyhow::Context as _;

use kunci_domain::clock::{Clock as _, SystemClock};

use crate::backup::{create, read, restore};
use crate::config::LoadInput;
use crate::output::{self};
use crate::workbench::{Need, ProcessEnv, load};

/// `kunci backup …`
pub(super) async fn command(
    input: &LoadInput,
    process: &ProcessEnv,
    command: crate::cli::BackupCommand,
) -> anyhow::Result<()> {
    use crate::cli::BackupCommand;
    let (loaded, key) = load(input, process, Need::Always).await?;
    let (key, _) = key.context("no master key")?;
    let now = SystemClock.now_unix();
    match command {
        BackupCommand::Create { out } => {
            let (path, bytes) = create(&loaded, &key, out, now).await?;
            output::result(&format!(
                "wrote {} ({bytes} bytes of database, encrypted under master key {})",
                path.display(),
                key.fingerprint()
            ));
        }
        BackupCommand::Verify { file } => {
            let summary = read(&file, &key, &mut io::sink())?;
            output::result(&format!(
                "{} is complete and intact: a {} database ({} bytes, schema {}) taken at {}",
                file.display(),
                summary.header.backend,
                summary.bytes,
                summary.header.schema,
                time::OffsetDateTime::from_unix_timestamp(summary.header.created_at)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            ));
        }
        BackupCommand::Restore {
            file,
            force,
            i_know_the_server_is_running,
        } => {
            crate::workbench::refuse_while_served(
                &loaded.root,
                i_know_the_server_is_running,
                "restore a backup",
            )?;
            let kept = restore(&loaded, &key, &file, force, now).await?;
            let mut text = format!("restored the database from {}", file.display());
            if let Some(kept) = kept {
                text.push_str(&format!("; the previous one is kept as {}", kept.display()));
            }
            output::result(&text);
        }
    }
    Ok(())
}
