//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP) as every authenticator app
//! speaks them: HMAC-SHA-1, 6 digits, 30-second steps, a 160-bit secret shown in base32.
//!
//! [`matching_step`] says which step a code belongs to (within a window around now), so the
//! caller can refuse a step used before: a code works once, even inside its window.

use std::fmt;

use hmac::{KeyInit as _, Mac as _};
use sha1::Sha1;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// The length of a step.
pub const STEP_SECS: i64 = 30;
/// The digits of a code.
pub const DIGITS: usize = 6;
/// The length of a generated secret (RFC 4226 recommends 160 bits).
pub const SECRET_BYTES: usize = 20;

/// A TOTP secret. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

/// The operating system gave no randomness.
#[derive(Debug, thiserror::Error)]
#[error("no randomness for a TOTP secret")]
pub struct NoRandomness;

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Result<Self, NoRandomness> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        getrandom::fill(&mut bytes).map_err(|_| NoRandomness)?;
        Ok(Self(bytes))
    }

    /// A secret from its bytes (as stored, after unsealing); `None` when it is shorter than
    /// 128 bits or longer than 512.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (16..=64)
            .contains(&bytes.len())
            .then(|| Self(Zeroizing::new(bytes.to_vec())))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret in base32 without padding, as apps take it typed in (`JBSWY3DP…`).
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32_encode(&self.0))
    }

    /// The `otpauth://` URI an app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let issuer = uri_component(issuer);
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            uri_component(account),
            self.to_base32().as_str()
        ))
    }
}

/// RFC 4226's HOTP value of `counter`, as a number below 10^DIGITS.
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = hmac::Hmac::<Sha1>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this is unreachable.
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    word % 1_000_000
}

/// The step a Unix time falls in.
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(STEP_SECS)
}

/// The code of `step`, zero-padded.
pub fn code_of_step(secret: &TotpSecret, step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!("{:06}", hotp(secret.as_bytes(), counter))
}

/// The code at `unix`.
pub fn code_at(secret: &TotpSecret, unix: i64) -> String {
    code_of_step(secret, step_of(unix))
}

/// The step within `window` steps of `unix` whose code is `code` (6 digits; spaces ignored),
/// the earliest first. Every candidate is compared in constant time.
pub fn matching_step(secret: &TotpSecret, code: &str, unix: i64, window: i64) -> Option<i64> {
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix);
    let mut found = None;
    for step in (now - window)..=(now + window) {
        if step < 0 {
            continue;
        }
        let same = code_of_step(secret, step)
            .as_bytes()
            .ct_eq(typed.as_bytes())
            .into();
        if same && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The base32 symbol of a 5-bit value.
fn symbol(value: u32) -> char {
    let index = usize::try_from(value & 31).unwrap_or(0);
    char::from(ALPHABET[index])
}

/// RFC 4648 base32, without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol((buffer >> bits) & 31));
        }
    }
    if bits > 0 {
        out.push(symbol((buffer << (5 - bits)) & 31));
    }
    out
}

/// RFC 4648 base32 as people type it: any case, spaces and hyphens ignored, padding optional.
/// `None` for any other character or leftover bits that are not zero.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for c in text.chars() {
        if c == ' ' || c == '-' {
            continue;
        }
        if c == '=' {
            padding = true;
            continue;
        }
        if padding {
            return None;
        }
        let upper = c.to_ascii_uppercase();
        let value = ALPHABET.iter().position(|&a| char::from(a) == upper)?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
        buffer &= (1 << bits) - 1;
    }
    (buffer == 0).then_some(out)
}

/// `text` percent-encoded for an `otpauth://` label or parameter.
fn uri_component(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4226 and RFC 6238's SHA-1 secret.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn hotp_matches_rfc_4226() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, value) in expected.into_iter().enumerate() {
            let counter = u64::try_from(counter).unwrap();
            assert_eq!(hotp(b"12345678901234567890", counter), value);
        }
    }

    #[test]
    fn totp_matches_rfc_6238() {
        // The RFC's 8-digit SHA-1 values, of which a 6-digit code is the last six digits.
        for (unix, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(&rfc_secret(), unix), eight[2..], "at {unix}");
        }
    }

    #[test]
    fn a_code_matches_its_step_within_the_window_only() {
        let s = rfc_secret();
        let now = 1_234_567_890;
        let code = code_at(&s, now);
        assert_eq!(matching_step(&s, &code, now, 1), Some(step_of(now)));
        let before = code_at(&s, now - STEP_SECS);
        let after = code_at(&s, now + STEP_SECS);
        assert_eq!(matching_step(&s, &before, now, 1), Some(step_of(now) - 1));
        assert_eq!(matching_step(&s, &after, now, 1), Some(step_of(now) + 1));
        let two_before = code_at(&s, now - 2 * STEP_SECS);
        assert_eq!(
            matching_step(&s, &two_before, now, 1),
            None,
            "±2 steps is too far"
        );
        assert_eq!(
            matching_step(&s, &format!(" {} {} ", &code[..3], &code[3..]), now, 1),
            Some(step_of(now))
        );
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "-12345"] {
            assert_eq!(matching_step(&s, bad, now, 1), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_round_trips_and_refuses_what_is_not_base32() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw 6ytb-oi").unwrap(), b"foobar");
        assert_eq!(base32_decode("").unwrap(), b"");
        for bad in ["MZXW6YTBO1", "MZXW=6YT", "MZXW6YTBOJ", "ÄÖ", "MZ\u{0}X"] {
            assert_eq!(base32_decode(bad), None, "{bad:?}");
        }
        let secret = TotpSecret::generate().unwrap();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(base32_decode(&text).unwrap(), secret.as_bytes());
        assert_eq!(format!("{secret:?}"), "TotpSecret(…)");
        assert!(TotpSecret::from_bytes(&[0; 8]).is_none(), "too short");
    }

    #[test]
    fn the_uri_is_what_apps_read() {
        let s = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let uri = s.otpauth_uri("kunci example", "alice@example.test");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/kunci%20example:alice%40example.test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=kunci%20example&algorithm=SHA1&digits=6&period=30"
        );
    }
}
