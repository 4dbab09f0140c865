//! CSRF tokens: the session's CSRF secret, MACed with the active cookie key under the context
//! `kunci-csrf` (so no auth token can pass for one), tagged with the kid so a rotation does not
//! invalidate forms already on screen.
//!
//! ```text
//! v1.<kid>.<base64url(HMAC-SHA256(secret))>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keyring::{KeyPurpose, KeyRing, Kid};
use crate::token::TokenError;

const CONTEXT: &str = "kunci-csrf";

/// The token for a session whose CSRF secret is `secret`.
pub fn issue(ring: &KeyRing, secret: &str) -> Result<String, TokenError> {
    let key = ring
        .active(KeyPurpose::Cookie)
        .ok_or(TokenError::NoActiveKey)?;
    let tag = key
        .mac(CONTEXT, secret.as_bytes())
        .ok_or(TokenError::NoActiveKey)?;
    Ok(format!("v1.{}.{}", key.kid, URL_SAFE_NO_PAD.encode(tag)))
}

/// Whether `token` was issued for `secret` by a key of the ring (active or verify); the
/// comparison is constant-time.
pub fn verify(ring: &KeyRing, secret: &str, token: &str) -> bool {
    if token.len() > 200 {
        return false;
    }
    let mut parts = token.split('.');
    let (Some("v1"), Some(kid), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(key) =
        Kid::parse(kid).and_then(|kid| ring.verifier(&kid, KeyPurpose::Cookie).cloned())
    else {
        return false;
    };
    let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
        return false;
    };
    key.verify_mac(CONTEXT, secret.as_bytes(), &tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::SigningKey;

    #[test]
    fn a_token_verifies_for_its_secret_only() {
        let ring = KeyRing::new([SigningKey::generate(KeyPurpose::Cookie).unwrap()]).unwrap();
        let token = issue(&ring, "secret-a").unwrap();
        assert!(verify(&ring, "secret-a", &token));
        assert!(
            !verify(&ring, "secret-b", &token),
            "another session's token"
        );
        assert!(!verify(&ring, "secret-a", &token[..token.len() - 1]));
        for bad in ["", "v1", "v1..", "v2.ck_abcd.AAAA", &"x".repeat(300)] {
            assert!(!verify(&ring, "secret-a", bad), "{bad}");
        }
        let other = KeyRing::new([SigningKey::generate(KeyPurpose::Cookie).unwrap()]).unwrap();
        assert!(!verify(&other, "secret-a", &token));
    }
}
