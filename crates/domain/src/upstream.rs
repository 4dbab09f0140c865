//! The port through which the web layer reaches third-party APIs served from the key pool.
//! The adapters (Google Custom Search, …), the retry loop and the cache live in
//! `kunci-upstream`; handlers see only this.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::apikeys::KeyFormat;

/// A search as the client asked it (already validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub q: String,
    /// 1-based index of the first result.
    pub start: Option<u32>,
    /// Results wanted (1 to 10).
    pub num: Option<u32>,
}

/// A request passed through to a `generic` upstream (`/api/v1/proxy/{upstream}/{path}`).
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub method: String,
    /// The path below the upstream's base URL, without a leading `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Content type and bytes.
    pub body: Option<(String, bytes::Bytes)>,
}

/// An upstream's answer, to pass on.
#[derive(Debug, Clone)]
pub struct UpstreamAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
    /// Served from the cache (no quota spent).
    pub cache_hit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("no upstream is configured under that name")]
    Unknown,
    /// No key usable now; one is expected back at `retry_after` (Unix seconds), if known.
    #[error("no API key is available")]
    NoKey { retry_after: Option<i64> },
    #[error("the upstream refused the request: {0}")]
    Config(String),
    #[error("the upstream is throttling every key")]
    Throttled { retry_after: i64 },
    #[error("the upstream could not be reached")]
    Unavailable,
    #[error("the key store is unavailable")]
    Store,
}

#[async_trait]
pub trait Upstreams: Send + Sync + fmt::Debug {
    /// The configured upstream names.
    fn names(&self) -> Vec<String>;
    /// The key format of an upstream, to validate keys before they are stored.
    fn key_format(&self, upstream: &str) -> Option<Arc<dyn KeyFormat>>;
    /// A search on the default search upstream, from the cache when it can be.
    async fn search(&self, query: &SearchQuery) -> Result<UpstreamAnswer, UpstreamError>;
    /// A request passed through to a `generic` upstream with a key from its pool.
    async fn proxy(
        &self,
        upstream: &str,
        request: ProxyRequest,
    ) -> Result<UpstreamAnswer, UpstreamError>;
}
