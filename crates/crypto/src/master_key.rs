//! The master key: the one secret from which every other kunci key is derived.
//!
//! Text form: `kunci-mk-v1:` followed by 32 random bytes in unpadded base64url (one line, 55
//! characters). The prefix names the format version, so a future format can be told apart
//! instead of being misread.
//!
//! The key itself never encrypts anything: each use gets its own key derived with
//! HKDF-SHA256 and a distinct label ([`Purpose`]), so a weakness in one use cannot leak into
//! another, and the fingerprint reveals nothing about the keys that do the work.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::SecretString;

const PREFIX: &str = "kunci-mk-";
const VERSION: &str = "v1";
const KEY_LEN: usize = 32;

/// What a derived key is for. Each has its own HKDF label; never reuse one for another use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Encrypting `.env.<env>.enc` files.
    EnvFile,
    /// Sealing values stored in the database (API keys, signing-key material).
    Seal,
    /// Keyed digests of values shown in diffs, so a change is visible but the value is not.
    Digest,
    /// Keyed hashes of client IP addresses in the audit log.
    AuditIp,
    /// The MACs that chain audit-log entries, so nobody without the master key can rewrite it.
    AuditChain,
    /// Encrypting backups.
    Backup,
    /// Keyed hashes that detect duplicate secrets without storing them.
    Duplicate,
    /// The fingerprint that names the key in file headers and errors.
    Fingerprint,
    /// Keyed hashes of second-factor recovery codes: a stolen database does not give them.
    RecoveryCode,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::EnvFile => b"kunci/v1/env-file",
            Self::Seal => b"kunci/v1/seal",
            Self::Digest => b"kunci/v1/digest",
            Self::AuditIp => b"kunci/v1/audit-ip",
            Self::AuditChain => b"kunci/v1/audit-chain",
            Self::Backup => b"kunci/v1/backup",
            Self::Duplicate => b"kunci/v1/duplicate",
            Self::Fingerprint => b"kunci/v1/fingerprint",
            Self::RecoveryCode => b"kunci/v1/recovery-code",
        }
    }
}

/// A short public name for a master key: 8 bytes derived from it, shown as 16 hex digits.
/// Safe to print, store in headers and compare; it cannot be turned back into the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl Fingerprint {
    /// Parses the canonical form: 16 lowercase hex digits (one text per fingerprint, so a
    /// changed character never names the same key).
    pub fn parse_hex(text: &str) -> Option<Self> {
        let canonical = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if text.len() != 16 || !text.bytes().all(canonical) {
            return None;
        }
        let mut bytes = [0u8; 8];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A master key was given in a form kunci cannot use. Never contains the key text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the master key is empty")]
    Empty,
    #[error(
        "this is not a kunci master key: it should start with `kunci-mk-v1:` (create one with \
         `kunci key generate`)"
    )]
    NotAMasterKey,
    #[error("the master key is of format {0}, which this kunci does not know (it knows v1)")]
    UnsupportedVersion(String),
    #[error("the master key is damaged: expected 43 base64url characters after `kunci-mk-v1:`")]
    Malformed,
    #[error("the system's random number generator failed")]
    Random,
}

/// The master key. Zeroized on drop; printed only as its fingerprint.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    fingerprint: Fingerprint,
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Result<Self, MasterKeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(|_| MasterKeyError::Random)?;
        Ok(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let mut fingerprint = [0u8; 8];
        expand(bytes.as_slice(), Purpose::Fingerprint, &mut fingerprint);
        Self {
            bytes,
            fingerprint: Fingerprint(fingerprint),
        }
    }

    /// Reads the text form. Surrounding white space (a trailing newline) is ignored.
    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MasterKeyError::Empty);
        }
        let Some(rest) = text.strip_prefix(PREFIX) else {
            return Err(MasterKeyError::NotAMasterKey);
        };
        let Some((version, encoded)) = rest.split_once(':') else {
            return Err(MasterKeyError::NotAMasterKey);
        };
        if version != VERSION {
            // The version is short and not secret; cap it anyway in case it is not a version.
            let shown: String = version
                .chars()
                .take(8)
                .filter(char::is_ascii_alphanumeric)
                .collect();
            return Err(MasterKeyError::UnsupportedVersion(shown));
        }
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| MasterKeyError::Malformed)?,
        );
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if decoded.len() != KEY_LEN {
            return Err(MasterKeyError::Malformed);
        }
        bytes.copy_from_slice(&decoded);
        Ok(Self::from_bytes(bytes))
    }

    /// The text form, to be stored by the operator. Handle with care.
    pub fn encode(&self) -> SecretString {
        SecretString::new(format!(
            "{PREFIX}{VERSION}:{}",
            URL_SAFE_NO_PAD.encode(*self.bytes)
        ))
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The 32-byte key for `purpose`.
    pub fn derive(&self, purpose: Purpose) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        expand(self.bytes.as_slice(), purpose, key.as_mut());
        key
    }
}

