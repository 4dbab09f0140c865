//! Calls to third-party APIs through the key pool (SPEC §8): `GET /api/v1/search` (the default
//! search upstream, cached) and `/api/v1/proxy/{upstream}/…` (any `generic` upstream). The key
//! is added by kunci; the caller never sees it. Each served call counts for the leaderboard.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kunci_domain::session::Scope;
use kunci_domain::upstream::SearchQuery;

use crate::auth::Principal;
use crate::error::{ApiError, PassedThrough};
use crate::state::AppState;

fn number(
    params: &BTreeMap<String, String>,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Option<u32>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .map(Some)
            .ok_or(ApiError::InvalidRequest(
                "`start` is 1 to 91 and `num` 1 to 10",
            )),
    }
}

/// `GET /api/v1/search?q=…[&start=…][&num=…]` for logged-in users.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "pool",
    summary = "A search on the default search upstream, cached (X-Cache: hit|miss)",
    params(("q" = String, Query, description = "the query, 1 to 2048 characters"), ("start" = String, Query, description = "first result, 1 to 91"), ("num" = String, Query, description = "results, 1 to 10")),
    responses(
        (status = 200, description = "the upstream's JSON"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 429, response = inline(crate::error::problems::Limited)),
        (status = 502, response = inline(crate::error::problems::UpstreamFailed)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    who: Principal,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    may_call(&who, state.upstreams().search_scope())?;
    let q = params.get("q").map(|q| q.trim()).unwrap_or_default();
    if q.is_empty() || q.chars().count() > 2048 || q.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest("`q` is 1 to 2048 characters"));
    }
    let query = SearchQuery {
        q: q.to_owned(),
        start: number(&params, "start", 1..=91)?,
        num: number(&params, "num", 1..=10)?,
    };
    let answer = state
        .upstreams()
        .search(&query)
        .await
        .map_err(|err| ApiError::upstream(err, state.clock().now_unix()))?;
    count_use(&state, &who, "search").await;
    metrics::counter!("kunci_search_cache_total", "result" => if answer.cache_hit { "hit" } else { "miss" })
        .increment(1);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(value) = answer
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        "x-cache",
        HeaderValue::from_static(if answer.cache_hit { "hit" } else { "miss" }),
    );
    response.extensions_mut().insert(PassedThrough);
    Ok(response)
}

/// Whether `who` may call an upstream that asks for `needed` (`[upstream.<name>] scope`):
/// `basic` admits every bootstrapped browser; otherwise an anonymous caller is asked to log in
/// and a logged-in one without the scope is refused.
fn may_call(who: &Principal, needed: Scope) -> Result<(), ApiError> {
    if who.has(needed) {
        Ok(())
    } else if who.sub.is_none() {
        Err(ApiError::Unauthenticated)
    } else {
        Err(ApiError::InsufficientScope)
    }
}

/// Counts a served call for the leaderboard; a failure to count never fails the call.
async fn count_use(state: &AppState, who: &Principal, upstream: &str) {
    if let Some(sub) = who.sub.as_deref()
        && let Err(err) = state
            .leaderboard()
            .count(sub, upstream, state.clock().now_unix())
            .await
    {
        tracing::warn!(error = %err, "usage not counted");
    }
}

/// `/api/v1/proxy/{upstream}/{*path}`: any method, passed through to a `generic` upstream with a
/// key from its pool (logged-in users). The key is added by kunci; the client's own
/// `Authorization` never travels on.
#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/api/v1/proxy/{upstream}/{path}",
    tag = "pool",
    summary = "Passed through to a generic upstream with a pool key",
    params(("upstream" = String, Path, description = "a configured upstream name"), ("path" = String, Path, description = "the path below its base URL")),
    responses(
        (status = 200, description = "the upstream's answer, status and body as given"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 429, response = inline(crate::error::problems::Limited)),
        (status = 502, response = inline(crate::error::problems::UpstreamFailed)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn proxy(
    State(state): State<AppState>,
    who: Principal,
    Path((upstream, path)): Path<(String, String)>,
    method: Method,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    may_call(&who, state.upstreams().scope(&upstream))?;
    let body = (!body.is_empty()).then(|| {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        (content_type, body)
    });
    let request = kunci_domain::upstream::ProxyRequest {
        method: method.as_str().to_owned(),
        path,
        query,
        body,
    };
    let answer = state
        .upstreams()
        .proxy(&upstream, request)
        .await
        .map_err(|err| ApiError::upstream(err, state.clock().now_unix()))?;
    count_use(&state, &who, &upstream).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, answer.body).into_response();
    if let Some(value) = answer
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response.extensions_mut().insert(PassedThrough);
    Ok(response)
}
