//! `GET /metrics`: Prometheus text. One recorder per process (the `metrics` facade is global),
//! installed by the composition root
//! ([`install`], once per process) before anything records. What is counted where it happens:
//! requests and their latency by route (the route template, never the path), login outcomes by
//! flow, rate-limit refusals by bucket, signing-key verifications by kid, upstream answers by
//! verdict, search-cache hits and misses. What is read at scrape time: the API-key pool by
//! upstream and status, the rate limiter's fallbacks and degraded flag.
//!
//! Access (docs/operations.md): with `metrics.token`, a `Bearer` token; without it, only a
//! loopback peer that came through no proxy (no forwarding header). Anyone else gets 404, so
//! the endpoint is not advertised.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kunci_domain::apikeys::KeyStatus;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq as _;

use crate::error::ApiError;
use crate::state::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process's recorder on first call. `None` when another recorder was installed
/// first (an embedding application's own): kunci then records into that one and serves nothing.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "kunci_http_requests_total",
        "Requests answered, by route template, method and status."
    );
    describe_histogram!(
        "kunci_http_request_duration_seconds",
        "Time to answer, by route template and method."
    );
    describe_counter!(
        "kunci_logins_total",
        "Login attempts by flow (web, form, mobile) and outcome (ok, invalid, locked, too_long, unavailable, error)."
    );
    describe_counter!(
        "kunci_rate_limited_total",
        "Requests refused by a rate limit, by bucket."
    );
    describe_gauge!(
        "kunci_rate_limit_fallbacks",
        "Requests limited in this instance's memory because the shared store failed (since start)."
    );
    describe_gauge!(
        "kunci_store_degraded",
        "1 while a shared store is failing and kunci runs on its fallback."
    );
    describe_counter!(
        "kunci_key_verifications_total",
        "Signatures verified, by signing-key id."
    );
    describe_gauge!(
        "kunci_api_keys",
        "Keys in the API-key pool, by upstream and status."
    );
    describe_counter!(
        "kunci_upstream_answers_total",
        "Upstream answers to pool calls, by upstream and verdict."
    );
    describe_counter!(
        "kunci_search_cache_total",
        "Searches answered from the cache (hit) or the upstream (miss)."
    );
}

/// A label value from a small fixed set: anything else is `other`.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

fn allowed(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    if let Some(token) = &state.settings().metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        return bool::from(given.as_bytes().ct_eq(token.expose().as_bytes()));
    }
    let proxied = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    peer.ip().is_loopback() && !proxied
}

/// `GET /metrics`
pub(crate) async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return ApiError::NotFound.into_response();
    }
    let Some(handle) = install() else {
        return ApiError::NotFound.into_response();
    };
    refresh_gauges(&state).await;
    let mut response = (StatusCode::OK, handle.render()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The values read at scrape time.
async fn refresh_gauges(state: &AppState) {
    let limiter = state.limiter();
    #[expect(
        clippy::as_conversions,
        clippy::cast_precision_loss,
        reason = "a gauge"
    )]
    metrics::gauge!("kunci_rate_limit_fallbacks").set(limiter.fallbacks() as f64);
    // Degraded while the shared store is unreachable, not only after a request noticed it.
    let mut redis_down = false;
    for probe in state.probes().iter().filter(|p| p.name() == "redis") {
        redis_down |= probe.check().await.is_err();
    }
    metrics::gauge!("kunci_store_degraded", "store" => "rate_limits").set(
        if limiter.is_degraded() || redis_down {
            1.0
        } else {
            0.0
        },
    );
    match state.pool().list(None).await {
        Ok(keys) => {
            let mut counts: BTreeMap<(String, &'static str), u32> = BTreeMap::new();
            for upstream in state.upstreams().names() {
                for status in KeyStatus::ALL {
                    counts.insert((upstream.clone(), status.as_str()), 0);
                }
            }
            for key in &keys {
                *counts
                    .entry((key.upstream.clone(), key.status.as_str()))
                    .or_default() += 1;
            }
            for ((upstream, status), count) in counts {
                metrics::gauge!("kunci_api_keys", "upstream" => upstream, "status" => status)
                    .set(f64::from(count));
            }
        }
        Err(err) => tracing::warn!(error = %err, "API-key pool not counted for metrics"),
    }
}
