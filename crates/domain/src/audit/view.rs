//! Reading the log as a person does: a filter (actor, action, outcome, a time range), newest
//! first, and the export formats (one JSON object per line, or CSV) that the command line and
//! the console share.

use super::AuditEntry;

/// What to show; every part is optional and they all must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor exactly as the log names it (`user:alice`, `cli`, `client:deploy`).
    pub actor: Option<String>,
    /// An action (`account.created`), or every action under a prefix that ends with a dot
    /// (`account.`).
    pub action: Option<String>,
    /// `allowed`, `started`, `denied` or `failed`.
    pub outcome: Option<String>,
    /// Entries written at or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Entries written before this time.
    pub until: Option<i64>,
}

/// The outcomes an entry can record, for filters and forms.
pub const OUTCOMES: [&str; 4] = ["allowed", "started", "denied", "failed"];

impl AuditFilter {
    /// Whether `entry` is one the filter shows (what a store's query must agree with).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        let r = &entry.record;
        self.actor.as_ref().is_none_or(|a| &r.actor == a)
            && self
                .action
                .as_ref()
                .is_none_or(|a| match a.strip_suffix('.') {
                    Some(prefix) => r
                        .action
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.')),
                    None => &r.action == a,
                })
            && self.outcome.as_ref().is_none_or(|o| &r.outcome == o)
            && self.from.is_none_or(|t| r.at >= t)
            && self.until.is_none_or(|t| r.at < t)
    }
}

fn rfc3339(at: i64) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
}

/// The outcome an export shows: an intent that no outcome followed is `unknown`.
fn shown_outcome(entry: &AuditEntry, unknown: bool) -> &str {
    if unknown {
        "unknown"
    } else {
        &entry.record.outcome
    }
}

/// One entry as a JSON object (the NDJSON export's line).
pub fn export_json(entry: &AuditEntry, unknown: bool) -> serde_json::Value {
    serde_json::json!({
        "seq": entry.seq,
        "at": rfc3339(entry.record.at),
        "actor": entry.record.actor,
        "action": entry.record.action,
        "target": entry.record.target,
        "outcome": shown_outcome(entry, unknown),
        "kid": entry.record.kid,
        "ip_hash": entry.ip_hash(),
        "prev": entry.prev,
        "mac": entry.mac,
    })
}

/// The CSV export's header line, with its line break.
pub const CSV_HEADER: &str = "seq,at,actor,action,target,outcome,kid,ip_hash,prev,mac\r\n";

/// One entry as a CSV line (RFC 4180, with its line break). A field that a spreadsheet would
/// take for a formula (`=`, `+`, `-`, `@`, tab or carriage return first) is prefixed with `'`:
/// actors and targets come from names anyone can choose at the sign-in form.
pub fn export_csv(entry: &AuditEntry, unknown: bool) -> String {
    let r = &entry.record;
    let seq = entry.seq.to_string();
    let at = rfc3339(r.at).unwrap_or_default();
    let fields = [
        seq.as_str(),
        at.as_str(),
        r.actor.as_str(),
        r.action.as_str(),
        r.target.as_str(),
        shown_outcome(entry, unknown),
        r.kid.as_deref().unwrap_or(""),
        entry.ip_hash().unwrap_or(""),
        entry.prev.as_str(),
        entry.mac.as_str(),
    ];
    let mut line = fields.map(csv_field).join(",");
    line.push_str("\r\n");
    line
}

fn csv_field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Draft;

    fn entry(actor: &str, action: &str, target: &str, outcome: &str, at: i64) -> AuditEntry {
        AuditEntry {
            seq: 7,
            record: Draft {
                at,
                actor: actor.into(),
                action: action.into(),
                target: target.into(),
                outcome: outcome.into(),
                kid: None,
                ip: None,
                ip_commit: None,
            },
            prev: "p".into(),
            mac: "m".into(),
        }
    }

    #[test]
    fn a_filter_holds_every_part() {
        let e = entry("user:alice", "account.created", "bob", "allowed", 100);
        assert!(AuditFilter::default().matches(&e));
        let by = |f: AuditFilter| f.matches(&e);
        assert!(by(AuditFilter {
            actor: Some("user:alice".into()),
            action: Some("account.".into()),
            outcome: Some("allowed".into()),
            from: Some(100),
            until: Some(101),
        }));
        assert!(!by(AuditFilter {
            actor: Some("user:alic".into()),
            ..AuditFilter::default()
        }));
        assert!(!by(AuditFilter {
            action: Some("account.create".into()),
            ..AuditFilter::default()
        }));
        // A prefix matches whole words only.
        assert!(!by(AuditFilter {
            action: Some("acc.".into()),
            ..AuditFilter::default()
        }));
        assert!(!by(AuditFilter {
            until: Some(100),
            ..AuditFilter::default()
        }));
        assert!(!by(AuditFilter {
            from: Some(101),
            ..AuditFilter::default()
        }));
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let e = entry(
            "login:web",
            "login.failed",
            "=HYPERLINK(\"x\"),y",
            "denied",
            0,
        );
        let line = export_csv(&e, false);
        assert!(
            line.contains(r#","'=HYPERLINK(""x""),y","#),
            "quoted and defused: {line}"
        );
        assert!(line.ends_with("\r\n"));
        assert_eq!(
            line.matches(',').count() - 1,
            CSV_HEADER.matches(',').count(),
            "the comma inside the quoted field is not a separator"
        );
        let e = entry("cli", "account.unlocked", "@bob", "started", 0);
        assert!(export_csv(&e, true).contains(",'@bob,unknown,"));
    }

    #[test]
    fn json_marks_unknown_outcomes() {
        let e = entry("cli", "account.unlocked", "bob", "started", 0);
        assert_eq!(export_json(&e, true)["outcome"], "unknown");
        assert_eq!(export_json(&e, false)["outcome"], "started");
        assert_eq!(export_json(&e, false)["at"], "1970-01-01T00:00:00Z");
    }
}
