//! Access tokens already verified, so a client that sends the same bearer token on every call
//! pays for one Ed25519 verification (tens of microseconds), not one per request. Keyed by the
//! token's SHA-256; an entry is only used while the token's key is still in the ring as a
//! verifier and the token is inside its validity window, checked at every use exactly as
//! [`jwt::verify`] checks it. Revocation is not cached: the caller checks it every time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

#[cfg(test)]
use kunci_crypto::jwt::{self, Expected};
use kunci_crypto::jwt::{JwtError, SKEW_SECS, Verified};
use kunci_crypto::keyring::{KeyPurpose, KeyRing};
use sha2::{Digest as _, Sha256};

/// Tokens remembered at most; past it, expired ones are dropped, then everything.
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct BearerCache {
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

impl BearerCache {
    /// A token verified before, checked again as [`jwt::verify`] checks it: `None` when it is
    /// not remembered (or its key no longer verifies).
    pub(crate) fn cached(
        &self,
        ring: &KeyRing,
        token: &str,
        now: i64,
    ) -> Option<Result<Verified, JwtError>> {
        let known = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest(token))
            .cloned()?;
        ring.verifier(&known.kid, KeyPurpose::Jwt)?;
        Some(if known.claims.exp + SKEW_SECS <= now {
            Err(JwtError::Expired)
        } else if known.claims.nbf - SKEW_SECS > now {
            Err(JwtError::NotYetValid)
        } else {
            Ok(known)
        })
    }

    /// Remembers a token the caller verified (and admitted).
    pub(crate) fn remember(&self, token: &str, verified: &Verified, now: i64) {
        let mut cache = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CAPACITY {
            cache.retain(|_, v| v.claims.exp + SKEW_SECS > now);
            if cache.len() >= CAPACITY {
                cache.clear();
            }
        }
        cache.insert(digest(token), verified.clone());
    }

    /// [`jwt::verify`], answered from memory for a token verified before.
    #[cfg(test)]
    pub(crate) fn verify(
        &self,
        ring: &KeyRing,
        token: &str,
        now: i64,
        expected: Expected<'_>,
    ) -> Result<Verified, JwtError> {
        if let Some(known) = self.cached(ring, token, now) {
            return known;
        }
        let verified = jwt::verify(ring, token, now, expected)?;
        self.remember(token, &verified, now);
        Ok(verified)
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use kunci_crypto::keyring::{KeyState, SigningKey};

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn claims() -> jwt::Claims {
        jwt::Claims {
            sub: "acct".into(),
            preferred_username: "alice".into(),
            iat: NOW,
            nbf: NOW,
            exp: NOW + 900,
            iss: "https://kunci.test".into(),
            aud: "kunci".into(),
            jti: "j1".into(),
            scope: "basic user".into(),
            sid: "family".into(),
        }
    }

    fn verify(
        cache: &BearerCache,
        ring: &KeyRing,
        token: &str,
        now: i64,
    ) -> Result<Verified, JwtError> {
        let expected = Expected {
            iss: "https://kunci.test",
            aud: "kunci",
            lifetime_secs: 900,
        };
        cache.verify(ring, token, now, expected)
    }

    #[test]
    fn a_remembered_token_still_expires_and_dies_with_its_key() {
        let key = SigningKey::generate(KeyPurpose::Jwt).unwrap();
        let kid = key.kid.clone();
        let material = key.material().to_bytes();
        let ring = KeyRing::new([key]).unwrap();
        let token = jwt::sign(&ring, &claims()).unwrap();
        let cache = BearerCache::default();
        assert_eq!(verify(&cache, &ring, &token, NOW).unwrap().claims, claims());
        assert_eq!(
            verify(&cache, &ring, &token, NOW + 10).unwrap().claims,
            claims()
        );
        assert_eq!(
            verify(&cache, &ring, &token, NOW + 900 + SKEW_SECS),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify(&cache, &ring, &token, NOW - SKEW_SECS - 1),
            Err(JwtError::NotYetValid)
        );
        // The key retired: the remembered verification counts for nothing.
        let retired = KeyRing::new([SigningKey::new(
            kid,
            KeyPurpose::Jwt,
            KeyState::Retired,
            kunci_crypto::keyring::Material::from_bytes(KeyPurpose::Jwt, material.as_ref())
                .unwrap(),
        )])
        .unwrap();
        assert_eq!(
            verify(&cache, &retired, &token, NOW),
            Err(JwtError::UnknownKey)
        );
        // A token with one byte changed is a different token, verified from scratch.
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(verify(&cache, &ring, &forged, NOW).is_err());
    }
}
