//! Calling an upstream with a key from the pool: one retry loop (≤ 5 retries, ≤ 60 s), keys
//! excluded once they failed in this request, verdicts reported to the pool, a circuit that
//! opens when many keys are throttled together, responses capped in size, and a cache with
//! single-flight for identical calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use kunci_crypto::SecretString;
use kunci_domain::apikeys::{ApiKey, ApiKeyPool, Verdict};
use kunci_domain::circuit::{Admit, CircuitStore};
use kunci_domain::clock::Clock;
use kunci_domain::store::StoreError;
use kunci_domain::upstream::{AnswerCache, CachedAnswer, UpstreamError};

use crate::circuit::Circuit;

/// Retries after the first attempt.
pub const MAX_RETRIES: usize = 5;
/// The longest one request may take, all attempts included.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// The largest upstream answer passed on.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// How an answer bears on the key: an adapter's classification.
pub type Classify = Arc<dyn Fn(u16, &[u8], Option<i64>, i64) -> (Verdict, String) + Send + Sync>;

/// Where the key travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlacement {
    /// A header, with `{key}` standing for the key (`Authorization: Bearer {key}`).
    Header { name: String, template: String },
    /// A query parameter (only where the provider offers nothing else).
    Query(String),
}

/// One call, without its key.
#[derive(Clone)]
pub struct Call {
    pub upstream: String,
    pub method: reqwest::Method,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub key: KeyPlacement,
    /// Content type and bytes.
    pub body: Option<(String, bytes::Bytes)>,
    pub classify: Classify,
    /// The upstream's day at a time, for daily budgets.
    pub day: Arc<dyn Fn(i64) -> kunci_domain::apikeys::Day + Send + Sync>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the query: it may carry a search engine id or, for some APIs, the key.
        f.debug_struct("Call")
            .field("upstream", &self.upstream)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// An upstream's answer, passed on to the client.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
}

/// The outbound side of the pool.
pub struct Upstreams {
    client: reqwest::Client,
    pool: ApiKeyPool,
    clock: Arc<dyn Clock>,
    circuit: Circuit,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").finish_non_exhaustive()
    }
}

