//! The encrypted environment file, `.env.<environment>.enc`.
//!
//! ```text
//! kunci-env v1 env=production key=3f2a9c1d5e7b8a60
//! <base64url(nonce || ciphertext || tag), in lines of 76 characters>
//! ```
//!
//! The first line (the header) names the format version, the environment the file is for and
//! the fingerprint of the master key that encrypted it. It is readable without the key, so
//! errors can say *which* environment and *which* key, and it is the associated data of the
//! encryption, so changing any of it is detected. The body is XChaCha20-Poly1305 under a key
//! derived from the master key for this purpose only.
//!
//! Decryption never returns part of a file: the whole body authenticates, or nothing is
//! returned.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::aead;
use crate::master_key::{Fingerprint, MasterKey, Purpose};

const MAGIC: &str = "kunci-env";
const VERSION: &str = "v1";
const LINE: usize = 76;

/// What an encrypted file's header says, readable without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub environment: String,
    pub key: Fingerprint,
}

/// Why a file could not be decrypted. Each has a stable [`code`](EnvFileError::code) that
/// scripts and docs refer to; none ever contains plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFileError {
    Empty,
    NotEncrypted,
    UnsupportedVersion(String),
    Corrupted,
    WrongEnvironment {
        file: String,
        running: String,
    },
    WrongKey {
        file: Fingerprint,
        supplied: Fingerprint,
    },
    Random,
}

impl EnvFileError {
    /// The stable code (`wrong_key`, `wrong_environment`, `corrupted`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::NotEncrypted => "not_encrypted",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Corrupted => "corrupted",
            Self::WrongEnvironment { .. } => "wrong_environment",
            Self::WrongKey { .. } => "wrong_key",
            Self::Random => "random_failure",
        }
    }
}

impl fmt::Display for EnvFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ", self.code())?;
        match self {
            Self::Empty => f.write_str("the file is empty"),
            Self::NotEncrypted => f.write_str(
                "this is not a kunci encrypted file (a plaintext .env is encrypted with \
                 `kunci env encrypt <env>`)",
            ),
            Self::UnsupportedVersion(v) => {
                write!(
                    f,
                    "the file is of format {v}, which this kunci does not know (it knows v1)"
                )
            }
            Self::Corrupted => f.write_str("the file is corrupted or was edited"),
            Self::WrongEnvironment { file, running } => {
                write!(f, "this file is for `{file}`, you are running `{running}`")
            }
            Self::WrongKey { file, supplied } => {
                write!(
                    f,
                    "encrypted for master key {file}, you supplied {supplied}"
                )
            }
            Self::Random => f.write_str("the system's random number generator failed"),
        }
    }
}

impl std::error::Error for EnvFileError {}

fn header_line(environment: &str, key: Fingerprint) -> String {
    format!("{MAGIC} {VERSION} env={environment} key={key}")
}

/// Encrypts a plaintext env file for `environment`.
pub fn encrypt(
    key: &MasterKey,
    environment: &str,
    plaintext: &[u8],
) -> Result<String, EnvFileError> {
    let header = header_line(environment, key.fingerprint());
    let derived = key.derive(Purpose::EnvFile);
    let blob =
        aead::encrypt(&derived, header.as_bytes(), plaintext).map_err(|_| EnvFileError::Random)?;
    let body = URL_SAFE_NO_PAD.encode(blob);
    let mut out = header;
    out.push('\n');
    for chunk in body.as_bytes().chunks(LINE) {
        // Base64 is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    Ok(out)
}

/// Reads the header without decrypting.
pub fn inspect(file: &str) -> Result<Header, EnvFileError> {
    split(file).map(|(header, _, _)| header)
}

/// Decrypts a file, checking that it is for `running` and encrypted under `key`.
pub fn decrypt(
    key: &MasterKey,
    running: &str,
    file: &str,
) -> Result<Zeroizing<Vec<u8>>, EnvFileError> {
    let (header, header_text, body) = split(file)?;
    if header.environment != running {
        return Err(EnvFileError::WrongEnvironment {
            file: header.environment,
            running: running.to_owned(),
        });
    }
    if header.key != key.fingerprint() {
        return Err(EnvFileError::WrongKey {
            file: header.key,
            supplied: key.fingerprint(),
        });
    }
    // Strict: lines end in `\n` (or `\r\n`, as a Windows checkout may write them) and hold
    // base64url only, so any changed byte, white space included, is refused.
    let body: String = body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let blob = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| EnvFileError::Corrupted)?;
    let derived = key.derive(Purpose::EnvFile);
    aead::decrypt(&derived, header_text.as_bytes(), &blob).ok_or(EnvFileError::Corrupted)
}

