//! Secrets at rest: the master key and where it comes from, the encrypted `.env.<env>.enc`
//! files, and the permission checks that refuse loose files the way ssh refuses a loose
//! private key. The cryptography itself lives in `kunci-crypto`; this module does the I/O.

pub mod dotenv;
pub mod envfiles;
pub mod keychain;
pub mod permissions;
