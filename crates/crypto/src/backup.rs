//! The encrypted backup stream: a one-line header, then frames of at most [`MAX_CHUNK`]
//! plaintext bytes, each sealed on its own so a database of any size is encrypted and checked
//! chunk by chunk, never held whole in memory.
//!
//! ```text
//! kunci-backup v1 key=<fingerprint> created=<unix> backend=<name> schema=<n>\n
//! frame*: u32 big-endian (bit 31: last frame; bits 0–30: blob length) || blob
//! blob:   XChaCha20-Poly1305 under the master key's `backup` key, random nonce,
//!         associated data = SHA-256(header line) || frame index (u64 BE) || last (1 byte)
//! ```
//!
//! The associated data binds every frame to this file's header, its place and whether it ends
//! the stream: an edited header, a flipped byte, frames swapped, dropped or appended, and a file
//! cut short are all refused. The header names the key by fingerprint, so "another master key"
//! is told apart from damage before any decryption.

use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::aead::{self, RandomFailure};
use crate::master_key::{Fingerprint, MasterKey, Purpose};

/// Plaintext bytes per frame.
pub const MAX_CHUNK: usize = 64 * 1024;
/// The largest blob a frame may announce (a chunk and its nonce and tag).
const MAX_BLOB: usize = MAX_CHUNK + aead::NONCE_LEN + aead::TAG_LEN;
const LAST: u32 = 1 << 31;
const MAGIC: &str = "kunci-backup v1 ";

/// What the first line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub fingerprint: Fingerprint,
    /// Unix seconds.
    pub created_at: i64,
    /// `sqlite`, `postgres`, …: where the snapshot was taken.
    pub backend: String,
    /// The schema version (the last migration applied).
    pub schema: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("this is not a kunci backup")]
    NotABackup,
    #[error("this backup was made with another master key ({file}; this one is {ours})")]
    WrongKey { file: String, ours: String },
    #[error("the backup is damaged or was altered (frame {frame})")]
    Damaged { frame: u64 },
    #[error("the backup is incomplete: it ends before its last frame")]
    Truncated,
    #[error("the backup has data after its last frame")]
    TrailingData,
    #[error(transparent)]
    Random(#[from] RandomFailure),
}

impl Header {
    /// The header line, with its newline.
    pub fn encode(&self) -> String {
        format!(
            "{MAGIC}key={} created={} backend={} schema={}\n",
            self.fingerprint, self.created_at, self.backend, self.schema
        )
    }

    /// Reads a header line (with or without its newline).
    pub fn parse(line: &str) -> Result<Self, BackupError> {
        let rest = line
            .strip_suffix('\n')
            .unwrap_or(line)
            .strip_prefix(MAGIC)
            .ok_or(BackupError::NotABackup)?;
        let mut fields = rest.split(' ');
        let mut next = |name: &str| {
            fields
                .next()
                .and_then(|f| f.strip_prefix(name))
                .and_then(|f| f.strip_prefix('='))
                .ok_or(BackupError::NotABackup)
        };
        let fingerprint = Fingerprint::parse_hex(next("key")?).ok_or(BackupError::NotABackup)?;
        let created_at = next("created")?
            .parse()
            .map_err(|_| BackupError::NotABackup)?;
        let backend = next("backend")?;
        if backend.is_empty()
            || backend.len() > 16
            || !backend.bytes().all(|b| b.is_ascii_lowercase())
        {
            return Err(BackupError::NotABackup);
        }
        let schema = next("schema")?
            .parse()
            .map_err(|_| BackupError::NotABackup)?;
        if fields.next().is_some() {
            return Err(BackupError::NotABackup);
        }
        Ok(Self {
            fingerprint,
            created_at,
            backend: backend.to_owned(),
            schema,
        })
    }
}

fn associated(digest: &[u8; 32], frame: u64, last: bool) -> [u8; 41] {
    let mut aad = [0u8; 41];
    aad[..32].copy_from_slice(digest);
    aad[32..40].copy_from_slice(&frame.to_be_bytes());
    aad[40] = u8::from(last);
    aad
}

