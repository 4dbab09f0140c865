//! Sealed values: secrets kunci stores (API keys, signing-key material) encrypted under the
//! master key, each bound to what it is (associated data the caller chooses, such as
//! `api_key:7`), so a sealed value copied into another row or column does not open.
//!
//! Text form: `ks1.<fingerprint>.<base64url(nonce || ciphertext || tag)>`. The fingerprint
//! names the master key that sealed it, so a value sealed under another key is reported as
//! such instead of as damage.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::aead;
use crate::master_key::{Fingerprint, MasterKey, Purpose};

const VERSION: &str = "ks1";

/// Why a sealed value did not open. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed value")]
    Malformed,
    #[error("sealed with format {0}, which this kunci does not know")]
    UnsupportedVersion(String),
    #[error("sealed under master key {sealed_with}, but the master key in use is {in_use}")]
    WrongKey {
        sealed_with: Fingerprint,
        in_use: Fingerprint,
    },
    #[error("the sealed value was changed or belongs to another record")]
    Corrupted,
    #[error(transparent)]
    Random(#[from] aead::RandomFailure),
}

impl MasterKey {
    /// Encrypts `plaintext`, binding `context` (what the value is and where it belongs).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<String, SealError> {
        let key = self.derive(Purpose::Seal);
        let fingerprint = self.fingerprint();
        let blob = aead::encrypt(&key, &associated_data(fingerprint, context), plaintext)?;
        Ok(format!(
            "{VERSION}.{fingerprint}.{}",
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Opens a value sealed by [`MasterKey::seal`] with the same `context`.
    pub fn open(&self, context: &[u8], sealed: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let mut parts = sealed.split('.');
        let (Some(version), Some(fingerprint), Some(body), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        if version != VERSION {
            if version.len() <= 8 && version.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(SealError::UnsupportedVersion(version.to_owned()));
            }
            return Err(SealError::Malformed);
        }
        let fingerprint = Fingerprint::parse_hex(fingerprint).ok_or(SealError::Malformed)?;
        if fingerprint != self.fingerprint() {
            return Err(SealError::WrongKey {
                sealed_with: fingerprint,
                in_use: self.fingerprint(),
            });
        }
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        let key = self.derive(Purpose::Seal);
        aead::decrypt(&key, &associated_data(fingerprint, context), &blob)
            .ok_or(SealError::Corrupted)
    }
}

fn associated_data(fingerprint: Fingerprint, context: &[u8]) -> Vec<u8> {
    let mut aad = format!("{VERSION}\0{fingerprint}\0").into_bytes();
    aad.extend_from_slice(context);
    aad
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_context() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal(b"api_key:7", b"AIzaSecret").unwrap();
        assert!(sealed.starts_with(&format!("ks1.{}.", key.fingerprint())));
        assert!(!sealed.contains("AIzaSecret"));
        assert_eq!(&*key.open(b"api_key:7", &sealed).unwrap(), b"AIzaSecret");
    }

    #[test]
    fn sealing_twice_gives_different_text() {
        let key = MasterKey::generate().unwrap();
        assert_ne!(key.seal(b"c", b"v").unwrap(), key.seal(b"c", b"v").unwrap());
    }

    #[test]
    fn another_key_is_named_as_such() {
        let (a, b) = (
            MasterKey::generate().unwrap(),
            MasterKey::generate().unwrap(),
        );
        let sealed = a.seal(b"c", b"v").unwrap();
        assert_eq!(
            b.open(b"c", &sealed),
            Err(SealError::WrongKey {
                sealed_with: a.fingerprint(),
                in_use: b.fingerprint()
            })
        );
    }

    #[test]
    fn malformed_texts_are_refused() {
        let key = MasterKey::generate().unwrap();
        for text in [
            "",
            "ks1",
            "ks1.x.y",
            "ks1..",
            "a.b.c.d",
            "ks9.0011223344556677.AAAA",
        ] {
            assert!(key.open(b"c", text).is_err(), "{text}");
        }
        assert_eq!(
            key.open(b"c", "ks9.0011223344556677.AAAA"),
            Err(SealError::UnsupportedVersion("ks9".to_owned()))
        );
    }

    proptest! {
        #[test]
        fn no_sealed_value_opens_under_another_context(
            value in proptest::collection::vec(any::<u8>(), 0..64),
            context in proptest::collection::vec(any::<u8>(), 0..16),
            other in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            prop_assume!(context != other);
            let key = MasterKey::generate().unwrap();
            let sealed = key.seal(&context, &value).unwrap();
            prop_assert_eq!(key.open(&other, &sealed), Err(SealError::Corrupted));
            prop_assert_eq!(&*key.open(&context, &sealed).unwrap(), value.as_slice());
        }

        #[test]
        fn no_changed_character_opens(index in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
            let key = MasterKey::generate().unwrap();
            let sealed = key.seal(b"c", b"secret").unwrap();
            let i = index.index(sealed.len());
            prop_assume!(sealed[i..=i] != replacement);
            let mut changed = sealed;
            changed.replace_range(i..=i, &replacement);
            prop_assert!(key.open(b"c", &changed).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let key = MasterKey::generate().unwrap();
            let _ = key.open(b"c", &text);
        }
    }
}
