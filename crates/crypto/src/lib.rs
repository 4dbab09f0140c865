//! Security primitives, and nothing else.
//!
//! This crate owns the types that hold secrets and the operations on them: redacting wrappers
//! and masking ([`secret`], [`mask`]), the master key and the keys derived from it
//! ([`master_key`]), sealed values ([`seal`]) and the encrypted env-file format ([`envfile`]).
//! As the project grows: the signing key ring, token signing, password hashing.
//!
//! Never add I/O, async, configuration or framework types here: the crate must stay small
//! enough to review and fuzz on its own. A missing key is always an error, never a silent
//! pass-through.

mod aead;
pub mod backup;
pub mod csrf;
pub mod device;
pub mod envfile;
pub mod jwt;
pub mod keyring;
pub mod mask;
pub mod master_key;
pub mod password;
pub mod seal;
pub mod secret;
pub mod signed_request;
pub mod token;
pub mod totp;

pub use mask::{mask, mask_url_password};
pub use master_key::{Fingerprint, MasterKey, MasterKeyError, Purpose};
pub use seal::SealError;
pub use secret::SecretString;
