// Fixed keys, so every run of a target sees the same ring.
use kunci_crypto::keyring::{KeyPurpose, KeyRing, Material, SigningKey};

pub fn ring() -> KeyRing {
    let keys = KeyPurpose::ALL.map(|purpose| {
        let generated = SigningKey::generate(purpose).expect("a key");
        let material = Material::from_bytes(purpose, &[7u8; 32]).expect("material");
        SigningKey::new(generated.kid, purpose, generated.state, material)
    });
    KeyRing::new(keys).expect("a ring")
}
