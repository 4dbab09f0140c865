//! The `kunci_auth` token: `kid | uid | sub | iat | exp | scope`, plus the session it belongs
//! to, signed with the ring's active `cookie` key.
//!
//! ```text
//! v1.<kid>.<base64url(uid|session|sub|iat|exp|scope)>.<base64url(HMAC-SHA256)>
//! ```
//!
//! The MAC covers everything before it (version, kid and payload) under the domain-separation
//! context `kunci-auth`, and is checked in constant time *before* the payload is parsed. Any
//! changed byte fails; an unknown or retired kid fails. Expiry is not judged here: the caller
//! compares `exp` with its clock, because an expired token with a valid session is refreshed,
//! not refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keyring::{KeyPurpose, KeyRing, Kid};

const VERSION: &str = "v1";
const CONTEXT: &str = "kunci-auth";
/// Tokens longer than this are refused before any work.
pub const MAX_LEN: usize = 1024;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthClaims {
    /// The browser's id (`kunci_uid`), a UUID.
    pub uid: String,
    /// A tag of the server session this token mirrors (16 hex digits).
    pub session: String,
    /// The account, empty for a browser that has not logged in.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Scopes, each `[a-z_]+`.
    pub scope: Vec<String>,
}

/// A token whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub claims: AuthClaims,
    pub kid: Kid,
    /// Signed by the key that is active now; `false` means a rotation happened since, and the
    /// token should be reissued.
    pub key_active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("the token's key is unknown or retired")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("no active cookie key to sign with")]
    NoActiveKey,
    #[error("the claims cannot be encoded")]
    InvalidClaims,
}

