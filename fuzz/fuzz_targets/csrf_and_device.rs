//! CSRF tokens and device cookies, both from the request.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    thread_local!(static RING: kunci_crypto::keyring::KeyRing = common::ring());
    if let Ok(text) = std::str::from_utf8(data) {
        RING.with(|ring| {
            let _ = kunci_crypto::csrf::verify(ring, "c2Vzc2lvbi1zZWNyZXQ", text);
            let _ = kunci_crypto::device::verify(ring, text);
        });
    }
});
