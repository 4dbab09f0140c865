//! Redis: the shared store for sessions, rate limits, nonces and notifications between
//! instances. Every key kunci writes starts with a configurable prefix (`data.redis_prefix`),
//! so several deployments or tests can share one server.

mod announce;
pub mod answers;
mod circuit;
mod nonces;
mod rates;
mod sessions;
mod usage;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use kunci_domain::health::{Probe, ProbeFailure};
use kunci_domain::store::StoreError;
use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use announce::RedisRingChanged;
pub use answers::RedisAnswers;
pub use circuit::RedisCircuit;
pub use nonces::RedisNonces;
pub use rates::RedisRates;
pub use sessions::RedisSessions;
pub use usage::RedisUsage;

/// A Redis server kunci is configured to use.
#[derive(Clone)]
pub struct RedisServer {
    client: redis::Client,
    prefix: String,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection info may hold a password.
        f.debug_struct("RedisServer")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The Redis URL could not be understood. Never contains the URL.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL (expected redis://[:PASSWORD@]HOST[:PORT][/DB])")]
pub struct InvalidRedisUrl;

/// How long one Redis command may take before the store reports itself unavailable.
const TIMEOUT: Duration = Duration::from_secs(1);

impl RedisServer {
    /// Parses the URL; does not connect.
    pub fn new(url: &str, prefix: &str) -> Result<Self, InvalidRedisUrl> {
        let client = redis::Client::open(url).map_err(|_| InvalidRedisUrl)?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
        })
    }

    /// The key prefix (`kunci:` by default).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A multiplexed connection that reconnects by itself, connecting on first use. Commands
    /// fail after [`TIMEOUT`] instead of hanging when Redis is down.
    pub fn manager(&self) -> Result<ConnectionManager, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| StoreError::unavailable("redis", e))
    }

    /// The server's persistence settings: `appendonly` and `save` (`None` where the server
    /// refuses `CONFIG GET`, as managed services often do).
    pub async fn persistence(&self) -> redis::RedisResult<(Option<String>, Option<String>)> {
        let mut conn = self.connect().await?;
        let mut get = async |name: &str| {
            redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query_async::<Vec<String>>(&mut conn)
                .await
                .ok()
                .and_then(|v| v.get(1).cloned())
        };
        let appendonly = get("appendonly").await;
        let save = get("save").await;
        Ok((appendonly, save))
    }

    /// Opens a plain multiplexed connection with bounded connect and response times.
    pub async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT * 2))
            .set_response_timeout(Some(TIMEOUT * 2));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }
}

#[async_trait]
impl Probe for RedisServer {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), ProbeFailure> {
        let mut conn = self
            .connect()
            .await
            .map_err(|e| ProbeFailure(e.to_string()))?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| ProbeFailure(e.to_string()))
    }
}

/// Runs a Redis command again when the connection it used turned out to be dead — a server
/// that restarted: the manager reconnects on that failure, and the retries (two, 20 and 60 ms
/// later) go over the new connection, so the first request after Redis is back is served. Only
/// for commands that may run twice (reads, and writes that set a value outright).
pub(crate) async fn once_more<T, F, Fut>(mut command: F) -> redis::RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = redis::RedisResult<T>>,
{
    let mut result = command().await;
    for pause in [20, 60] {
        match &result {
            Err(err) if err.is_connection_dropped() || err.is_io_error() => {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                result = command().await;
            }
            _ => break,
        }
    }
    result
}
