//! Signed service requests: the signature header and the nonce.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ =
            kunci_crypto::signed_request::verify(b"client-secret-0123456789", "POST\n/x\n", text);
        let _ = kunci_crypto::signed_request::nonce_is_valid(text);
    }
});
