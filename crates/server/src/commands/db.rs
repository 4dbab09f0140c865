//! `kunci db migrate | rollback | status`.

use crate::cli::DbCommand;
use crate::config::LoadInput;
use crate::workbench::{Need, ProcessEnv, load};
use crate::{output, wiring};

pub(super) async fn command(
    input: &LoadInput,
    process: &ProcessEnv,
    command: DbCommand,
) -> anyhow::Result<()> {
    let (loaded, _) = load(input, process, Need::IfEncrypted).await?;
    if let DbCommand::Rollback {
        i_know_the_server_is_running,
        ..
    } = &command
    {
        crate::workbench::refuse_while_served(
            &loaded.root,
            *i_know_the_server_is_running,
            "roll migrations back",
        )?;
    }
    let database = wiring::open_database(&loaded).await?;
    let result = match command {
        DbCommand::Migrate => database
            .migrate()
            .await
            .map(|applied| match applied.as_slice() {
                [] => "the database is up to date".to_owned(),
                versions => format!("applied migrations {}", list(versions)),
            }),
        DbCommand::Rollback { steps, .. } => {
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