impl Upstreams {
    pub fn new(pool: ApiKeyPool, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            pool,
            clock,
            circuit: Circuit::new(None),
        })
    }

    /// Shares the throttle circuit with every instance (Redis).
    #[must_use]
    pub fn with_shared_circuit(mut self, shared: Arc<dyn CircuitStore>) -> Self {
        self.circuit = Circuit::new(Some(shared));
        self
    }

    pub fn pool(&self) -> &ApiKeyPool {
        &self.pool
    }

    /// Makes the call with keys from the pool until one is served or the limits are reached.
    pub async fn call(&self, call: &Call) -> Result<Answer, UpstreamError> {
        match tokio::time::timeout(DEADLINE, self.attempts(call)).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Unavailable),
        }
    }

    async fn attempts(&self, call: &Call) -> Result<Answer, UpstreamError> {
        let mut tried: Vec<String> = Vec::new();
        let mut backoff = Duration::from_millis(100);
        let mut last = UpstreamError::Unavailable;
        for _ in 0..=MAX_RETRIES {
            let now = self.clock.now_unix();
            if let Admit::Open { until } = self.circuit.admit(&call.upstream, now).await {
                return Err(UpstreamError::Throttled { retry_after: until });
            }
            let picked = self
                .pool
                .acquire(&call.upstream, &tried, (call.day)(self.clock.now_unix()))
                .await
                .map_err(|err| {
                    tracing::error!(error = %err, "the API-key store failed");
                    UpstreamError::Store
                })?;
            let Some((key, secret)) = picked else {
                if tried.is_empty() || matches!(last, UpstreamError::NoKey { .. }) {
                    // Also when this request's own answers used the last keys up: it tells
                    // when one is back as the next request would.
                    return Err(self.no_key(call).await);
                }
                return Err(last);
            };
            tried.push(key.id.clone());
            let (verdict, summary, answer) = self.attempt(call, &key, &secret).await;
            let now = self.clock.now_unix();
            match verdict {
                Verdict::Served => {
                    self.circuit.served(&call.upstream, now).await;
                    return answer.ok_or(UpstreamError::Unavailable);
                }
                Verdict::ClientError => return Err(UpstreamError::Config(summary)),
                // A short throttle (per minute, or a rate limit with Retry-After): the kind no
                // per-key verdict explains when it comes from many quota groups at once. Daily
                // quotas never count: their keys are simply spent.
                Verdict::Cooling { .. } if answer.as_ref().is_some_and(|a| a.status == 429) => {
                    let group = key.quota_group.as_deref().unwrap_or(&key.id);
                    if let Some(until) = self.circuit.throttled(&call.upstream, group, now).await {
                        return Err(UpstreamError::Throttled { retry_after: until });
                    }
                    last = UpstreamError::NoKey { retry_after: None };
                }
                Verdict::Invalid | Verdict::QuotaExceeded { .. } => {
                    last = UpstreamError::NoKey { retry_after: None };
                }
                Verdict::Cooling { .. } => {
                    // A 5xx or a timeout: back off before the next key.
                    last = UpstreamError::Unavailable;
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
            }
        }
        match last {
            UpstreamError::NoKey { .. } => Err(self.no_key(call).await),
            other => Err(other),
        }
    }

    /// No key is usable: when the earliest is back.
    async fn no_key(&self, call: &Call) -> UpstreamError {
        let day = (call.day)(self.clock.now_unix());
        match self.pool.earliest_available(&call.upstream, day).await {
            Ok(retry_after) => UpstreamError::NoKey { retry_after },
            Err(_) => UpstreamError::Store,
        }
    }

    /// One call with `key`, its answer classified and the verdict reported to the pool.
    async fn attempt(
        &self,
        call: &Call,
        key: &ApiKey,
        secret: &SecretString,
    ) -> (Verdict, String, Option<Answer>) {
        let sent = self.send(call, secret).await;
        let now = self.clock.now_unix();
        let (verdict, summary, answer) = match sent {
            Ok((answer, retry_after)) => {
                let (verdict, summary) =
                    (call.classify)(answer.status, &answer.body, retry_after, now);
                (verdict, summary, Some(answer))
            }
            Err(why) => (Verdict::Cooling { until: now + 30 }, why, None),
        };
        let error = (!summary.is_empty()).then_some(summary.as_str());
        if let Err(err) = self.pool.report(key, &verdict, error).await {
            tracing::error!(error = %err, "could not record an upstream answer");
        }
        tracing::info!(upstream = %call.upstream, key = %key.masked, verdict = ?verdict, "upstream answered");
        let label = match &verdict {
            Verdict::Served => "served",
            Verdict::QuotaExceeded { .. } => "quota_exceeded",
            Verdict::Cooling { .. } if answer.is_none() => "unreachable",
            Verdict::Cooling { .. } => "cooling",
            Verdict::Invalid => "invalid",
            Verdict::ClientError => "client_error",
        };
        metrics::counter!("kunci_upstream_answers_total", "upstream" => call.upstream.clone(), "verdict" => label)
            .increment(1);
        (verdict, summary, answer)
    }

    /// One call with a chosen key (an administrator's test), never retried: the verdict, a
    /// short reason and the status (`None`: no answer).
    pub async fn call_with(
        &self,
        call: &Call,
        key: &ApiKey,
        secret: &SecretString,
    ) -> (Verdict, String, Option<u16>) {
        match tokio::time::timeout(DEADLINE, self.attempt(call, key, secret)).await {
            Ok((verdict, summary, answer)) => (verdict, summary, answer.map(|a| a.status)),
            Err(_) => {
                let until = self.clock.now_unix() + 30;
                (Verdict::Cooling { until }, "timeout".to_owned(), None)
            }
        }
    }

    /// One attempt. The key travels in a header only, never in the URL.
    async fn send(&self, call: &Call, key: &SecretString) -> Result<(Answer, Option<i64>), String> {
        let mut query = call.query.clone();
        if let KeyPlacement::Query(param) = &call.key {
            query.retain(|(name, _)| name != param);
            query.push((param.clone(), key.expose().to_owned()));
        }
        let url = if query.is_empty() {
            reqwest::Url::parse(&call.url)
        } else {
            reqwest::Url::parse_with_params(&call.url, &query)
        }
        .map_err(|_| "bad upstream URL".to_owned())?;
        let mut request = self.client.request(call.method.clone(), url);
        if let KeyPlacement::Header { name, template } = &call.key {
            request = request.header(name.as_str(), template.replace("{key}", key.expose()));
        }
        if let Some((content_type, body)) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                .body(body.clone());
        }
        let mut response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                "unreachable".to_owned()
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| "cut off".to_owned())? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err("answer too large".to_owned());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((
            Answer {
                status,
                content_type,
                body: body.into(),
            },
            retry_after,
        ))
    }
}

type Pending = Shared<BoxFuture<'static, Result<Answer, UpstreamError>>>;

/// Cached answers in this instance's memory, at most [`CACHE_ENTRIES`].
#[derive(Debug, Default)]
pub struct MemoryAnswers {
    entries: Mutex<HashMap<String, CachedAnswer>>,
}

/// The largest number of answers kept in memory.
const CACHE_ENTRIES: usize = 10_000;

