//! Key-ring announcements over Redis pub/sub: an instance that rotates or retires a key
//! publishes on `<prefix>keyring`, and the others reload their ring at once (without Redis,
//! the periodic reload from the database still brings the change within `key_reload_secs`).

use std::future::Future;

use async_trait::async_trait;
use kunci_domain::keys::RingChanged;
use kunci_domain::store::StoreError;
use redis::aio::ConnectionManager;

use super::RedisServer;

/// Announces key-ring changes on the channel `<prefix>keyring`.
#[derive(Debug, Clone)]
pub struct RedisRingChanged {
    conn: ConnectionManager,
    channel: String,
}

impl RedisRingChanged {
    pub fn new(server: &RedisServer) -> Result<Self, StoreError> {
        Ok(Self {
            conn: server.manager()?,
            channel: server.keyring_channel(),
        })
    }
}

#[async_trait]
impl RingChanged for RedisRingChanged {
    async fn announce(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg("changed")
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| StoreError::unavailable("redis", e))
    }
}

impl RedisServer {
    /// The channel key-ring changes are announced on.
    pub fn keyring_channel(&self) -> String {
        format!("{}keyring", self.prefix)
    }

    /// Waits for announcements and calls `changed` for each, reconnecting after failures
    /// (the periodic reload covers the gaps). Runs until the task is aborted.
    pub async fn listen_for_ring_changes<F, Fut>(&self, changed: F)
    where
        F: Fn() -> Fut + Send,
        Fut: Future<Output = ()> + Send,
    {
        use futures_util::StreamExt as _;
        let channel = self.keyring_channel();
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(&channel).await.is_ok() {
                        let mut messages = pubsub.into_on_message();
                        while messages.next().await.is_some() {
                            changed().await;
                        }
                    }
                }
                Err(err) => {
                    tracing::debug!(error = %err, "key-ring announcements unavailable; retrying");
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}
