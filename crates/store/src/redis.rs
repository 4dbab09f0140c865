//! Redis: the shared store for sessions, rate limits, nonces and pub/sub when several
//! instances run. This module holds the connection set-up and the readiness probe; the
//! per-port adapters live beside it as they are built.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use kunci_domain::health::{Probe, ProbeFailure};
use redis::AsyncConnectionConfig;

/// A Redis server kunci is configured to use. Holds no open connection by itself.
#[derive(Clone)]
pub struct RedisServer {
    client: redis::Client,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection info may hold a password.
        f.write_str("RedisServer")
    }
}

/// The Redis URL could not be understood. Never contains the URL.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL (expected redis://[:PASSWORD@]HOST[:PORT][/DB])")]
pub struct InvalidRedisUrl;

impl RedisServer {
    /// Parses the URL; does not connect.
    pub fn new(url: &str) -> Result<Self, InvalidRedisUrl> {
        redis::Client::open(url)
            .map(|client| Self { client })
            .map_err(|_| InvalidRedisUrl)
    }

    /// Opens a multiplexed connection with bounded connect and response times.
    pub async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
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