#[async_trait::async_trait]
impl AnswerCache for MemoryAnswers {
    async fn get(&self, key: &str, now: i64) -> Result<Option<CachedAnswer>, StoreError> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.get(key).filter(|a| a.expires_at > now).cloned())
    }

    async fn put(&self, key: &str, answer: &CachedAnswer, now: i64) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CACHE_ENTRIES {
            entries.retain(|_, a| a.expires_at > now);
        }
        if entries.len() < CACHE_ENTRIES {
            entries.insert(key.to_owned(), answer.clone());
        }
        Ok(())
    }
}

/// How long a claim on a call lasts (the longest a call may take); followers on other
/// instances wait for its answer at most this long.
const FLIGHT_SECS: i64 = 60;
/// How often a follower looks for the answer another instance is fetching.
const FLIGHT_POLL: Duration = Duration::from_millis(50);

/// Answers of identical calls, kept for a while in an [`AnswerCache`]; concurrent identical
/// misses share one call: on this instance through a shared future, across instances (a Redis
/// cache) through a claim: the instance holding it calls, the others wait for its answer to
/// appear in the cache, and call themselves only if it gives up. A cache that fails is
/// skipped, never an error.
pub struct Cache {
    store: Arc<dyn AnswerCache>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

impl Cache {
    pub fn new(store: Arc<dyn AnswerCache>) -> Self {
        Self {
            store,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// The cached answer for `key` at `now`, or the result of `fetch` (shared by everyone asking
    /// meanwhile), kept until `now + ttl` when it succeeded. The flag says whether it was a hit.
    pub async fn get_or_fetch(
        &self,
        key: &str,
        now: i64,
        ttl: i64,
        fetch: BoxFuture<'static, Result<Answer, UpstreamError>>,
    ) -> (Result<Answer, UpstreamError>, bool) {
        match self.store.get(key, now).await {
            Ok(Some(cached)) => return (Ok(answer_of(cached)), true),
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "answer cache unavailable: asking upstream"),
        }
        let (shared, leader) = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            match pending.get(key) {
                Some(shared) => (shared.clone(), false),
                None => {
                    let fetch =
                        across_instances(self.store.clone(), key.to_owned(), now, ttl, fetch);
                    let shared = fetch.boxed().shared();
                    pending.insert(key.to_owned(), shared.clone());
                    (shared, true)
                }
            }
        };
        let result = shared.await;
        if leader {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key);
        }
        (result, false)
    }
}

fn answer_of(cached: CachedAnswer) -> Answer {
    Answer {
        status: cached.status,
        content_type: cached.content_type,
        body: cached.body,
    }
}

/// A random name for this caller's claim; empty (never matching a stored claim) if the system
/// has no randomness, which only costs the release.
fn claim_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `fetch`, made once for every instance sharing the cache: claims the call first; while
/// another instance holds the claim, waits for the answer it stores (served from the cache)
/// or for the claim to lapse. The answer is stored before the claim is released, so a
/// follower never finds neither; and the cache is read again once the claim is taken, so a
/// caller whose miss came before another instance's whole call does not call again.
async fn across_instances(
    store: Arc<dyn AnswerCache>,
    key: String,
    now: i64,
    ttl: i64,
    fetch: BoxFuture<'static, Result<Answer, UpstreamError>>,
) -> Result<Answer, UpstreamError> {
    let token = claim_token();
    let mut waited = Duration::ZERO;
    let claimed = loop {
        match store.claim(&key, &token, FLIGHT_SECS).await {
            Ok(true) => break true,
            // No shared cache to coordinate through: call, as a single instance would.
            Err(_) => break false,
            Ok(false) => {}
        }
        if waited >= Duration::from_secs(FLIGHT_SECS.unsigned_abs()) {
            break false;
        }
        tokio::time::sleep(FLIGHT_POLL).await;
        waited += FLIGHT_POLL;
        if let Ok(Some(cached)) = store.get(&key, now).await {
            return Ok(answer_of(cached));
        }
    };
    // The caller's miss may be older than another instance's whole call: that one stored its
    // answer and released its claim in between. Look again now that the claim is ours.
    let release = async |store: &dyn AnswerCache| {
        if let Err(err) = store.release(&key, &token).await {
            tracing::warn!(error = %err, "a claim on an upstream call was not released (it lapses)");
        }
    };
    if claimed && let Ok(Some(cached)) = store.get(&key, now).await {
        release(store.as_ref()).await;
        return Ok(answer_of(cached));
    }
    let result = fetch.await;
    if let Ok(answer) = &result
        && (200..300).contains(&answer.status)
    {
        let cached = CachedAnswer {
            status: answer.status,
            content_type: answer.content_type.clone(),
            body: answer.body.clone(),
            expires_at: now + ttl,
        };
        if let Err(err) = store.put(&key, &cached, now).await {
            tracing::warn!(error = %err, "answer not cached");
        }
    }
    if claimed {
        release(store.as_ref()).await;
    }
    result
}
