//! Importing many keys at once from text, one key per line: what `kunci apikey import` and the
//! console's upload share. Each key is added as `add` adds one (audited, checked, sealed); the
//! report names lines by number and keys only masked — a line is a key, so it is never echoed.

use kunci_crypto::SecretString;

use super::{ApiKeyPool, KeyFormat, PoolError};
use crate::audit::Actor;

/// The most lines one import reads; the rest of a larger text is refused as a whole.
pub const MAX_IMPORT_LINES: usize = 10_000;

/// What became of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportLine {
    /// Added, with its id and masked form.
    Added { id: String, masked: String },
    /// The pool has this key already.
    Duplicate,
    /// Not a key of the upstream's format.
    Invalid,
    /// It could not be added (the store or the audit log refused); nothing was stored for it.
    Failed(String),
}

/// The report of an import: every line that held a key, by its number (from 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub lines: Vec<(usize, ImportLine)>,
}

impl ImportReport {
    pub fn added(&self) -> usize {
        self.count(|l| matches!(l, ImportLine::Added { .. }))
    }

    pub fn duplicates(&self) -> usize {
        self.count(|l| *l == ImportLine::Duplicate)
    }

    pub fn invalid(&self) -> usize {
        self.count(|l| *l == ImportLine::Invalid)
    }

    pub fn failed(&self) -> usize {
        self.count(|l| matches!(l, ImportLine::Failed(_)))
    }

    fn count(&self, which: impl Fn(&ImportLine) -> bool) -> usize {
        self.lines.iter().filter(|(_, l)| which(l)).count()
    }
}

/// Why a text cannot be imported at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("the text has more than {MAX_IMPORT_LINES} lines: split it")]
    TooLong,
    #[error("the text holds no key (blank lines and `#` comments are skipped)")]
    Empty,
}

impl ApiKeyPool {
    /// Adds every key of `text` (one per line; blank lines and `#` comments skipped) to
    /// `upstream` at `priority`, on behalf of `actor`.
    pub async fn import(
        &self,
        actor: &Actor,
        upstream: &str,
        text: &str,
        format: &dyn KeyFormat,
        priority: i64,
    ) -> Result<ImportReport, ImportError> {
        if text.lines().count() > MAX_IMPORT_LINES {
            return Err(ImportError::TooLong);
        }
        let mut report = ImportReport::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = SecretString::new(line);
            let outcome = match self
                .add(actor, upstream, &key, format, priority, None)
                .await
            {
                Ok(added) => ImportLine::Added {
                    id: added.id,
                    masked: added.masked,
                },
                Err(PoolError::Duplicate(_)) => ImportLine::Duplicate,
                Err(PoolError::BadFormat { .. }) => ImportLine::Invalid,
                Err(err) => ImportLine::Failed(err.to_string()),
            };
            report.lines.push((n + 1, outcome));
        }
        if report.lines.is_empty() {
            return Err(ImportError::Empty);
        }
        Ok(report)
    }
}
