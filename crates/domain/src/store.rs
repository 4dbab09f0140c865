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

    pub fn corrupt(store: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            store,
            cause: cause.to_string(),
        }
    }
}
