//! What each subcommand does. Results go to stdout through [`output`], progress to the log.

use std::sync::Arc;

use anyhow::Context as _;
use kunci_domain::clock::SystemClock;

use crate::cli::{Cli, Command, ConfigCommand, DbCommand};
use crate::config::{self, LoadInput};
use crate::{logging, output, startup};

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let root = std::path::absolute(&cli.global.root).with_context(|| {
        format!(
            "cannot resolve the project folder {}",
            cli.global.root.display()
        )
    })?;
    let input = LoadInput {
        root,
        environment: cli.global.env,
        variables: process_variables(),
    };
    match cli.command {
        Command::Serve => serve(&input).await,
        Command::Config(ConfigCommand::Show) => {
            output::result(&config::show::render(&config::load(&input)?));
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            config::load(&input)?;
            output::result(&format!("the {} configuration is valid", input.environment));
            Ok(())
        }
        Command::Config(ConfigCommand::Docs) => {
            output::result(&config::docs::markdown());
            Ok(())
        }
        Command::Db(command) => db(&input, command).await,
    }
}

/// The `KUNCI__…` variables of this process: the only read of the process environment
/// besides clap's `KUNCI_ENV`.
#[expect(
    clippy::disallowed_methods,
    reason = "the one snapshot of the process environment"
)]
fn process_variables() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            // A variable that is not UTF-8 cannot be a setting; keep it so it is reported.
            let value = value.into_string().unwrap_or_default();
            name.starts_with("KUNCI__").then_some((name, value))
        })
        .collect()
}

async fn serve(input: &LoadInput) -> anyhow::Result<()> {
    let loaded = config::load(input)?;
    let _log = logging::init(&loaded.config.logger, &loaded.root)?;
    let app = startup::Application::build(&loaded, Arc::new(SystemClock)).await?;
    for line in app.first_run_notes() {
        output::note(line);
    }
    output::note(&format!(
        "kunci ({}) is serving on http://{} — public URL {}",
        loaded.environment,
        app.local_addr(),
        loaded.config.environment.public_url
    ));
    app.run_until(startup::shutdown_signal()).await
}

async fn db(input: &LoadInput, command: DbCommand) -> anyhow::Result<()> {
    let loaded = config::load(input)?;
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