/// Signs `claims` with the active cookie key.
pub fn sign(ring: &KeyRing, claims: &AuthClaims) -> Result<String, TokenError> {
    let key = ring
        .active(KeyPurpose::Cookie)
        .ok_or(TokenError::NoActiveKey)?;
    let payload = encode_claims(claims).ok_or(TokenError::InvalidClaims)?;
    let signed = format!("{VERSION}.{}.{}", key.kid, URL_SAFE_NO_PAD.encode(payload));
    let tag = key
        .mac(CONTEXT, signed.as_bytes())
        .ok_or(TokenError::NoActiveKey)?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

/// Checks a token's signature against the ring and returns its claims.
pub fn verify(ring: &KeyRing, token: &str) -> Result<Verified, TokenError> {
    if token.len() > MAX_LEN {
        return Err(TokenError::Malformed);
    }
    let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let mut parts = signed.split('.');
    let (Some(VERSION), Some(kid), Some(payload), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let kid = Kid::parse(kid).ok_or(TokenError::Malformed)?;
    let key = ring
        .verifier(&kid, KeyPurpose::Cookie)
        .ok_or(TokenError::UnknownKey)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TokenError::Malformed)?;
    if !key.verify_mac(CONTEXT, signed.as_bytes(), &tag) {
        return Err(TokenError::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims = decode_claims(&payload).ok_or(TokenError::Malformed)?;
    let key_active = ring
        .active(KeyPurpose::Cookie)
        .is_some_and(|active| active.kid == kid);
    Ok(Verified {
        claims,
        kid,
        key_active,
    })
}

fn encode_claims(c: &AuthClaims) -> Option<String> {
    let valid = is_uid(&c.uid)
        && is_session_tag(&c.session)
        && is_sub(&c.sub)
        && c.scope.iter().all(|s| is_scope(s));
    valid.then(|| {
        format!(
            "{}|{}|{}|{}|{}|{}",
            c.uid,
            c.session,
            c.sub,
            c.iat,
            c.exp,
            c.scope.join(" ")
        )
    })
}

fn decode_claims(payload: &[u8]) -> Option<AuthClaims> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut fields = text.split('|');
    let (Some(uid), Some(session), Some(sub), Some(iat), Some(exp), Some(scope), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return None;
    };
    let scope: Vec<String> = if scope.is_empty() {
        Vec::new()
    } else {
        scope.split(' ').map(str::to_owned).collect()
    };
    let claims = AuthClaims {
        uid: uid.to_owned(),
        session: session.to_owned(),
        sub: sub.to_owned(),
        iat: parse_int(iat)?,
        exp: parse_int(exp)?,
        scope,
    };
    // Re-encoding must give the same bytes: one text per token, nothing ignored.
    (encode_claims(&claims)?.as_bytes() == payload).then_some(claims)
}

fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_uid(s: &str) -> bool {
    s.len() == 36
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase() || b == b'-')
}

fn is_session_tag(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_sub(s: &str) -> bool {
    s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'))
}

fn is_scope(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::keyring::{KeyState, Material, SigningKey};

    fn claims() -> AuthClaims {
        AuthClaims {
            uid: "0f8fad5b-d9cb-469f-a165-70867728950e".to_owned(),
            session: "0123456789abcdef".to_owned(),
            sub: "42".to_owned(),
            iat: 1_790_000_000,
            exp: 1_790_000_900,
            scope: vec!["basic".to_owned(), "user".to_owned()],
        }
    }

    fn ring_with(state: KeyState) -> (KeyRing, SigningKey) {
        let key = SigningKey::generate(KeyPurpose::Cookie).unwrap();
        let key = SigningKey::new(
            key.kid.clone(),
            KeyPurpose::Cookie,
            state,
            key.material().clone(),
        );
        (KeyRing::new([key.clone()]).unwrap(), key)
    }

    #[test]
    fn a_token_round_trips_and_names_its_kid() {
        let (ring, key) = ring_with(KeyState::Active);
        let token = sign(&ring, &claims()).unwrap();
        assert!(token.starts_with(&format!("v1.{}.", key.kid)));
        let verified = verify(&ring, &token).unwrap();
        assert_eq!(verified.claims, claims());
        assert_eq!(verified.kid, key.kid);
        assert!(verified.key_active);
    }

    #[test]
    fn anonymous_tokens_have_an_empty_subject() {
        let (ring, _) = ring_with(KeyState::Active);
        let anonymous = AuthClaims {
            sub: String::new(),
            scope: vec!["basic".to_owned()],
            ..claims()
        };
        assert_eq!(
            verify(&ring, &sign(&ring, &anonymous).unwrap())
                .unwrap()
                .claims,
            anonymous
        );
    }

    #[test]
    fn after_a_rotation_old_tokens_verify_but_are_marked_for_reissue() {
        let (ring, old) = ring_with(KeyState::Active);
        let token = sign(&ring, &claims()).unwrap();
        let demoted = SigningKey::new(
            old.kid.clone(),
            KeyPurpose::Cookie,
            KeyState::Verify,
            old.material().clone(),
        );
        let rotated =
            KeyRing::new([demoted, SigningKey::generate(KeyPurpose::Cookie).unwrap()]).unwrap();
        let verified = verify(&rotated, &token).unwrap();
        assert!(!verified.key_active);
        let retired = SigningKey::new(
            old.kid.clone(),
            KeyPurpose::Cookie,
            KeyState::Retired,
            old.material().clone(),
        );
        assert_eq!(
            verify(&KeyRing::new([retired]).unwrap(), &token),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn unknown_kids_and_other_keys_fail() {
        let (ring, _) = ring_with(KeyState::Active);
        let (other, _) = ring_with(KeyState::Active);
        let token = sign(&ring, &claims()).unwrap();
        assert_eq!(verify(&other, &token), Err(TokenError::UnknownKey));
        let empty = KeyRing::default();
        assert_eq!(sign(&empty, &claims()), Err(TokenError::NoActiveKey));
    }

    #[test]
    fn every_single_byte_change_is_rejected() {
        let (ring, _) = ring_with(KeyState::Active);
        let token = sign(&ring, &claims()).unwrap().into_bytes();
        for i in 0..token.len() {
            for delta in [1u8, 0x20, 0x80] {
                let mut changed = token.clone();
                changed[i] ^= delta;
                if let Ok(text) = String::from_utf8(changed) {
                    assert!(
                        verify(&ring, &text).is_err(),
                        "byte {i} ^ {delta:#x} accepted"
                    );
                }
            }
        }
    }

    #[test]
    fn claims_that_could_smuggle_separators_are_refused() {
        let (ring, _) = ring_with(KeyState::Active);
        for bad in [
            AuthClaims {
                sub: "a|b".to_owned(),
                ..claims()
            },
            AuthClaims {
                scope: vec!["user admin".to_owned()],
                ..claims()
            },
            AuthClaims {
                uid: "not-a-uuid".to_owned(),
                ..claims()
            },
            AuthClaims {
                session: "XYZ".to_owned(),
                ..claims()
            },
        ] {
            assert_eq!(sign(&ring, &bad), Err(TokenError::InvalidClaims), "{bad:?}");
        }
    }

    #[test]
    fn a_jwt_key_never_signs_cookies() {
        let jwt = SigningKey::new(
            Kid::parse("jk_test_key").unwrap(),
            KeyPurpose::Jwt,
            KeyState::Active,
            Material::generate(KeyPurpose::Jwt).unwrap(),
        );
        assert_eq!(
            sign(&KeyRing::new([jwt]).unwrap(), &claims()),
            Err(TokenError::NoActiveKey)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_verifies_or_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (ring, key) = ring_with(KeyState::Active);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert!(verify(&ring, &text).is_err());
            let crafted = format!("v1.{}.{text}", key.kid);
            prop_assert!(verify(&ring, &crafted).is_err());
        }
    }
}
