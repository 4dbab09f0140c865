//! `kunci audit verify | export`.

use crate::cli::AuditCommand;
use crate::config::LoadInput;
use crate::output;
use crate::workbench::{ProcessEnv, Workbench};

pub(super) async fn command(
    input: &LoadInput,
    process: &ProcessEnv,
    command: AuditCommand,
) -> anyhow::Result<()> {
    let bench = Workbench::open(input, process).await?;
    bench
        .run(async |b: &Workbench| match command {
            AuditCommand::Verify => {
                let report = b.audit.verify().await?;
                output::result(&format!(
                    "the audit chain is intact: {} entries; head {} {}\n\
                     (keep the head elsewhere too: it also catches a rollback of the whole database)",
                    report.entries, report.head_seq, report.head_mac
                ));
                let unknown = b.audit.unresolved().await?;
                if !unknown.is_empty() {
                    let seqs: Vec<String> = unknown.iter().map(ToString::to_string).collect();
                    output::note(&format!(
                        "warning: {} action(s) of unknown outcome (an intent with no outcome after it: \
                         the process stopped in between; check whether it took effect): entries {}",
                        unknown.len(),
                        seqs.join(", ")
                    ));
                }
                Ok(())
            }
            AuditCommand::Export { since } => {
                let since = since.as_deref().map(parse_since).transpose()?;
                let unknown: std::collections::HashSet<i64> =
                    b.audit.unresolved().await?.into_iter().collect();
                let mut after = 0;
                loop {
                    let page = b.audit.page(after, 1000).await?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    for entry in page.iter().filter(|e| since.is_none_or(|t| e.record.at >= t)) {
                        let line = kunci_domain::audit::export_json(entry, unknown.contains(&entry.seq));
                        if !output::line(&line.to_string()) {
                            return Ok(());
                        }
                    }
                }
                Ok(())
            }
        })
        .await
}

/// `--since`: a date (UTC midnight) or an RFC 3339 time.
fn parse_since(text: &str) -> anyhow::Result<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            anyhow::anyhow!(
                "`--since` takes a date (2026-11-01) or a time (2026-11-01T12:00:00Z), not `{}`",
                text.chars().take(40).collect::<String>()
            )
        })
}
