//! The configured upstreams behind the domain's [`Upstreams`] port: which adapter each uses,
//! where it lives, and the search route with its cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use kunci_crypto::SecretString;
use kunci_domain::apikeys::KeyFormat;
use kunci_domain::clock::Clock;
use kunci_domain::upstream::{ProxyRequest, SearchQuery, UpstreamAnswer, UpstreamError, Upstreams};

use crate::google;
use crate::proxy::{Cache, Call, CallError, KeyPlacement, Upstreams as Proxy};

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
}

impl Gateway {
    pub fn new(
        proxy: Proxy,
        routes: BTreeMap<String, Route>,
        search: String,
        cache_secs: i64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            proxy: Arc::new(proxy),
            routes,
            search,
            cache: Arc::new(Cache::default()),
            cache_secs,
            clock,
        }
    }
}

fn to_domain(err: CallError) -> UpstreamError {
    match err {
        CallError::NoKey { retry_after } => UpstreamError::NoKey { retry_after },
        CallError::Config(why) => UpstreamError::Config(why),
        CallError::Throttled { retry_after } => UpstreamError::Throttled { retry_after },
        CallError::Unavailable => UpstreamError::Unavailable,
        CallError::Store => UpstreamError::Store,
    }
}

#[async_trait]
impl Upstreams for Gateway {
    fn names(&self) -> Vec<String> {
        self.routes.keys().cloned().collect()
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
        let call = Call {
            upstream: self.search.clone(),
            method: reqwest::Method::GET,
            url: base_url.clone(),
            query: params,
            key: KeyPlacement::Header {
                name: "x-goog-api-key".to_owned(),
                template: "{key}".to_owned(),
            },
            body: None,
            classify: Arc::new(google::classify),
            day: Arc::new(google::day),
        };
        let proxy = self.proxy.clone();
        let fetch = async move { proxy.call(&call).await }.boxed();
        let cache_key = format!(
            "search:{}:{}:{}:{}",
            self.search,
            query.start.unwrap_or(1),
            query.num.unwrap_or(10),
            query.q
        );
        let (result, hit) = if self.cache_secs > 0 {
            self.cache
                .get_or_fetch(&cache_key, self.clock.now_unix(), self.cache_secs, fetch)
                .await
        } else {
            (fetch.await, false)
        };
        let answer = result.map_err(to_domain)?;
        Ok(UpstreamAnswer {
            status: answer.status,
            content_type: answer.content_type,
            body: answer.body,
            cache_hit: hit,
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
        if request.path.split('/').any(|s| s == ".." || s == ".") || request.path.contains('\\') {
            return Err(UpstreamError::Config(
                "a path may not leave the upstream's base".to_owned(),
            ));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| UpstreamError::Config("unsupported method".to_owned()))?;
        let url = format!("{}/{}", base_url.trim_end_matches('/'), request.path);
        let rules = rules.clone();
        let reset = rules.reset;
        let call = Call {
            upstream: upstream.to_owned(),
            method,
            url,
            query: request.query,
            key: key.clone(),
            body: request.body,
            classify: Arc::new(move |status, _body, retry_after, now| {
                rules.classify(status, retry_after, now)
            }),
            day: Arc::new(move |now| reset.day(now)),
        };
        let answer = self.proxy.call(&call).await.map_err(to_domain)?;
        Ok(UpstreamAnswer {
            status: answer.status,
            content_type: answer.content_type,
            body: answer.body,
            cache_hit: false,
        })
    }
}
