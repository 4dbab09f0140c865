//! Access tokens: compact JWS (RFC 7515) signed with the ring's Ed25519 `jwt` keys, verified
//! per RFC 8725.
//!
//! - The header is fixed: `{"alg":"EdDSA","kid":"<kid>","typ":"JWT"}`. Verification accepts
//!   `alg` `EdDSA` only (never `none`, never an HMAC algorithm keyed with a public key), a
//!   `kid` of a `jwt` key in the ring (active or verify), `typ` `JWT` if present, and no other
//!   header parameter (`jku`, `x5u`, `jwk`, `crit` … are refused, not ignored).
//! - Claims: `sub`, `preferred_username`, `iat`, `exp`, `nbf`, `iss`, `aud`, `jti`, `scope` (space-separated) and
//!   `sid` (the refresh-token family, so a bearer logout knows what to revoke). `exp`, `iss`,
//!   `aud` are required and checked with at most [`SKEW_SECS`] of clock skew; `nbf` likewise.
//! - Anything over [`MAX_TOKEN_BYTES`] is refused before decoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::keyring::{KeyPurpose, KeyRing, Kid};

/// The clock skew tolerated on `exp` and `nbf`.
pub const SKEW_SECS: i64 = 60;
/// The longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// The claims kunci puts in an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    pub sub: String,
    /// The account name, for display (OpenID Connect's claim).
    pub preferred_username: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The refresh-token family this token was issued in.
    pub sid: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Why a token was refused. Callers answer all of them alike; the variants are for logs and
/// tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("no active jwt key")]
    NoActiveKey,
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm or header")]
    Header,
    #[error("unknown or retired key id")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("wrong issuer or audience")]
    WrongAudience,
    /// Issued in the future, or living longer than this deployment issues tokens for: what a
    /// token minted with a leaked key looks like.
    #[error("issued in the future or living too long")]
    OutOfBounds,
}

/// What a deployment's access tokens must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    /// The lifetime this deployment issues (`exp - iat`); longer ones are refused.
    pub lifetime_secs: i64,
}

/// Signs `claims` with the active `jwt` key.
pub fn sign(ring: &KeyRing, claims: &Claims) -> Result<String, JwtError> {
    let key = ring.active(KeyPurpose::Jwt).ok_or(JwtError::NoActiveKey)?;
    let header = Header {
        alg: "EdDSA".to_owned(),
        kid: key.kid.as_str().to_owned(),
        typ: Some("JWT".to_owned()),
    };
    let signing_input = format!("{}.{}", encode(&header), encode(claims));
    let signature = key
        .sign(signing_input.as_bytes())
        .ok_or(JwtError::NoActiveKey)?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn encode<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// What a valid token says, and which key verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kid: Kid,
    pub claims: Claims,
}

/// Verifies `token` at `now` for issuer `iss` and audience `aud`.
pub fn verify(
    ring: &KeyRing,
    token: &str,
    now: i64,
    expected: Expected<'_>,
) -> Result<Verified, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed)
    };
    let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Header)?;
    if header.alg != "EdDSA" || header.typ.as_deref().is_some_and(|t| t != "JWT") {
        return Err(JwtError::Header);
    }
    let kid = Kid::parse(&header.kid).ok_or(JwtError::UnknownKey)?;
    let key = ring
        .verifier(&kid, KeyPurpose::Jwt)
        .ok_or(JwtError::UnknownKey)?;
    let signature = decode(signature)?;
    let signing_input_len = token.len() - signature_len(token);
    let signing_input = &token.as_bytes()[..signing_input_len];
    if !key.verify_signature(signing_input, &signature) {
        return Err(JwtError::Signature);
    }
    // Only now, with the signature verified, are the claims read.
    let claims: Claims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| JwtError::Malformed)?;
    if claims.exp + SKEW_SECS <= now {
        return Err(JwtError::Expired);
    }
    if claims.nbf - SKEW_SECS > now {
        return Err(JwtError::NotYetValid);
    }
    if claims.iss != expected.iss || claims.aud != expected.aud {
        return Err(JwtError::WrongAudience);
    }
    if claims.iat - SKEW_SECS > now || claims.exp - claims.iat > expected.lifetime_secs + SKEW_SECS
    {
        return Err(JwtError::OutOfBounds);
    }
    Ok(Verified { kid, claims })
}