/// The header, its exact text (the associated data) and the body.
fn split(file: &str) -> Result<(Header, &str, &str), EnvFileError> {
    if file.trim().is_empty() {
        return Err(EnvFileError::Empty);
    }
    let (first, body) = file.split_once('\n').unwrap_or((file, ""));
    let mut fields = first.split(' ');
    if fields.next() != Some(MAGIC) {
        return Err(EnvFileError::NotEncrypted);
    }
    let version = fields.next().unwrap_or_default();
    if version != VERSION {
        let looks_like_version = version.len() <= 8
            && version.starts_with('v')
            && version[1..].bytes().all(|b| b.is_ascii_digit());
        return Err(if looks_like_version {
            EnvFileError::UnsupportedVersion(version.to_owned())
        } else {
            EnvFileError::Corrupted
        });
    }
    let environment = fields.next().and_then(|f| f.strip_prefix("env="));
    let key = fields
        .next()
        .and_then(|f| f.strip_prefix("key="))
        .and_then(Fingerprint::parse_hex);
    let (Some(environment), Some(key), None) = (environment, key, fields.next()) else {
        return Err(EnvFileError::Corrupted);
    };
    let valid_name = !environment.is_empty()
        && environment.len() <= 32
        && environment.bytes().all(|b| b.is_ascii_lowercase());
    if !valid_name {
        return Err(EnvFileError::Corrupted);
    }
    Ok((
        Header {
            environment: environment.to_owned(),
            key,
        },
        first,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const PLAIN: &[u8] = b"KUNCI__DATA__DATABASE_URL=postgres://u:CANARY@db/k\n";

    fn key() -> MasterKey {
        MasterKey::generate().unwrap()
    }

    #[test]
    fn every_environment_round_trips() {
        let key = key();
        for env in ["development", "staging", "production", "test"] {
            let file = encrypt(&key, env, PLAIN).unwrap();
            assert!(file.starts_with(&format!(
                "kunci-env v1 env={env} key={}\n",
                key.fingerprint()
            )));
            assert!(!file.contains("CANARY"));
            assert!(
                file.lines()
                    .all(|l| l.len() <= 76 || l.starts_with("kunci-env"))
            );
            assert_eq!(&*decrypt(&key, env, &file).unwrap(), PLAIN);
            assert_eq!(inspect(&file).unwrap().environment, env);
        }
    }

    #[test]
    fn an_empty_plaintext_round_trips() {
        let key = key();
        let file = encrypt(&key, "test", b"").unwrap();
        assert_eq!(&*decrypt(&key, "test", &file).unwrap(), b"");
    }

    #[test]
    fn a_file_for_another_environment_is_named() {
        let key = key();
        let file = encrypt(&key, "staging", PLAIN).unwrap();
        let err = decrypt(&key, "production", &file).unwrap_err();
        assert_eq!(err.code(), "wrong_environment");
        assert_eq!(
            err.to_string(),
            "[wrong_environment] this file is for `staging`, you are running `production`"
        );
    }

    #[test]
    fn a_file_for_another_key_names_both_fingerprints() {
        let (a, b) = (key(), key());
        let file = encrypt(&a, "production", PLAIN).unwrap();
        let err = decrypt(&b, "production", &file).unwrap_err();
        assert_eq!(
            err,
            EnvFileError::WrongKey {
                file: a.fingerprint(),
                supplied: b.fingerprint()
            }
        );
        let text = err.to_string();
        assert!(
            text.contains(&a.fingerprint().to_string())
                && text.contains(&b.fingerprint().to_string())
        );
    }

    #[test]
    fn editing_the_header_to_another_environment_is_detected() {
        let key = key();
        let file = encrypt(&key, "staging", PLAIN).unwrap();
        let forged = file.replacen("env=staging", "env=production", 1);
        assert_eq!(
            decrypt(&key, "production", &forged),
            Err(EnvFileError::Corrupted)
        );
    }

    #[test]
    fn crafted_files_give_their_codes() {
        let key = key();
        let fp = key.fingerprint();
        let cases = [
            (String::new(), "empty"),
            ("\n\n".to_owned(), "empty"),
            ("KUNCI__A=1\n".to_owned(), "not_encrypted"),
            (
                format!("kunci-env v2 env=test key={fp}\nAAAA\n"),
                "unsupported_version",
            ),
            (
                format!("kunci-env vX env=test key={fp}\nAAAA\n"),
                "corrupted",
            ),
            (
                "kunci-env v1 env=test key=zz\nAAAA\n".to_owned(),
                "corrupted",
            ),
            (
                format!("kunci-env v1 env=Test key={fp}\nAAAA\n"),
                "corrupted",
            ),
            (
                format!("kunci-env v1 env=test key={fp} extra\nAAAA\n"),
                "corrupted",
            ),
            (format!("kunci-env v1 env=test key={fp}\n"), "corrupted"),
            (
                format!("kunci-env v1 env=test key={fp}\n!!!!\n"),
                "corrupted",
            ),
        ];
        for (file, code) in cases {
            assert_eq!(
                decrypt(&key, "test", &file).unwrap_err().code(),
                code,
                "{file:?}"
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let key = key();
        let file = encrypt(&key, "test", PLAIN).unwrap().into_bytes();
        for i in 0..file.len() {
            let mut changed = file.clone();
            changed[i] ^= 0x01;
            let Ok(text) = String::from_utf8(changed) else {
                continue;
            };
            assert!(
                decrypt(&key, "test", &text).is_err(),
                "byte {i} flipped still decrypts"
            );
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let key = key();
        let file = encrypt(&key, "test", PLAIN).unwrap();
        // Dropping only the final newline leaves the same content.
        for len in 0..file.len() - 1 {
            assert!(
                decrypt(&key, "test", &file[..len]).is_err(),
                "truncated to {len} decrypts"
            );
        }
    }

    proptest! {
        #[test]
        fn nothing_decrypts_under_another_key_or_environment(
            plain in proptest::collection::vec(any::<u8>(), 0..256),
            env in "[a-z]{1,12}",
            other in "[a-z]{1,12}",
        ) {
            let (a, b) = (key(), key());
            let file = encrypt(&a, &env, &plain).unwrap();
            prop_assert!(decrypt(&b, &env, &file).is_err());
            if other != env {
                prop_assert!(decrypt(&a, &other, &file).is_err());
            }
            prop_assert_eq!(&*decrypt(&a, &env, &file).unwrap(), plain.as_slice());
        }

        #[test]
        fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
            let _ = decrypt(&key(), "test", &text);
            let _ = inspect(&text);
        }
    }
}
