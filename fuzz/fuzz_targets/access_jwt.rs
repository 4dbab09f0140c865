//! Bearer tokens: any `Authorization` value is refused or verified, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    thread_local!(static RING: kunci_crypto::keyring::KeyRing = common::ring());
    if let Ok(text) = std::str::from_utf8(data) {
        RING.with(|ring| {
            let _ =
                kunci_crypto::jwt::verify(ring, text, 1_800_000_000, "https://kunci.test", "kunci");
        });
    }
});
