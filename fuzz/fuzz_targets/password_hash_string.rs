//! Stored password hashes (PHC strings): parsing must refuse absurd costs before any hashing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let cost = kunci_crypto::password::Cost {
            m_kib: 19_456,
            t: 2,
            p: 1,
        };
        let _ = kunci_crypto::password::needs_rehash(text, cost);
    }
});
