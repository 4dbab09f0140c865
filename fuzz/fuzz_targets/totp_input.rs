//! What a person types for a second factor: a TOTP secret in base32 (enrolment by hand) and a
//! six-digit code. Neither may panic, and a decoded secret re-encodes to what it decoded from.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(bytes) = kunci_crypto::totp::base32_decode(text) {
            let again = kunci_crypto::totp::base32_encode(&bytes);
            assert_eq!(kunci_crypto::totp::base32_decode(&again), Some(bytes));
        }
        let secret = kunci_crypto::totp::TotpSecret::from_bytes(b"12345678901234567890")
            .expect("a 160-bit secret");
        let _ = kunci_crypto::totp::matching_step(&secret, text, 1_234_567_890, 1);
    }
});
