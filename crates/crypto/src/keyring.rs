//! The signing-key ring: every key kunci signs with, by id.
//!
//! A key has an id (`kid`), a purpose (`cookie`: HMAC-SHA256 for auth tokens and CSRF tokens;
//! `jwt`: Ed25519 for access tokens) and a state. Exactly one key per purpose is `active` and
//! signs; `verify` keys still verify what they signed before a rotation; `retired` keys verify
//! nothing. Every signed value names its kid, and verification looks that kid up: an unknown
//! or retired kid fails, and a missing key is an error, never a silent pass.
//!
//! This module holds the keys in memory and does the arithmetic; storage, sealing under the
//! master key and rotation schedules live in the domain and store crates.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// A key id: 4 to 40 characters of `[A-Za-z0-9_-]`. Parsed once; anything else (a path, a URL,
/// an empty string) is refused before any lookup.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(String);

impl Kid {
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (4..=40).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }

    /// A new random id with a purpose prefix: `ck_…` or `jk_…`.
    fn generate(purpose: KeyPurpose) -> Result<Self, KeyRingError> {
        let mut bytes = [0u8; 9];
        getrandom::fill(&mut bytes).map_err(|_| KeyRingError::Random)?;
        let prefix = match purpose {
            KeyPurpose::Cookie => "ck",
            KeyPurpose::Jwt => "jk",
        };
        Ok(Self(format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.0)
    }
}

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// HMAC-SHA256: the `kunci_auth` token, CSRF tokens.
    Cookie,
    /// Ed25519: JWT access tokens, published in the JWKS.
    Jwt,
}

impl KeyPurpose {
    pub const ALL: [Self; 2] = [Self::Cookie, Self::Jwt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Jwt => "jwt",
        }
    }
}

impl FromStr for KeyPurpose {
    type Err = KeyRingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cookie" => Ok(Self::Cookie),
            "jwt" => Ok(Self::Jwt),
            _ => Err(KeyRingError::UnknownPurpose),
        }
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    Active,
    Verify,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Verify => "verify",
            Self::Retired => "retired",
        }
    }
}

impl FromStr for KeyState {
    type Err = KeyRingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Self::Active),
            "verify" => Ok(Self::Verify),
            "retired" => Ok(Self::Retired),
            _ => Err(KeyRingError::UnknownState),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    #[error("more than one active key for purpose {0}")]
    SeveralActive(&'static str),
    #[error("unknown key purpose")]
    UnknownPurpose,
    #[error("unknown key state")]
    UnknownState,
    #[error("key material of the wrong length for its purpose")]
    BadMaterial,
    #[error("the system's random number generator failed")]
    Random,
}

/// The secret part of a key.
#[derive(Clone)]
pub enum Material {
    Hmac(Zeroizing<[u8; 32]>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl Material {
    /// New random material for `purpose`.
    pub fn generate(purpose: KeyPurpose) -> Result<Self, KeyRingError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|_| KeyRingError::Random)?;
        Ok(match purpose {
            KeyPurpose::Cookie => Self::Hmac(bytes),
            KeyPurpose::Jwt => {
                Self::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&bytes)))
            }
        })
    }

    /// The 32 secret bytes, for sealing.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        match self {
            Self::Hmac(bytes) => bytes.clone(),
            Self::Ed25519(key) => Zeroizing::new(key.to_bytes()),
        }
    }

    /// Material from sealed bytes.
    pub fn from_bytes(purpose: KeyPurpose, bytes: &[u8]) -> Result<Self, KeyRingError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| KeyRingError::BadMaterial)?;
        let array = Zeroizing::new(array);
        Ok(match purpose {
            KeyPurpose::Cookie => Self::Hmac(array),
            KeyPurpose::Jwt => {
                Self::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&array)))
            }
        })
    }
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hmac(_) => "Material::Hmac([redacted])",
            Self::Ed25519(_) => "Material::Ed25519([redacted])",
        })
    }
}

