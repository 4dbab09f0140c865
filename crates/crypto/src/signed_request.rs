//! Signed service requests (SPEC §6): the canonical string and its HMAC.
//!
//! ```text
//! METHOD \n PATH?QUERY \n TIMESTAMP \n NONCE \n hex(SHA-256(body))
//! ```
//!
//! five lines joined by `\n` with no trailing newline, MACed with HMAC-SHA256 keyed by the
//! client secret's UTF-8 bytes, sent base64url without padding in `X-Kunci-Signature`. The
//! client is named by `X-Kunci-Client`: the key id of this signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

/// The smallest and largest nonce accepted, in bytes after decoding.
pub const NONCE_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

/// Lowercase hex SHA-256 of a body.
pub fn body_digest(body: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(body)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The string that is signed.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        body_digest(body)
    )
}

fn mac(secret: &[u8], canonical: &str) -> hmac::Hmac<Sha256> {
    let mut mac = <hmac::Hmac<Sha256>>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(canonical.as_bytes());
    mac
}

/// `X-Kunci-Signature` for `canonical`.
pub fn sign(secret: &[u8], canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, canonical).finalize().into_bytes())
}

/// Whether `signature` (base64url) is the MAC of `canonical`; constant-time.
pub fn verify(secret: &[u8], canonical: &str, signature: &str) -> bool {
    if signature.len() > 64 {
        return false;
    }
    match URL_SAFE_NO_PAD.decode(signature) {
        Ok(tag) => mac(secret, canonical).verify_slice(&tag).is_ok(),
        Err(_) => false,
    }
}

/// Whether `nonce` is base64url (no padding) of 16 to 64 bytes.
pub fn nonce_is_valid(nonce: &str) -> bool {
    nonce.len() <= 86
        && URL_SAFE_NO_PAD
            .decode(nonce)
            .is_ok_and(|bytes| NONCE_BYTES.contains(&bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"kcs_example-secret";

    #[test]
    fn the_canonical_string_is_five_lines_without_a_trailing_newline() {
        let c = canonical(
            "POST",
            "/api/v1/service/ping?x=1",
            "1700000000",
            "bm9uY2Vub25jZW5vbmNl",
            b"{}",
        );
        assert_eq!(
            c,
            "POST\n/api/v1/service/ping?x=1\n1700000000\nbm9uY2Vub25jZW5vbmNl\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    /// The worked example of docs/signed-requests.md, computed independently (Python's hmac).
    #[test]
    fn the_documented_example_holds() {
        let c = canonical(
            "POST",
            "/api/v1/service/ping?source=docs",
            "1795428000",
            "q2h8dYw0cZ3Tn6Jm1Rf5Vg",
            br#"{"hello":"world"}"#,
        );
        assert_eq!(
            c,
            "POST\n/api/v1/service/ping?source=docs\n1795428000\nq2h8dYw0cZ3Tn6Jm1Rf5Vg\n\
             93a23971a914e5eacbf0a8d25154cda309c3c1c72fbb9914d47c60f3cb681588"
        );
        assert_eq!(
            sign(b"kcs_5pY0rTq3ZbN8wX1cV7mK2hJ4gF6dS9aL0eR3tU8iO1p", &c),
            "Do4V0cPqIIApjoKo7IA8NJGrDHaGxl2Cr-zJJtfHt_w"
        );
    }

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let c = canonical("POST", "/p", "1", "n", b"body");
        let sig = sign(SECRET, &c);
        assert!(verify(SECRET, &c, &sig));
        assert!(!verify(b"kcs_other", &c, &sig));
        assert!(!verify(
            SECRET,
            &canonical("POST", "/p", "1", "n", b"bodz"),
            &sig
        ));
        assert!(!verify(
            SECRET,
            &canonical("PUT", "/p", "1", "n", b"body"),
            &sig
        ));
        assert!(!verify(SECRET, &c, &format!("{sig}=")));
        assert!(!verify(SECRET, &c, ""));
    }

    #[test]
    fn nonces_must_be_16_to_64_bytes_of_base64url() {
        assert!(nonce_is_valid(&URL_SAFE_NO_PAD.encode([7u8; 16])));
        assert!(nonce_is_valid(&URL_SAFE_NO_PAD.encode([7u8; 64])));
        assert!(!nonce_is_valid(&URL_SAFE_NO_PAD.encode([7u8; 15])));
        assert!(!nonce_is_valid(&URL_SAFE_NO_PAD.encode([7u8; 65])));
        assert!(!nonce_is_valid("not base64!"));
        assert!(!nonce_is_valid(""));
    }

    proptest! {
        #[test]
        fn arbitrary_signatures_never_verify_or_panic(sig in ".{0,100}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let c = canonical("GET", "/", "1", "n", &body);
            prop_assert!(!verify(SECRET, &c, &sig) || sig == sign(SECRET, &c));
        }

        #[test]
        fn every_single_byte_change_of_a_signature_is_rejected(pos in 0usize..43, byte in any::<u8>()) {
            let c = canonical("GET", "/", "1", "n", b"");
            let sig = sign(SECRET, &c);
            let mut bytes = sig.into_bytes();
            prop_assume!(bytes[pos] != byte);
            bytes[pos] = byte;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert!(!verify(SECRET, &c, &changed));
        }
    }
}
