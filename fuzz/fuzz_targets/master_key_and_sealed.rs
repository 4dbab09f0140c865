//! Master keys as given in variables and files, and sealed values as read from the database.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local!(static KEY: kunci_crypto::MasterKey = kunci_crypto::MasterKey::generate().expect("a key"));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kunci_crypto::MasterKey::parse(text);
        KEY.with(|key| {
            let _ = key.open(b"api_key:fuzz", text);
        });
    }
});