/// Encrypts a backup stream, frame by frame.
pub struct Sealer {
    key: Zeroizing<[u8; 32]>,
    digest: [u8; 32],
    frame: u64,
    finished: bool,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("frame", &self.frame)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for `header` (whose fingerprint must be `master`'s) and the header line to
    /// write first.
    pub fn new(master: &MasterKey, header: &Header) -> (Self, String) {
        let line = header.encode();
        let digest: [u8; 32] = Sha256::digest(line.as_bytes()).into();
        (
            Self {
                key: master.derive(Purpose::Backup),
                digest,
                frame: 0,
                finished: false,
            },
            line,
        )
    }

    /// The frame (length prefix and blob) for up to [`MAX_CHUNK`] bytes; `last` ends the stream.
    ///
    /// # Panics
    /// When `chunk` is larger than [`MAX_CHUNK`] or the stream was already ended: both are
    /// mistakes of the caller, not of the data.
    pub fn frame(&mut self, chunk: &[u8], last: bool) -> Result<Vec<u8>, BackupError> {
        assert!(
            chunk.len() <= MAX_CHUNK && !self.finished,
            "misuse of the backup sealer"
        );
        let aad = associated(&self.digest, self.frame, last);
        let blob = aead::encrypt(&self.key, &aad, chunk)?;
        let length =
            u32::try_from(blob.len()).map_err(|_| BackupError::Damaged { frame: self.frame })?;
        let mut out = Vec::with_capacity(4 + blob.len());
        out.extend_from_slice(&(length | if last { LAST } else { 0 }).to_be_bytes());
        out.extend_from_slice(&blob);
        self.frame += 1;
        self.finished = last;
        Ok(out)
    }
}

/// Decrypts and checks a backup stream, frame by frame.
pub struct Opener {
    key: Zeroizing<[u8; 32]>,
    digest: [u8; 32],
    frame: u64,
    finished: bool,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener")
            .field("frame", &self.frame)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener for the stream that starts with `line`, if it was made with `master`.
    pub fn new(master: &MasterKey, line: &str) -> Result<(Self, Header), BackupError> {
        let header = Header::parse(line)?;
        if header.fingerprint != master.fingerprint() {
            return Err(BackupError::WrongKey {
                file: header.fingerprint.to_string(),
                ours: master.fingerprint().to_string(),
            });
        }
        let line = if line.ends_with('\n') {
            line.to_owned()
        } else {
            format!("{line}\n")
        };
        let digest: [u8; 32] = Sha256::digest(line.as_bytes()).into();
        Ok((
            Self {
                key: master.derive(Purpose::Backup),
                digest,
                frame: 0,
                finished: false,
            },
            header,
        ))
    }

    /// Reads a frame's length prefix: the blob length to read next and whether it is the last.
    pub fn prefix(&self, bytes: [u8; 4]) -> Result<(usize, bool), BackupError> {
        if self.finished {
            return Err(BackupError::TrailingData);
        }
        let word = u32::from_be_bytes(bytes);
        let length = usize::try_from(word & !LAST)
            .map_err(|_| BackupError::Damaged { frame: self.frame })?;
        if !(aead::NONCE_LEN + aead::TAG_LEN..=MAX_BLOB).contains(&length) {
            return Err(BackupError::Damaged { frame: self.frame });
        }
        Ok((length, word & LAST != 0))
    }

    /// The plaintext of the next frame.
    pub fn open(&mut self, blob: &[u8], last: bool) -> Result<Zeroizing<Vec<u8>>, BackupError> {
        if self.finished {
            return Err(BackupError::TrailingData);
        }
        let aad = associated(&self.digest, self.frame, last);
        let plain = aead::decrypt(&self.key, &aad, blob)
            .ok_or(BackupError::Damaged { frame: self.frame })?;
        self.frame += 1;
        self.finished = last;
        Ok(plain)
    }

