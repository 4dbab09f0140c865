//! What a valid key of an upstream looks like: the check, and its description in parts.

use std::fmt;

/// Checks a key's format before it is stored (per adapter).
pub trait KeyFormat: Send + Sync {
    fn accepts(&self, key: &str) -> bool;
    /// What a valid key looks like, in parts a page can put into its own language.
    fn shape(&self) -> KeyShape;
    /// What a valid key looks like, for the error messages of the API and the command line.
    fn describe(&self) -> String {
        self.shape().to_string()
    }
}

/// What a valid key of an upstream looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyShape {
    /// `prefix`, then letters, digits, `-` or `_`: `total` characters in all.
    Prefixed { prefix: &'static str, total: usize },
    /// The whole key matches this regular expression (an operator's setting).
    Pattern(String),
    /// 8 to 512 printable characters without spaces.
    Printable,
}

impl fmt::Display for KeyShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Prefixed { prefix, total } => write!(
                f,
                "`{prefix}` followed by {} letters, digits, `-` or `_` ({total} characters)",
                total.saturating_sub(prefix.len())
            ),
            Self::Pattern(pattern) => write!(f, "a key matching `{pattern}`"),
            Self::Printable => f.write_str("8 to 512 printable characters without spaces"),
        }
    }
}
