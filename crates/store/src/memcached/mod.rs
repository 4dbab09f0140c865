//! memcached: a shared cache that forgets by itself. Spoken to in its text protocol over a
//! few pooled connections; every command has a deadline, and a connection that fails is
//! dropped and reopened on next use.
//!
//! memcached cannot list keys, and evicts under memory pressure: sessions there are shared and
//! expire by themselves, but per-account listing is best effort and a session can vanish
//! early (the user then logs in again). Prefer `redis` or `sql` where that matters.

mod sessions;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kunci_domain::store::StoreError;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufStream};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

pub use sessions::MemcachedSessions;

const TIMEOUT: Duration = Duration::from_secs(1);
const POOL: usize = 4;
/// memcached reads expiry times above 30 days as absolute Unix times.
const RELATIVE_LIMIT: u64 = 30 * 86_400;
/// The largest value kunci stores (sessions are far smaller); larger replies are refused.
const MAX_VALUE: usize = 1024 * 1024;

/// A memcached server: `memcache://HOST:PORT` (or `memcached://`).
pub struct Memcached {
    address: String,
    prefix: String,
    pool: Vec<Mutex<Option<BufStream<TcpStream>>>>,
    next: AtomicUsize,
}

impl fmt::Debug for Memcached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memcached")
            .field("address", &self.address)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The memcached URL could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("invalid memcached URL (expected memcache://HOST:PORT)")]
pub struct InvalidMemcachedUrl;

fn unavailable(err: impl fmt::Display) -> StoreError {
    StoreError::unavailable("memcached", err)
}

/// One request and its answer on a connection.
type Exchange<'a, T> = Pin<Box<dyn Future<Output = std::io::Result<T>> + Send + 'a>>;

/// What a storage command answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Yes,
    No,
}

impl Memcached {
    pub fn new(url: &str, prefix: &str) -> Result<Self, InvalidMemcachedUrl> {
        let rest = url
            .strip_prefix("memcache://")
            .or_else(|| url.strip_prefix("memcached://"))
            .ok_or(InvalidMemcachedUrl)?;
        let address = rest.trim_end_matches('/');
        if address.is_empty() || address.contains(['/', '@', ' ']) {
            return Err(InvalidMemcachedUrl);
        }
        Ok(Self {
            address: address.to_owned(),
            prefix: prefix.to_owned(),
            pool: (0..POOL).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs one command on a pooled connection, within the deadline.
    async fn call<T>(
        &self,
        command: impl for<'a> Fn(&'a mut BufStream<TcpStream>) -> Exchange<'a, T>,
    ) -> Result<T, StoreError> {
        let slot = &self.pool[self.next.fetch_add(1, Ordering::Relaxed) % POOL];
        let mut guard = slot.lock().await;
        let result = tokio::time::timeout(TIMEOUT, async {
            if guard.is_none() {
                let stream = TcpStream::connect(&self.address).await?;
                stream.set_nodelay(true)?;
                *guard = Some(BufStream::new(stream));
            }
            match guard.as_mut() {
                Some(stream) => command(stream).await,
                None => Err(std::io::Error::other("no connection")),
            }
        })
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                *guard = None;
                Err(unavailable(err))
            }
            Err(_) => {
                *guard = None;
                Err(unavailable("timed out"))
            }
        }
    }

    /// `set`, `add` or `replace` with an expiry in seconds from now (`now` for long ones).
    pub async fn store(
        &self,
        verb: &'static str,
        key: &str,
        value: &[u8],
        ttl: u64,
        now: i64,
    ) -> Result<Stored, StoreError> {
        check_key(key)?;
        let exptime = if ttl > RELATIVE_LIMIT {
            u64::try_from(now).unwrap_or(0).saturating_add(ttl)
        } else {
            ttl
        };
        let header = format!("{verb} {key} 0 {exptime} {}\r\n", value.len());
        let value = value.to_vec();
        self.call(move |s| {
            let (header, value) = (header.clone(), value.clone());
            Box::pin(async move {
                s.write_all(header.as_bytes()).await?;
                s.write_all(&value).await?;
                s.write_all(b"\r\n").await?;
                s.flush().await?;
                match read_line(s).await?.as_str() {
                    "STORED" => Ok(Stored::Yes),
                    "NOT_STORED" => Ok(Stored::No),
                    other => Err(protocol(other)),
                }
            })
        })
        .await
    }

    /// `append`: adds bytes to an existing value.
    pub async fn append(&self, key: &str, value: &[u8]) -> Result<Stored, StoreError> {
        self.store("append", key, value, 0, 0).await
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let command = format!("get {key}\r\n");
        self.call(move |s| {
            let command = command.clone();
            Box::pin(async move {
                s.write_all(command.as_bytes()).await?;
                s.flush().await?;
                let line = read_line(s).await?;
                if line == "END" {
                    return Ok(None);
                }
                let mut parts = line.split(' ');
                let (Some("VALUE"), Some(_), Some(_), Some(len)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(protocol(&line));
                };
                let len: usize = len.parse().map_err(|_| protocol(&line))?;
                if len > MAX_VALUE {
                    return Err(protocol("value too large"));
                }
                let mut value = vec![0u8; len + 2];
                s.read_exact(&mut value).await?;
                value.truncate(len);
                if read_line(s).await? != "END" {
                    return Err(protocol("missing END"));
                }
                Ok(Some(value))
            })
        })
        .await
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        let command = format!("delete {key}\r\n");
        self.call(move |s| {
            let command = command.clone();
            Box::pin(async move {
                s.write_all(command.as_bytes()).await?;
                s.flush().await?;
                match read_line(s).await?.as_str() {
                    "DELETED" | "NOT_FOUND" => Ok(()),
                    other => Err(protocol(other)),
                }
            })
        })
        .await
    }
}

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > 250 || key.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(StoreError::corrupt("memcached", "invalid key"));
    }
    Ok(())
}

fn protocol(answer: &str) -> std::io::Error {
    let shown: String = answer.chars().take(40).collect();
    std::io::Error::other(format!("unexpected answer from memcached: {shown}"))
}

async fn read_line(stream: &mut BufStream<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    let read = (&mut *stream).take(4096).read_line(&mut line).await?;
    if read == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "memcached closed the connection",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
