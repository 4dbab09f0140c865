//! Security primitives, and nothing else.
//!
//! This crate owns the types that hold secrets and the operations on them: redacting wrappers,
//! masking for display, and (as the project grows) sealing under the master key, signing with
//! key ids, password hashing and opaque tokens.
//!
//! Never add I/O, async, configuration or framework types here: the crate must stay small
//! enough to review and fuzz on its own.

pub mod mask;
pub mod secret;

pub use mask::{mask, mask_url_password};
pub use secret::SecretString;