/// One key of the ring.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: Kid,
    pub purpose: KeyPurpose,
    pub state: KeyState,
    material: Material,
}

impl SigningKey {
    pub fn new(kid: Kid, purpose: KeyPurpose, state: KeyState, material: Material) -> Self {
        Self {
            kid,
            purpose,
            state,
            material,
        }
    }

    /// A new random key for `purpose`, in state `active`.
    pub fn generate(purpose: KeyPurpose) -> Result<Self, KeyRingError> {
        Ok(Self::new(
            Kid::generate(purpose)?,
            purpose,
            KeyState::Active,
            Material::generate(purpose)?,
        ))
    }

    pub fn material(&self) -> &Material {
        &self.material
    }

    /// The Ed25519 public key, for `jwt` keys.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        match &self.material {
            Material::Ed25519(key) => Some(key.verifying_key().to_bytes()),
            Material::Hmac(_) => None,
        }
    }

    /// HMAC-SHA256 of `message` under this key, with `context` as a domain separator (so an
    /// auth token can never pass for a CSRF token). `None` for keys that are not HMAC keys.
    pub fn mac(&self, context: &str, message: &[u8]) -> Option<[u8; 32]> {
        let Material::Hmac(key) = &self.material else {
            return None;
        };
        let mut mac = <hmac::Hmac<Sha256>>::new_from_slice(key.as_slice()).ok()?;
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        Some(mac.finalize().into_bytes().into())
    }

    /// Constant-time check of a MAC made by [`SigningKey::mac`].
    pub fn verify_mac(&self, context: &str, message: &[u8], tag: &[u8]) -> bool {
        self.mac(context, message)
            .is_some_and(|expected| bool::from(expected.as_slice().ct_eq(tag)))
    }

    /// Ed25519 signature of `message`; `None` for keys that are not Ed25519 keys.
    pub fn sign(&self, message: &[u8]) -> Option<[u8; 64]> {
        let Material::Ed25519(key) = &self.material else {
            return None;
        };
        Some(key.sign(message).to_bytes())
    }

    /// Strict Ed25519 verification (no malleable signatures, no weak keys).
    pub fn verify_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        let Material::Ed25519(key) = &self.material else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        key.verifying_key()
            .verify_strict(message, &signature)
            .is_ok()
    }
}

/// The keys in force, by id. Cheap to share (`Arc` inside); replaced whole on reload.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<Kid, Arc<SigningKey>>,
}

impl KeyRing {
    /// Builds a ring; at most one active key per purpose.
    pub fn new(keys: impl IntoIterator<Item = SigningKey>) -> Result<Self, KeyRingError> {
        let keys: HashMap<Kid, Arc<SigningKey>> = keys
            .into_iter()
            .map(|k| (k.kid.clone(), Arc::new(k)))
            .collect();
        for purpose in KeyPurpose::ALL {
            let active = keys
                .values()
                .filter(|k| k.purpose == purpose && k.state == KeyState::Active);
            if active.count() > 1 {
                return Err(KeyRingError::SeveralActive(purpose.as_str()));
            }
        }
        Ok(Self { keys })
    }

    /// The key that signs for `purpose`, if the ring has one.
    pub fn active(&self, purpose: KeyPurpose) -> Option<&Arc<SigningKey>> {
        self.keys
            .values()
            .find(|k| k.purpose == purpose && k.state == KeyState::Active)
    }

    /// The key that may verify a value of `purpose` signed by `kid`: known, of that purpose,
    /// and active or verify. Retired and unknown kids give `None`.
    pub fn verifier(&self, kid: &Kid, purpose: KeyPurpose) -> Option<&Arc<SigningKey>> {
        self.keys.get(kid).filter(|k| {
            k.purpose == purpose && matches!(k.state, KeyState::Active | KeyState::Verify)
        })
    }

