//! `.env.<env>.enc` files: header and body, as anyone with write access could leave them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local!(static KEY: kunci_crypto::MasterKey = kunci_crypto::MasterKey::generate().expect("a key"));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kunci_crypto::envfile::inspect(text);
        KEY.with(|key| {
            let _ = kunci_crypto::envfile::decrypt(key, "production", text);
        });
    }
});