impl MasterKey {
    /// A keyed digest (HMAC-SHA256 under the key derived for `purpose`): equal inputs give
    /// equal digests, and nobody without the master key can compute or invert one.
    pub fn keyed_digest(&self, purpose: Purpose, data: &[u8]) -> [u8; 32] {
        use hmac::{KeyInit as _, Mac as _};
        let key = self.derive(purpose);
        let mut mac = <hmac::Hmac<Sha256>>::new_from_slice(key.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

fn expand(ikm: &[u8], purpose: Purpose, out: &mut [u8]) {
    let hkdf = Hkdf::<Sha256>::new(Some(b"kunci master key"), ikm);
    // Output lengths here are at most 32 bytes, far below HKDF-SHA256's limit of 8160.
    let _ = hkdf.expand(purpose.label(), out);
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_round_trips_and_names_its_version() {
        let key = MasterKey::generate().unwrap();
        let text = key.encode();
        assert!(text.expose().starts_with("kunci-mk-v1:"));
        assert_eq!(text.expose().len(), 55);
        let parsed = MasterKey::parse(&format!("{}\n", text.expose())).unwrap();
        assert_eq!(parsed.fingerprint(), key.fingerprint());
        assert_eq!(*parsed.derive(Purpose::Seal), *key.derive(Purpose::Seal));
    }

    #[test]
    fn purposes_derive_different_keys() {
        let key = MasterKey::generate().unwrap();
        assert_ne!(*key.derive(Purpose::Seal), *key.derive(Purpose::EnvFile));
        assert_ne!(*key.derive(Purpose::AuditIp), *key.derive(Purpose::Backup));
    }

    #[test]
    fn bad_key_texts_have_specific_errors_that_never_echo_the_text() {
        let cases = [
            ("", MasterKeyError::Empty),
            ("   \n", MasterKeyError::Empty),
            ("CANARYhunter2", MasterKeyError::NotAMasterKey),
            ("kunci-mk-v1", MasterKeyError::NotAMasterKey),
            (
                "kunci-mk-v2:CANARY",
                MasterKeyError::UnsupportedVersion("v2".to_owned()),
            ),
            ("kunci-mk-v1:CANARY", MasterKeyError::Malformed),
            ("kunci-mk-v1:!!!!", MasterKeyError::Malformed),
        ];
        for (text, expected) in cases {
            let err = MasterKey::parse(text).unwrap_err();
            assert_eq!(err, expected, "{text}");
            assert!(!err.to_string().contains("CANARY"));
        }
    }

    #[test]
    fn debug_shows_only_the_fingerprint() {
        let key = MasterKey::generate().unwrap();
        let debug = format!("{key:?}");
        assert_eq!(debug, format!("MasterKey({})", key.fingerprint()));
        assert!(!debug.contains(&key.encode().expose()[12..]));
    }

    #[test]
    fn fingerprints_parse_from_hex() {
        let key = MasterKey::generate().unwrap();
        let shown = key.fingerprint().to_string();
        assert_eq!(Fingerprint::parse_hex(&shown), Some(key.fingerprint()));
        assert_eq!(Fingerprint::parse_hex("xyz"), None);
        assert_eq!(Fingerprint::parse_hex("0123456789abcdeg"), None);
        assert_eq!(Fingerprint::parse_hex("0123456789ABCDEF"), None);
    }
}
