//! `kunci client add | list | revoke`: service clients. The secret is printed once.

use std::sync::Arc;

use kunci_domain::clients::ServiceClients;

use crate::cli::ClientCommand;

use crate::config::LoadInput;
use crate::output;
use crate::workbench::{CLI, ProcessEnv, Workbench};

pub(super) async fn command(
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
