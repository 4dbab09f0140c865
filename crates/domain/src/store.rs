//! What every store adapter can answer besides success.

/// A store operation failed. Callers fail closed: a session or nonce that cannot be checked is
/// never treated as absent or accepted.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing service is unreachable or timed out.
    #[error("the {store} store is unavailable: {cause}")]
    Unavailable { store: &'static str, cause: String },
    /// A unique constraint refused the write (an id collision, a concurrent rotation).
    #[error("conflict: the record already exists")]
    Conflict,
    /// The audit entry that had to commit with the write could not be written, so the write
    /// was not made either (see [`crate::audit::Journal`]).
    #[error("its entry could not be written with it: {cause}")]
    AuditRefused { cause: String },
    /// Stored data could not be read back.
    #[error("the {store} store holds unreadable data: {cause}")]
    Corrupt { store: &'static str, cause: String },
}

impl StoreError {
    pub fn unavailable(store: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            store,
            cause: cause.to_string(),
        }
    }

    pub fn audit_refused(cause: impl std::fmt::Display) -> Self {
        Self::AuditRefused {
            cause: cause.to_string(),
        }
    }

    pub fn corrupt(store: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            store,
            cause: cause.to_string(),
        }
    }
}
