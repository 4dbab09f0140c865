//! Password hashing: Argon2id, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, standard base64 without padding).
//!
//! Hashing is CPU- and memory-heavy by design; these functions are synchronous and callers run
//! them on a bounded blocking pool. Passwords longer than [`MAX_PASSWORD_BYTES`] are refused
//! before any work. Stored hashes are parsed strictly and their cost parameters bounded, so a
//! tampered database row cannot make one verification take minutes or gigabytes.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// The longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 256;

const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;
/// Bounds on parameters read back from storage.
const MAX_M_KIB: u32 = 256 * 1024;
const MAX_T: u32 = 16;
const MAX_P: u32 = 8;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Cost {
    /// OWASP's minimum for Argon2id: 19 MiB, two passes, one lane.
    pub const OWASP: Self = Self {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };

    /// Cheap parameters for tests only (still Argon2id, still verified the same way).
    pub const TESTING: Self = Self {
        m_kib: 64,
        t: 1,
        p: 1,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("the password is empty")]
    Empty,
    #[error("the stored password hash is not a valid Argon2id hash")]
    BadHash,
    #[error("the system's random number generator failed")]
    Random,
}

fn argon(cost: Cost) -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(cost.m_kib, cost.t, cost.p, Some(HASH_BYTES))
        .map_err(|_| PasswordError::BadHash)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn check_length(password: &[u8]) -> Result<(), PasswordError> {
    match password.len() {
        0 => Err(PasswordError::Empty),
        n if n > MAX_PASSWORD_BYTES => Err(PasswordError::TooLong),
        _ => Ok(()),
    }
}

/// Hashes `password` under a fresh salt.
pub fn hash(password: &[u8], cost: Cost) -> Result<String, PasswordError> {
    check_length(password)?;
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt).map_err(|_| PasswordError::Random)?;
    let mut out = Zeroizing::new([0u8; HASH_BYTES]);
    argon(cost)?
        .hash_password_into(password, &salt, out.as_mut())
        .map_err(|_| PasswordError::BadHash)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cost.m_kib,
        cost.t,
        cost.p,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out.as_slice())
    ))
}

/// A parsed stored hash.
struct Stored {
    cost: Cost,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse(phc: &str) -> Result<Stored, PasswordError> {
    let bad = || PasswordError::BadHash;
    if phc.len() > 200 {
        return Err(bad());
    }
    let mut parts = phc.split('$');
    let (Some(""), Some("argon2id"), Some("v=19"), Some(params), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    let mut cost = [None; 3];
    for (i, (name, value)) in params
        .split(',')
        .filter_map(|p| p.split_once('='))
        .enumerate()
    {
        let expected = ["m", "t", "p"].get(i).ok_or_else(bad)?;
        if name != *expected || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        cost[i] = Some(value.parse::<u32>().map_err(|_| bad())?);
    }
    let [Some(m_kib), Some(t), Some(p)] = cost else {
        return Err(bad());
    };
    if m_kib > MAX_M_KIB || t == 0 || t > MAX_T || p == 0 || p > MAX_P {
        return Err(bad());
    }
    let salt = STANDARD_NO_PAD.decode(salt).map_err(|_| bad())?;
    let hash = STANDARD_NO_PAD.decode(hash).map_err(|_| bad())?;
    if !(8..=64).contains(&salt.len()) || !(16..=64).contains(&hash.len()) {
        return Err(bad());
    }
    Ok(Stored {
        cost: Cost { m_kib, t, p },
        salt,
        hash,
    })
}

/// Whether `password` matches the stored hash `phc` (constant-time comparison). A password over
/// the limit is an error, not a mismatch, so callers can answer it before any hashing.
pub fn verify(password: &[u8], phc: &str) -> Result<bool, PasswordError> {
    check_length(password)?;
    let stored = parse(phc)?;
    let mut out = Zeroizing::new(vec![0u8; stored.hash.len()]);
    let params = Params::new(
        stored.cost.m_kib,
        stored.cost.t,
        stored.cost.p,
        Some(stored.hash.len()),
    )
    .map_err(|_| PasswordError::BadHash)?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, &stored.salt, out.as_mut_slice())
        .map_err(|_| PasswordError::BadHash)?;
    Ok(bool::from(out.as_slice().ct_eq(&stored.hash)))
}

/// Whether a stored hash was made with other parameters than `cost` (rehash at next login).
pub fn needs_rehash(phc: &str, cost: Cost) -> bool {
    parse(phc).map_or(true, |stored| stored.cost != cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash(b"correct horse", Cost::TESTING).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify(b"correct horse", &phc).unwrap());
        assert!(!verify(b"correct horsf", &phc).unwrap());
        assert_ne!(
            phc,
            hash(b"correct horse", Cost::TESTING).unwrap(),
            "salted"
        );
    }

    #[test]
    fn the_owasp_parameters_are_the_default_cost() {
        let phc = hash(b"pw", Cost::OWASP).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc, Cost::OWASP));
        assert!(needs_rehash(&phc, Cost::TESTING));
    }

    #[test]
    fn a_known_vector_verifies() {
        // Made by another implementation (argon2-cffi, over the reference C code):
        // hash_secret(b"password", b"somesalt", time_cost=2, memory_cost=64, parallelism=1,
        //             hash_len=32, type=Type.ID)
        let phc =
            "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$FqGkmHNGCd0BRW2kBt6fPZ2pPmyGwwChL8FGUhTOSSI";
        assert!(verify(b"password", phc).unwrap());
        assert!(!verify(b"Password", phc).unwrap());
    }

    #[test]
    fn lengths_are_checked_before_any_work() {
        let long = vec![b'a'; MAX_PASSWORD_BYTES + 1];
        assert_eq!(hash(&long, Cost::TESTING), Err(PasswordError::TooLong));
        assert_eq!(
            verify(&long, "not even a hash"),
            Err(PasswordError::TooLong)
        );
        assert_eq!(hash(b"", Cost::TESTING), Err(PasswordError::Empty));
        assert!(hash(&vec![b'a'; MAX_PASSWORD_BYTES], Cost::TESTING).is_ok());
    }

    #[test]
    fn hostile_stored_hashes_are_refused_without_work() {
        let good = hash(b"pw", Cost::TESTING).unwrap();
        let tail = good.split('$').skip(4).collect::<Vec<_>>().join("$");
        for bad in [
            String::new(),
            "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
            format!("$argon2id$v=16$m=64,t=1,p=1${tail}"),
            format!("$argon2id$v=19$m=4194304,t=1,p=1${tail}"),
            format!("$argon2id$v=19$m=64,t=100,p=1${tail}"),
            format!("$argon2id$v=19$m=64,t=0,p=1${tail}"),
            format!("$argon2id$v=19$t=1,m=64,p=1${tail}"),
            format!("$argon2id$v=19$m=64,t=1${tail}"),
            format!("$argon2id$v=19$m=+64,t=1,p=1${tail}"),
            format!("{good}$extra"),
            good.replace("$argon2id", "argon2id"),
        ] {
            assert_eq!(verify(b"pw", &bad), Err(PasswordError::BadHash), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_stored_text_never_panics(text in ".{0,120}") {
            let _ = verify(b"pw", &text);
            let _ = needs_rehash(&text, Cost::OWASP);
        }
    }
}
