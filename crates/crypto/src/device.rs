//! Device cookies (OWASP): proof that this browser logged in to an account before, so its
//! login attempts count against its own budget rather than the account's.
//!
//! ```text
//! v1.<kid>.<base64url(account name | device id | issued at)>.<base64url(HMAC-SHA256)>
//! ```
//!
//! MACed with the ring's cookie key under the context `kunci-device` (so no other token can
//! pass for one), checked in constant time before the payload is read. The lifetime is judged
//! by the caller against `issued at`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keyring::{KeyPurpose, KeyRing, Kid};

const CONTEXT: &str = "kunci-device";
const MAX_LEN: usize = 512;

/// What a device cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The (normalised) account name it logged in to.
    pub name: String,
    /// A random id of this browser's credential.
    pub id: String,
    pub issued_at: i64,
}

/// A device cookie for `device`, or `None` without an active cookie key or with a field that
/// cannot be encoded (a `|` in it).
pub fn issue(ring: &KeyRing, device: &Device) -> Option<String> {
    if device.name.contains('|') || device.id.contains('|') {
        return None;
    }
    let key = ring.active(KeyPurpose::Cookie)?;
    let payload = format!("{}|{}|{}", device.name, device.id, device.issued_at);
    let signed = format!("v1.{}.{}", key.kid, URL_SAFE_NO_PAD.encode(payload));
    let tag = key.mac(CONTEXT, signed.as_bytes())?;
    Some(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

/// The device a cookie names, if it was issued by a key of the ring.
pub fn verify(ring: &KeyRing, cookie: &str) -> Option<Device> {
    if cookie.len() > MAX_LEN {
        return None;
    }
    let (signed, tag) = cookie.rsplit_once('.')?;
    let mut parts = signed.split('.');
    let (Some("v1"), Some(kid), Some(payload), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let key = ring.verifier(&Kid::parse(kid)?, KeyPurpose::Cookie)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    if !key.verify_mac(CONTEXT, signed.as_bytes(), &tag) {
        return None;
    }
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let mut fields = payload.split('|');
    let (Some(name), Some(id), Some(issued_at), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return None;
    };
    Some(Device {
        name: name.to_owned(),
        id: id.to_owned(),
        issued_at: issued_at.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::SigningKey;
    use proptest::prelude::*;

    fn ring() -> KeyRing {
        KeyRing::new([SigningKey::generate(KeyPurpose::Cookie).unwrap()]).unwrap()
    }

    fn device() -> Device {
        Device {
            name: "alice".into(),
            id: "d3v1c3".into(),
            issued_at: 1_800_000_000,
        }
    }

    #[test]
    fn a_cookie_round_trips_and_only_its_ring_accepts_it() {
        let ring = ring();
        let cookie = issue(&ring, &device()).unwrap();
        assert_eq!(verify(&ring, &cookie), Some(device()));
        assert_eq!(verify(&self::ring(), &cookie), None, "another ring");
        let mut bad = device();
        bad.name = "a|b".into();
        assert_eq!(issue(&ring, &bad), None);
    }

    #[test]
    fn other_tokens_do_not_pass_for_device_cookies() {
        let ring = ring();
        let csrf = crate::csrf::issue(&ring, "secret").unwrap();
        assert_eq!(verify(&ring, &csrf), None);
    }

    proptest! {
        #[test]
        fn every_single_byte_change_is_rejected(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let ring = ring();
            let cookie = issue(&ring, &device()).unwrap();
            let mut bytes = cookie.into_bytes();
            let i = pos.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert_eq!(verify(&ring, &changed), None);
        }

        #[test]
        fn arbitrary_text_never_verifies(text in ".{0,200}") {
            prop_assert_eq!(verify(&ring(), &text), None);
        }
    }
}