    /// At the end of the input: whether the stream was complete.
    pub fn finish(&self) -> Result<(), BackupError> {
        if self.finished {
            Ok(())
        } else {
            Err(BackupError::Truncated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(key: &MasterKey) -> Header {
        Header {
            fingerprint: key.fingerprint(),
            created_at: 1_800_000_000,
            backend: "sqlite".to_owned(),
            schema: 11,
        }
    }

    /// A whole file: header line and frames of `chunks`.
    fn file(key: &MasterKey, chunks: &[&[u8]]) -> Vec<u8> {
        let (mut sealer, line) = Sealer::new(key, &header(key));
        let mut out = line.into_bytes();
        for (i, chunk) in chunks.iter().enumerate() {
            out.extend(sealer.frame(chunk, i + 1 == chunks.len()).unwrap());
        }
        out
    }

    /// Reads a whole file back as a reader would: frame by frame.
    fn read(key: &MasterKey, bytes: &[u8]) -> Result<Vec<u8>, BackupError> {
        let newline = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(BackupError::NotABackup)?;
        let line = std::str::from_utf8(&bytes[..=newline]).map_err(|_| BackupError::NotABackup)?;
        let (mut opener, _) = Opener::new(key, line)?;
        let mut rest = &bytes[newline + 1..];
        let mut plain = Vec::new();
        while !rest.is_empty() {
            let Some((prefix, tail)) = rest.split_first_chunk::<4>() else {
                return Err(BackupError::Truncated);
            };
            let (length, last) = opener.prefix(*prefix)?;
            if tail.len() < length {
                return Err(BackupError::Truncated);
            }
            plain.extend_from_slice(&opener.open(&tail[..length], last)?);
            rest = &tail[length..];
        }
        opener.finish()?;
        Ok(plain)
    }

    #[test]
    fn a_stream_round_trips_and_the_header_reads_back() {
        let key = MasterKey::generate().unwrap();
        let big = vec![7u8; MAX_CHUNK];
        let bytes = file(&key, &[b"first", &big, b"", b"last"]);
        let mut expected = b"first".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"last");
        assert_eq!(read(&key, &bytes).unwrap(), expected);
        let line =
            std::str::from_utf8(&bytes[..bytes.iter().position(|b| *b == b'\n').unwrap()]).unwrap();
        assert_eq!(Header::parse(line).unwrap(), header(&key));
        assert!(!bytes.windows(5).any(|w| w == b"first"), "nothing in clear");
    }

    #[test]
    fn every_alteration_is_refused() {
        let key = MasterKey::generate().unwrap();
        let bytes = file(&key, &[b"one", b"two", b"three"]);
        let header_len = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        // Any flipped byte after the header.
        for at in header_len..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x01;
            assert!(read(&key, &flipped).is_err(), "byte {at} flipped");
        }
        // Cut anywhere.
        for cut in header_len..bytes.len() {
            assert!(read(&key, &bytes[..cut]).is_err(), "cut at {cut}");
        }
        // The header edited (a later date): the frames no longer belong to it.
        let edited = String::from_utf8_lossy(&bytes[..header_len])
            .replace("created=1800000000", "created=1800000001");
        let mut moved = edited.into_bytes();
        moved.extend_from_slice(&bytes[header_len..]);
        assert_eq!(read(&key, &moved), Err(BackupError::Damaged { frame: 0 }));
        // A frame appended after the last.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&bytes[header_len..header_len + 60]);
        assert_eq!(read(&key, &longer), Err(BackupError::TrailingData));
    }

    #[test]
    fn frames_cannot_be_swapped_or_dropped() {
        let key = MasterKey::generate().unwrap();
        let (mut sealer, line) = Sealer::new(&key, &header(&key));
        let a = sealer.frame(b"aaaa", false).unwrap();
        let b = sealer.frame(b"bbbb", false).unwrap();
        let c = sealer.frame(b"cccc", true).unwrap();
        let assemble = |frames: &[&Vec<u8>]| {
            let mut out = line.clone().into_bytes();
            for f in frames {
                out.extend_from_slice(f);
            }
            out
        };
        assert_eq!(
            read(&key, &assemble(&[&a, &b, &c])).unwrap(),
            b"aaaabbbbcccc"
        );
        assert!(matches!(
            read(&key, &assemble(&[&b, &a, &c])),
            Err(BackupError::Damaged { frame: 0 })
        ));
        assert!(matches!(
            read(&key, &assemble(&[&a, &c])),
            Err(BackupError::Damaged { frame: 1 })
        ));
        assert_eq!(
            read(&key, &assemble(&[&a, &b])),
            Err(BackupError::Truncated)
        );
    }

    #[test]
    fn another_master_key_is_named_not_mistaken_for_damage() {
        let key = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let bytes = file(&key, &[b"secret rows"]);
        match read(&other, &bytes) {
            Err(BackupError::WrongKey { file, ours }) => {
                assert_eq!(file, key.fingerprint().to_string());
                assert_eq!(ours, other.fingerprint().to_string());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_headers_are_not_backups() {
        for line in [
            "",
            "kunci-backup v2 key=0011223344556677 created=1 backend=sqlite schema=1",
            "kunci-backup v1 key=00112233 created=1 backend=sqlite schema=1",
            "kunci-backup v1 key=0011223344556677 created=x backend=sqlite schema=1",
            "kunci-backup v1 key=0011223344556677 created=1 backend=SQL;DROP schema=1",
            "kunci-backup v1 key=0011223344556677 created=1 backend=sqlite schema=1 extra=1",
            "kunci-backup v1 created=1 key=0011223344556677 backend=sqlite schema=1",
            "kunci-env v1 env=production key=0011223344556677",
        ] {
            assert_eq!(Header::parse(line), Err(BackupError::NotABackup), "{line}");
        }
        let key = MasterKey::generate().unwrap();
        let (opener, _) = Opener::new(&key, &header(&key).encode()).unwrap();
        for prefix in [
            [0, 0, 0, 0],
            [0x7f, 0xff, 0xff, 0xff],
            [0xff, 0xff, 0xff, 0xff],
            [0, 0, 0, 39],
        ] {
            assert!(opener.prefix(prefix).is_err(), "{prefix:?}");
        }
    }
}
