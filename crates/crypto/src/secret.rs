//! A string that is a secret: zeroized on drop, masked whenever it is formatted.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::mask::mask;

/// A secret string. `Debug` and `Display` print only the masked form (see [`mask`]); the
/// value is reachable only through [`SecretString::expose`], so every place that reads it is
/// greppable. The memory is overwritten when the value is dropped.
///
/// Deliberately not `Serialize`: a secret cannot end up in a response or a log by accident.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call this only where the value is really used (to connect, to
    /// derive a key, to sign), never to format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form, e.g. `AIza…RYSU`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretString({})", self.masked())
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "CANARY-secret-value-0123456789";

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = SecretString::new(CANARY);
        for shown in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{secret:#?}"),
        ] {
            assert!(!shown.contains("secret-value"), "{shown}");
            assert!(
                shown.contains("6789"),
                "the masked form keeps the last four: {shown}"
            );
        }
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(SecretString::new(CANARY).expose(), CANARY);
    }
}
