//! The configured upstreams behind the domain's [`Upstreams`] port: which adapter each uses,
//! where it lives, and the search route with its cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use kunci_crypto::SecretString;
use kunci_domain::apikeys::{KeyFormat, PoolError, Verdict};
use kunci_domain::audit::Actor;
use kunci_domain::clock::Clock;
use kunci_domain::session::Scope;
use kunci_domain::upstream::{
    AnswerCache, KeyTest, ProxyRequest, SearchQuery, UpstreamAnswer, UpstreamError, Upstreams,
};

use crate::google;
use crate::proxy::{Cache, Call, KeyPlacement, Upstreams as Proxy};

/// One configured upstream.
#[derive(Debug, Clone)]
pub enum Route {
    GoogleCse {
        base_url: String,
        cx: SecretString,
    },
    Generic {
        base_url: String,
        key: KeyPlacement,
        rules: crate::generic::Rules,
        format: Option<crate::generic::PatternFormat>,
        /// A cheap `GET` below `base_url` that tests a key (`models`); none: keys of this
        /// upstream cannot be tested.
        test_path: Option<String>,
    },
}

/// The upstreams of a deployment.
#[derive(Debug)]
pub struct Gateway {
    proxy: Arc<Proxy>,
    routes: BTreeMap<String, Route>,
    search: String,
    cache: Arc<Cache>,
    cache_secs: i64,
    clock: Arc<dyn Clock>,
    /// Who may call each upstream (`[upstream.<name>] scope`); `user` when unnamed.
    scopes: BTreeMap<String, Scope>,
}

impl Gateway {
    /// The scope each upstream asks of its callers.
    #[must_use]
    pub fn with_scopes(mut self, scopes: BTreeMap<String, Scope>) -> Self {
        self.scopes = scopes;
        self
    }

    pub fn new(
        proxy: Proxy,
        routes: BTreeMap<String, Route>,
        search: String,
        (answers, cache_secs): (Arc<dyn AnswerCache>, i64),
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            proxy: Arc::new(proxy),
            routes,
            search,
            cache: Arc::new(Cache::new(answers)),
            cache_secs,
            clock,
            scopes: BTreeMap::new(),
        }
    }
}

/// The cache key of a search: a digest, so neither memory nor Redis holds the query as a key.
fn search_cache_key(upstream: &str, query: &SearchQuery) -> String {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    for part in [
        upstream,
        &query.start.unwrap_or(1).to_string(),
        &query.num.unwrap_or(10).to_string(),
        &query.q,
    ] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    let hex: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("search:{hex}")
}

/// A Custom Search call (the key is added per attempt).
fn google_call(upstream: &str, base_url: &str, cx: &SecretString, query: &SearchQuery) -> Call {
    let mut params = vec![
        ("cx".to_owned(), cx.expose().to_owned()),
        ("q".to_owned(), query.q.clone()),
    ];
    if let Some(start) = query.start {
        params.push(("start".to_owned(), start.to_string()));
    }
    if let Some(num) = query.num {
        params.push(("num".to_owned(), num.to_string()));
    }
    Call {
        upstream: upstream.to_owned(),
        method: reqwest::Method::GET,
        url: base_url.to_owned(),
        query: params,
        key: KeyPlacement::Header {
            name: "x-goog-api-key".to_owned(),
            template: "{key}".to_owned(),
        },
        body: None,
        classify: Arc::new(google::classify),
        day: Arc::new(google::day),
    }
}

/// A call to a `generic` upstream (the key is added per attempt).
fn generic_call(
    upstream: &str,
    method: reqwest::Method,
    url: String,
    key: &KeyPlacement,
    rules: &crate::generic::Rules,
    query: Vec<(String, String)>,
    body: Option<(String, bytes::Bytes)>,
) -> Call {
    let rules = rules.clone();
    let reset = rules.reset.clone();
    Call {
        upstream: upstream.to_owned(),
        method,
        url,
        query,
        key: key.clone(),
        body,
        classify: Arc::new(move |status, _body, retry_after, now| {
            rules.classify(status, retry_after, now)
        }),
        day: Arc::new(move |now| reset.day(now)),
    }
}

/// Whether `path` (and its query), put after an upstream's base URL, stays below it: not
/// absolute, no backslash, and no `.` or `..` segment, also not percent-encoded (URL parsers
/// read `%2e%2e` as `..`).
pub fn stays_below(path: &str) -> bool {
    let path_only = path.split(['?', '#']).next().unwrap_or_default();
    !path.starts_with('/')
        && !path.contains('\\')
        && !path_only.split('/').any(|segment| {
            let plain = segment.to_ascii_lowercase().replace("%2e", ".");
            plain == "." || plain == ".."
        })
}

fn below(base_url: &str, path: &str) -> String {
    format!("{}/{}", base_url.trim_end_matches('/'), path)
}

fn outcome(verdict: &Verdict, status: Option<u16>) -> &'static str {
    match (verdict, status) {
        (_, None) => "unreachable",
        (Verdict::Served, _) => "served",
        (Verdict::QuotaExceeded { .. }, _) => "quota_exceeded",
        (Verdict::Cooling { .. }, _) => "cooling",
        (Verdict::Invalid, _) => "invalid",
        (Verdict::ClientError, _) => "client_error",
    }
}