    /// Every key, any state.
    pub fn keys(&self) -> impl Iterator<Item = &Arc<SigningKey>> {
        self.keys.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(purpose: KeyPurpose, state: KeyState) -> SigningKey {
        let mut key = SigningKey::generate(purpose).unwrap();
        key.state = state;
        key
    }

    #[test]
    fn kids_are_checked_before_any_lookup() {
        for bad in [
            "",
            "abc",
            "../../etc/passwd",
            "a b c d",
            "https://x",
            &"x".repeat(41),
            "kid\0x",
        ] {
            assert!(Kid::parse(bad).is_none(), "{bad:?}");
        }
        assert!(Kid::parse("ck_AbC-123").is_some());
        let generated = SigningKey::generate(KeyPurpose::Jwt).unwrap();
        assert!(generated.kid.as_str().starts_with("jk_"));
        assert_eq!(Kid::parse(generated.kid.as_str()), Some(generated.kid));
    }

    #[test]
    fn only_active_and_verify_keys_of_the_right_purpose_verify() {
        let active = key(KeyPurpose::Cookie, KeyState::Active);
        let verify = key(KeyPurpose::Cookie, KeyState::Verify);
        let retired = key(KeyPurpose::Cookie, KeyState::Retired);
        let jwt = key(KeyPurpose::Jwt, KeyState::Active);
        let ring =
            KeyRing::new([active.clone(), verify.clone(), retired.clone(), jwt.clone()]).unwrap();
        assert_eq!(ring.active(KeyPurpose::Cookie).unwrap().kid, active.kid);
        assert!(ring.verifier(&active.kid, KeyPurpose::Cookie).is_some());
        assert!(ring.verifier(&verify.kid, KeyPurpose::Cookie).is_some());
        assert!(ring.verifier(&retired.kid, KeyPurpose::Cookie).is_none());
        assert!(
            ring.verifier(&jwt.kid, KeyPurpose::Cookie).is_none(),
            "purposes never mix"
        );
        assert!(
            ring.verifier(&Kid::parse("ck_unknown").unwrap(), KeyPurpose::Cookie)
                .is_none()
        );
    }

    #[test]
    fn two_active_keys_for_one_purpose_are_refused() {
        let err = KeyRing::new([
            key(KeyPurpose::Jwt, KeyState::Active),
            key(KeyPurpose::Jwt, KeyState::Active),
        ]);
        assert_eq!(err.unwrap_err(), KeyRingError::SeveralActive("jwt"));
    }

    #[test]
    fn macs_are_bound_to_key_and_context() {
        let a = key(KeyPurpose::Cookie, KeyState::Active);
        let b = key(KeyPurpose::Cookie, KeyState::Active);
        let tag = a.mac("auth", b"m").unwrap();
        assert!(a.verify_mac("auth", b"m", &tag));
        assert!(!a.verify_mac("csrf", b"m", &tag));
        assert!(!a.verify_mac("auth", b"n", &tag));
        assert!(!b.verify_mac("auth", b"m", &tag));
        assert!(!a.verify_mac("auth", b"m", &tag[..31]));
        assert!(
            key(KeyPurpose::Jwt, KeyState::Active)
                .mac("auth", b"m")
                .is_none()
        );
    }

    #[test]
    fn ed25519_keys_sign_and_round_trip_through_their_bytes() {
        let k = key(KeyPurpose::Jwt, KeyState::Active);
        let signature = k.sign(b"m").unwrap();
        assert!(k.verify_signature(b"m", &signature));
        assert!(!k.verify_signature(b"n", &signature));
        let restored =
            Material::from_bytes(KeyPurpose::Jwt, k.material().to_bytes().as_slice()).unwrap();
        let again = SigningKey::new(k.kid.clone(), KeyPurpose::Jwt, KeyState::Active, restored);
        assert_eq!(again.public_key(), k.public_key());
        assert!(format!("{k:?}").contains("[redacted]"));
    }
}
