//! The port through which the web layer reaches third-party APIs served from the key pool.
//! The adapters (Google Custom Search, …), the retry loop and the cache live in
//! `kunci-upstream`; handlers see only this.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::apikeys::{ApiKey, KeyFormat};
use crate::audit::Actor;
use crate::session::Scope;
use crate::store::StoreError;

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

/// How an administrator's test call with one key went.
#[derive(Debug, Clone)]
pub struct KeyTest {
    /// The upstream's HTTP status; `None` when it could not be reached.
    pub status: Option<u16>,
    /// `served`, `quota_exceeded`, `cooling`, `invalid`, `client_error` or `unreachable`.
    pub outcome: &'static str,
    /// The upstream's reason in a few words (never the key).
    pub summary: String,
    /// The key after the verdict was applied.
    pub key: ApiKey,
}

/// Why a call to an upstream did not give an answer. The transport (`kunci-upstream`) uses
/// this type end to end; the web layer maps it once (`ApiError::upstream`). Times are Unix
/// seconds, so an error shared by several waiting callers stays true for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("no upstream is configured under that name")]
    Unknown,
    #[error("there is no such API key")]
    UnknownKey,
    /// A proxied path that would leave the upstream's base URL.
    #[error("the path may not leave the upstream's base")]
    BadPath,
    /// A `generic` upstream without `test_path`: there is no call to test a key with.
    #[error("this upstream has no test request (`test_path`)")]
    NotTestable,
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
    /// The scope a caller of `upstream` needs (`[upstream.<name>] scope`, `user` by default).
    fn scope(&self, upstream: &str) -> Scope;
    /// The scope a caller of `GET /api/v1/search` needs: that of the default search upstream.
    fn search_scope(&self) -> Scope;
    /// The key format of an upstream, to validate keys before they are stored.
    fn key_format(&self, upstream: &str) -> Option<Arc<dyn KeyFormat>>;
    /// A search on the default search upstream, from the cache when it can be.
    async fn search(&self, query: &SearchQuery) -> Result<UpstreamAnswer, UpstreamError>;
    /// One call with key `id` (whatever its status), made for administrator `actor`: audited,
    /// counted, and its verdict applied to the key like any other call's.
    async fn test_key(&self, actor: &Actor, id: &str) -> Result<KeyTest, UpstreamError>;
    /// A request passed through to a `generic` upstream with a key from its pool.
    async fn proxy(
        &self,
        upstream: &str,
        request: ProxyRequest,
    ) -> Result<UpstreamAnswer, UpstreamError>;
}

/// An upstream answer kept for identical calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
    /// Unix seconds after which it is not served.
    pub expires_at: i64,
}

/// Where cached answers live: this instance's memory, or Redis, shared by every instance.
/// Keys are short digests, never the request text.
#[async_trait]
pub trait AnswerCache: Send + Sync + fmt::Debug {
    /// The answer under `key` if it has not expired at `now`.
    async fn get(&self, key: &str, now: i64) -> Result<Option<CachedAnswer>, StoreError>;
    async fn put(&self, key: &str, answer: &CachedAnswer, now: i64) -> Result<(), StoreError>;

    /// Claims, for `secs` at most, the call that fetches the answer under `key`, on behalf of
    /// every instance sharing this cache: true when the caller should make it, false while
    /// another holds the claim. `token` names the claimant, for [`AnswerCache::release`]. A
    /// cache of one instance's own always says yes: its callers already share one call.
    async fn claim(&self, _key: &str, _token: &str, _secs: i64) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Gives a claim up, if `token` still holds it (the answer is stored, or the call failed).
    async fn release(&self, _key: &str, _token: &str) -> Result<(), StoreError> {
        Ok(())
    }
}