fn pool_to_domain(err: PoolError) -> UpstreamError {
    match err {
        PoolError::Unknown(_) => UpstreamError::UnknownKey,
        PoolError::Unsealable(masked) => {
            UpstreamError::Config(format!("the key {masked} cannot be opened: re-enter it"))
        }
        other => {
            tracing::error!(error = %other, "the API-key store failed");
            UpstreamError::Store
        }
    }
}

#[async_trait]
impl Upstreams for Gateway {
    fn names(&self) -> Vec<String> {
        self.routes.keys().cloned().collect()
    }

    fn scope(&self, upstream: &str) -> Scope {
        self.scopes.get(upstream).copied().unwrap_or(Scope::User)
    }

    fn search_scope(&self) -> Scope {
        self.scope(&self.search)
    }

    fn key_format(&self, upstream: &str) -> Option<Arc<dyn KeyFormat>> {
        match self.routes.get(upstream)? {
            Route::GoogleCse { .. } => Some(Arc::new(google::GoogleKeyFormat)),
            Route::Generic {
                format: Some(format),
                ..
            } => Some(Arc::new(format.clone())),
            Route::Generic { format: None, .. } => Some(Arc::new(crate::generic::AnyKeyFormat)),
        }
    }

    async fn search(&self, query: &SearchQuery) -> Result<UpstreamAnswer, UpstreamError> {
        let Some(Route::GoogleCse { base_url, cx }) = self.routes.get(&self.search) else {
            return Err(UpstreamError::Unknown);
        };
        let call = google_call(&self.search, base_url, cx, query);
        let proxy = self.proxy.clone();
        let fetch = async move { proxy.call(&call).await }.boxed();
        let cache_key = search_cache_key(&self.search, query);
        let (result, hit) = if self.cache_secs > 0 {
            self.cache
                .get_or_fetch(&cache_key, self.clock.now_unix(), self.cache_secs, fetch)
                .await
        } else {
            (fetch.await, false)
        };
        let answer = result?;
        Ok(UpstreamAnswer {
            status: answer.status,
            content_type: answer.content_type,
            body: answer.body,
            cache_hit: hit,
        })
    }

    async fn test_key(&self, actor: &Actor, id: &str) -> Result<KeyTest, UpstreamError> {
        let pool = self.proxy.pool();
        let key = pool
            .store()
            .get(id)
            .await
            .map_err(|err| pool_to_domain(err.into()))?
            .ok_or(UpstreamError::UnknownKey)?;
        let call = match self.routes.get(&key.upstream) {
            None => return Err(UpstreamError::Unknown),
            Some(Route::GoogleCse { base_url, cx }) => {
                let query = SearchQuery {
                    q: "kunci".to_owned(),
                    start: None,
                    num: Some(1),
                };
                google_call(&key.upstream, base_url, cx, &query)
            }
            Some(Route::Generic {
                test_path: None, ..
            }) => return Err(UpstreamError::NotTestable),
            Some(Route::Generic {
                base_url,
                key: placement,
                rules,
                test_path: Some(path),
                ..
            }) => generic_call(
                &key.upstream,
                reqwest::Method::GET,
                below(base_url, path),
                placement,
                rules,
                Vec::new(),
                None,
            ),
        };
        let (key, secret) = pool
            .lease_for_test(actor, id, (call.day)(self.clock.now_unix()))
            .await
            .map_err(pool_to_domain)?;
        let (verdict, summary, status) = self.proxy.call_with(&call, &key, &secret).await;
        let after = pool
            .store()
            .get(id)
            .await
            .map_err(|err| pool_to_domain(err.into()))?
            .unwrap_or(key);
        Ok(KeyTest {
            status,
            outcome: outcome(&verdict, status),
            summary,
            key: after,
        })
    }

    async fn proxy(
        &self,
        upstream: &str,
        request: ProxyRequest,
    ) -> Result<UpstreamAnswer, UpstreamError> {
        let Some(Route::Generic {
            base_url,
            key,
            rules,
            ..
        }) = self.routes.get(upstream)
        else {
            return Err(UpstreamError::Unknown);
        };
        // The path arrives decoded: a `?` or `#` in it was encoded by the client and must not
        // become a query or fragment here.
        if !stays_below(&request.path)
            || request.path.contains(['?', '#'])
            || request.path.chars().any(char::is_control)
        {
            return Err(UpstreamError::BadPath);
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| UpstreamError::Config("unsupported method".to_owned()))?;
        let call = generic_call(
            upstream,
            method,
            below(base_url, &request.path),
            key,
            rules,
            request.query,
            request.body,
        );
        let answer = self.proxy.call(&call).await?;
        Ok(UpstreamAnswer {
            status: answer.status,
            content_type: answer.content_type,
            body: answer.body,
            cache_hit: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::stays_below;

    #[test]
    fn paths_never_climb_out_of_the_base() {
        for good in [
            "models",
            "v1/chat/completions",
            "res/v1/web/search?q=a/../b",
            "a/..b/c",
        ] {
            assert!(stays_below(good), "{good}");
        }
        for bad in [
            "..",
            "a/../../admin",
            "./x",
            "/etc/passwd",
            "a/%2e%2e/b",
            "%2E%2e",
            ".%2e/x",
            "%2e",
            "a\\..\\b",
            "a/..?q=1",
        ] {
            assert!(!stays_below(bad), "{bad}");
        }
    }
}
