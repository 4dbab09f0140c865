//! Session ids: 256 random bits in base64url, strictly parsed from cookies, and the SHA-256
//! storage key that stores see instead of the id (a store's contents never hold a credential).
//! `Debug` shows only a prefix.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::hex;

/// A session id: 32 random bytes, base64url (43 characters). `Debug` shows only a prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, crate::RandomFailure> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| crate::RandomFailure)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// An id from a cookie: exactly 43 base64url characters, or nothing.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD.decode(text).is_ok_and(|b| b.len() == 32);
        ok.then(|| Self(text.to_owned()))
    }

    /// The cookie value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What stores key the session by: SHA-256 of the id, hex.
    pub fn storage_key(&self) -> String {
        hex(&Sha256::digest(format!("kunci-session\0{}", self.0)))
    }

    /// A short tag binding a token to this session (16 hex digits).
    pub fn tag(&self) -> String {
        hex(&Sha256::digest(format!("kunci-session-tag\0{}", self.0))[..8])
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", &self.0[..6.min(self.0.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_parse_back_and_hide_in_debug() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.expose()), Some(a.clone()));
        assert!(!format!("{a:?}").contains(&a.expose()[6..]));
        assert_ne!(a.storage_key(), b.storage_key());
        assert_eq!(a.tag().len(), 16);
    }

    #[test]
    fn hostile_cookie_values_are_refused() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &"+".repeat(43),
            "../../../../../../../../../../../etc/passwd",
        ] {
            assert!(SessionId::parse(bad).is_none(), "{bad}");
        }
    }
}
