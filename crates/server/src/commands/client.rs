//! `kunci client add | list | revoke`: service clients. The secret is printed once.

use std::sync::Arc;

use kunci_domain::audit::Actor;
use kunci_domain::clients::ServiceClients;
use kunci_domain::session::Scope;

use crate::cli::{ClientCommand, ScopeArg};

use crate::config::LoadInput;
use crate::output;
use crate::workbench::{ProcessEnv, Workbench};

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
                ClientCommand::Add { name, scope } => {
                    let scope = match scope {
                        ScopeArg::User => Scope::User,
                        ScopeArg::Admin => Scope::Admin,
                    };
                    let secret = clients.add(&Actor::cli(), &name, scope).await?;
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
                    let mut text = format!(
                        "{:<32} {:<12} {:<10} {:<10}",
                        "name", "scopes", "created", "revoked"
                    );
                    for c in clients.list().await? {
                        let revoked = c.revoked_at.map_or_else(|| "-".to_owned(), date);
                        let scopes: Vec<&str> = c.scopes.iter().map(|s| s.as_str()).collect();
                        text.push_str(&format!(
                            "\n{:<32} {:<12} {:<10} {revoked:<10}",
                            c.name,
                            scopes.join(","),
                            date(c.created_at)
                        ));
                    }
                    Ok(text)
                }
                ClientCommand::Revoke { name } => {
                    clients.revoke(&Actor::cli(), &name).await?;
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