/// The length of `.signature` at the end of `token`.
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::{KeyState, SigningKey};
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn ring() -> KeyRing {
        KeyRing::new([SigningKey::generate(KeyPurpose::Jwt).unwrap()]).unwrap()
    }

    fn claims() -> Claims {
        Claims {
            sub: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            preferred_username: "alice".into(),
            iat: NOW,
            nbf: NOW,
            exp: NOW + 900,
            iss: "https://kunci.test".into(),
            aud: "kunci-api".into(),
            jti: "j1".into(),
            scope: "basic user".into(),
            sid: "f1".into(),
        }
    }

    fn expected<'a>(iss: &'a str, aud: &'a str) -> Expected<'a> {
        Expected {
            iss,
            aud,
            lifetime_secs: 900,
        }
    }

    fn check(ring: &KeyRing, token: &str) -> Result<Verified, JwtError> {
        verify(
            ring,
            token,
            NOW + 10,
            expected("https://kunci.test", "kunci-api"),
        )
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn a_token_round_trips_with_its_kid() {
        let ring = ring();
        let token = sign(&ring, &claims()).unwrap();
        let verified = check(&ring, &token).unwrap();
        assert_eq!(verified.claims, claims());
        assert_eq!(&verified.kid, &ring.active(KeyPurpose::Jwt).unwrap().kid);
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], verified.kid.as_str());
    }

    #[test]
    fn time_issuer_and_audience_are_checked_with_bounded_skew() {
        let ring = ring();
        let token = sign(&ring, &claims()).unwrap();
        let at = |now| {
            verify(
                &ring,
                &token,
                now,
                expected("https://kunci.test", "kunci-api"),
            )
        };
        assert!(at(NOW + 900 + 59).is_ok(), "inside the skew");
        assert_eq!(at(NOW + 900 + 60), Err(JwtError::Expired));
        assert!(at(NOW - 59).is_ok());
        assert_eq!(at(NOW - 61), Err(JwtError::NotYetValid));
        assert_eq!(
            verify(
                &ring,
                &token,
                NOW,
                expected("https://other.test", "kunci-api")
            ),
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            verify(&ring, &token, NOW, expected("https://kunci.test", "other")),
            Err(JwtError::WrongAudience)
        );
    }

    #[test]
    fn a_token_from_the_future_or_living_too_long_is_refused() {
        let ring = ring();
        let long = Claims {
            exp: NOW + 10 * 365 * 86_400,
            ..claims()
        };
        assert_eq!(
            check(&ring, &sign(&ring, &long).unwrap()),
            Err(JwtError::OutOfBounds),
            "ten years, signed by a good key"
        );
        let just = Claims {
            exp: NOW + 900 + 60,
            ..claims()
        };
        assert!(
            check(&ring, &sign(&ring, &just).unwrap()).is_ok(),
            "within the skew"
        );
        let future = Claims {
            iat: NOW + 3600,
            nbf: NOW,
            exp: NOW + 3600 + 900,
            ..claims()
        };
        assert_eq!(
            check(&ring, &sign(&ring, &future).unwrap()),
            Err(JwtError::OutOfBounds),
            "issued an hour from now, valid (nbf) already"
        );
    }

    #[test]
    fn the_attack_set_is_refused() {
        let ring = ring();
        let good = sign(&ring, &claims()).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let kid = ring
            .active(KeyPurpose::Jwt)
            .unwrap()
            .kid
            .as_str()
            .to_owned();
        let payload = parts[1];
        let none = format!(
            "{}.{payload}.",
            b64(&serde_json::json!({"alg": "none", "kid": kid}))
        );
        let none_upper = format!(
            "{}.{payload}.",
            b64(&serde_json::json!({"alg": "NONE", "kid": kid}))
        );
        // HS256 "signed" with the public key (algorithm confusion).
        let public = ring.active(KeyPurpose::Jwt).unwrap().public_key().unwrap();
        let hs_input = format!(
            "{}.{payload}",
            b64(&serde_json::json!({"alg": "HS256", "kid": kid}))
        );
        let hs_sig = {
            use hmac::{KeyInit as _, Mac as _};
            let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(&public).unwrap();
            mac.update(hs_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        };
        let hs256 = format!("{hs_input}.{hs_sig}");
        let unknown_kid = format!(
            "{}.{payload}.{}",
            b64(&serde_json::json!({"alg": "EdDSA", "kid": "jk_unknown"})),
            parts[2]
        );
        let path_kid = format!(
            "{}.{payload}.{}",
            b64(&serde_json::json!({"alg": "EdDSA", "kid": "../../etc/passwd"})),
            parts[2]
        );
        let jku = format!(
            "{}.{payload}.{}",
            b64(&serde_json::json!({"alg": "EdDSA", "kid": kid, "jku": "https://evil.test/jwks"})),
            parts[2]
        );
        let mut tampered_claims = claims();
        tampered_claims.scope = "basic user admin".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_value(&tampered_claims).unwrap()),
            parts[2]
        );
        let truncated = &good[..good.len() - 5];
        let oversized = format!("{good}{}", "A".repeat(MAX_TOKEN_BYTES));
        for (name, token, expected) in [
            ("alg none", none.as_str(), JwtError::Header),
            ("alg NONE", none_upper.as_str(), JwtError::Header),
            (
                "HS256 with the public key",
                hs256.as_str(),
                JwtError::Header,
            ),
            ("unknown kid", unknown_kid.as_str(), JwtError::UnknownKey),
            ("kid path trick", path_kid.as_str(), JwtError::UnknownKey),
            ("extra header parameter", jku.as_str(), JwtError::Header),
            ("changed claims", tampered.as_str(), JwtError::Signature),
            ("truncated", truncated, JwtError::Malformed),
            ("oversized", oversized.as_str(), JwtError::Malformed),
            ("two parts", "a.b", JwtError::Malformed),
            ("empty", "", JwtError::Malformed),
        ] {
            assert_eq!(check(&ring, token), Err(expected), "{name}");
        }
    }

    #[test]
    fn a_cookie_key_cannot_sign_or_verify_tokens_and_retired_keys_stop_verifying() {
        let jwt = SigningKey::generate(KeyPurpose::Jwt).unwrap();
        let ring = KeyRing::new([jwt.clone()]).unwrap();
        let token = sign(&ring, &claims()).unwrap();
        let cookie_only =
            KeyRing::new([SigningKey::generate(KeyPurpose::Cookie).unwrap()]).unwrap();
        assert_eq!(sign(&cookie_only, &claims()), Err(JwtError::NoActiveKey));
        let retired = SigningKey::new(
            jwt.kid.clone(),
            KeyPurpose::Jwt,
            KeyState::Retired,
            jwt.material().clone(),
        );
        let after =
            KeyRing::new([retired, SigningKey::generate(KeyPurpose::Jwt).unwrap()]).unwrap();
        assert_eq!(check(&after, &token), Err(JwtError::UnknownKey));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_verifies_or_panics(text in ".{0,300}") {
            let ring = ring();
            prop_assert!(check(&ring, &text).is_err());
        }

        #[test]
        fn every_single_byte_change_is_rejected(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let ring = ring();
            let token = sign(&ring, &claims()).unwrap();
            let mut bytes = token.into_bytes();
            let i = pos.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert!(check(&ring, &changed).is_err());
        }
    }
}
