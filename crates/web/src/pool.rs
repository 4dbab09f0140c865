//! The API-key pool on the web: `GET /api/v1/search` (the default search upstream, cached) and
//! the admin JSON API `/api/v1/admin/api-keys` (scope admin). Keys are shown masked only.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kunci_crypto::SecretString;
use kunci_domain::apikeys::{ApiKey, KeyChange, KeyStatus, PoolError};
use kunci_domain::ratelimit::{Decision, Rate};
use kunci_domain::session::Scope;
use kunci_domain::upstream::{SearchQuery, UpstreamError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

fn seconds_until(state: &AppState, at: i64) -> i64 {
    (at - state.clock().now_unix()).max(1)
}

fn upstream_error(state: &AppState, err: UpstreamError) -> ApiError {
    match err {
        UpstreamError::Unknown | UpstreamError::UnknownKey => ApiError::NotFound,
        UpstreamError::BadPath => {
            ApiError::InvalidRequest("the path may not leave the upstream's base")
        }
        UpstreamError::NotTestable => ApiError::InvalidRequest(
            "this upstream has no test request: set `test_path` in its configuration",
        ),
        UpstreamError::NoKey { retry_after } => ApiError::NoApiKeyAvailable {
            retry_after: retry_after.map(|at| seconds_until(state, at)),
        },
        UpstreamError::Config(why) => {
            tracing::error!(%why, "the upstream refused the request: check its configuration");
            ApiError::UpstreamConfigError
        }
        UpstreamError::Throttled { retry_after } => ApiError::UpstreamThrottled {
            retry_after: seconds_until(state, retry_after),
        },
        UpstreamError::Unavailable => ApiError::UpstreamUnavailable,
        UpstreamError::Store => ApiError::StoreUnavailable,
    }
}

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
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 429, response = inline(crate::openapi::Limited)),
        (status = 502, response = inline(crate::openapi::UpstreamFailed)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    if who.sub.is_none() {
        return Err(ApiError::Unauthenticated);
    }
    if !who.has(Scope::User) {
        return Err(ApiError::InsufficientScope);
    }
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
        .map_err(|err| upstream_error(&state, err))?;
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
    Ok(response)
}

/// Counts a served call for the leaderboard; a failure to count never fails the call.
async fn count_use(state: &AppState, who: &Principal, upstream: &str) {
    if let Some(sub) = who.sub.as_deref()
        && let Err(err) = state
            .usage()
            .count(sub, upstream, state.clock().now_unix())
            .await
    {
        tracing::warn!(error = %err, "usage not counted");
    }
}

/// `GET /api/v1/admin/stats/leaderboard`: the accounts and keys with the most use.
#[utoipa::path(
    get,
    path = "/api/v1/admin/stats/leaderboard",
    tag = "admin",
    summary = "Accounts and keys with the most use",
    responses(
        (status = 200, description = "{accounts, keys}, keys masked"),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn leaderboard(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let unavailable = |err: kunci_domain::store::StoreError| {
        tracing::error!(error = %err, "usage store unavailable");
        ApiError::StoreUnavailable
    };
    let top = state.usage().top(10).await.map_err(unavailable)?;
    let mut accounts = Vec::new();
    for line in &top {
        let name = state
            .accounts()
            .store()
            .by_id(&line.account_id)
            .await
            .map_err(unavailable)?
            .map(|a| a.username);
        accounts.push(json!({
            "sub": line.account_id,
            "username": name,
            "upstream": line.upstream,
            "calls": line.calls,
            "last_call": line.last_call,
        }));
    }
    let mut keys = state.pool().store().list(None).await.map_err(unavailable)?;
    keys.sort_by(|a, b| b.usage_count.cmp(&a.usage_count).then(a.id.cmp(&b.id)));
    let keys: Vec<Value> = keys
        .iter()
        .take(10)
        .map(|k| {
            json!({
                "id": k.id,
                "upstream": k.upstream,
                "masked": k.masked,
                "usage_count": k.usage_count,
                "last_used": k.last_used,
            })
        })
        .collect();
    Ok(Json(json!({ "accounts": accounts, "keys": keys })))
}

/// A key as the API shows it: masked, never the key.
fn shown(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "upstream": key.upstream,
        "masked": key.masked,
        "status": key.status.as_str(),
        "priority": key.priority,
        "quota_group": key.quota_group,
        "usage_count": key.usage_count,
        "last_used": key.last_used,
        "created_at": key.created_at,
        "quota_exceeded_at": key.quota_exceeded_at,
        "available_at": key.available_at,
        "last_error": key.last_error,
        "daily_budget": key.daily_budget,
        "used_today": key.used_today,
    })
}

fn pool_error(err: PoolError) -> ApiError {
    match err {
        PoolError::BadFormat { expected, .. } => ApiError::InvalidApiKey(expected),
        PoolError::Duplicate(_) => ApiError::DuplicateApiKey,
        PoolError::Unknown(_) => ApiError::NotFound,
        PoolError::BadStatus => ApiError::InvalidRequest("`status` is `active` or `disabled`"),
        PoolError::Store(err) => {
            tracing::error!(error = %err, "API-key store unavailable");
            ApiError::StoreUnavailable
        }
        PoolError::Audit(err) => {
            tracing::error!(error = %err, "API-key change refused: it cannot be audited");
            ApiError::StoreUnavailable
        }
        other => ApiError::Internal(Box::new(other)),
    }
}

pub(crate) fn actor(who: &Principal) -> String {
    format!(
        "user:{}",
        who.username
            .as_deref()
            .or(who.sub.as_deref())
            .unwrap_or("?")
    )
}

/// `GET /api/v1/admin/api-keys`
#[utoipa::path(
    get,
    path = "/api/v1/admin/api-keys",
    tag = "admin",
    summary = "The API-key pool, masked",
    responses(
        (status = 200, description = "{keys}"),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = state
        .pool()
        .store()
        .list(None)
        .await
        .map_err(|e| pool_error(e.into()))?;
    Ok(Json(
        json!({ "keys": keys.iter().map(shown).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
struct NewKey {
    key: String,
    upstream: String,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    quota_group: Option<String>,
    #[serde(default)]
    daily_budget: Option<i64>,
}

/// `POST /api/v1/admin/api-keys` `{"key","upstream","priority","quota_group"}`
#[utoipa::path(
    post,
    path = "/api/v1/admin/api-keys",
    tag = "admin",
    summary = "Add a key to an upstream's pool",
    request_body(content = crate::openapi::KeyCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "the key, masked"),
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 409, response = inline(crate::openapi::DuplicateKey)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Ok(new) = serde_json::from_slice::<NewKey>(&body) else {
        return Err(ApiError::InvalidRequest(
            "expected {\"key\": …, \"upstream\": …, \"priority\": …, \"quota_group\": …}",
        ));
    };
    let key = SecretString::new(new.key);
    let format = state
        .upstreams()
        .key_format(&new.upstream)
        .ok_or(ApiError::InvalidRequest(
            "no upstream of that name is configured",
        ))?;
    let group = new.quota_group.filter(|g| !g.trim().is_empty());
    if new.daily_budget.is_some_and(|b| b < 1) {
        return Err(ApiError::InvalidRequest("`daily_budget` is at least 1"));
    }
    let mut created = state
        .pool()
        .add(
            &actor(&who),
            &new.upstream,
            &key,
            format.as_ref(),
            new.priority,
            group,
        )
        .await
        .map_err(pool_error)?;
    if let Some(budget) = new.daily_budget {
        let change = KeyChange {
            daily_budget: Some(Some(budget)),
            ..KeyChange::default()
        };
        created = state
            .pool()
            .change(&actor(&who), &created.id, &change)
            .await
            .map_err(pool_error)?;
    }
    Ok((StatusCode::CREATED, Json(shown(&created))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    status: Option<String>,
    priority: Option<i64>,
    #[serde(default, with = "double_option")]
    quota_group: Option<Option<String>>,
    #[serde(default, with = "double_option_number")]
    daily_budget: Option<Option<i64>>,
}

mod double_option_number {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        Option::<i64>::deserialize(d).map(Some)
    }
}

/// `null` clears, absent keeps.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PATCH /api/v1/admin/api-keys/{id}` `{"status","priority","quota_group"}`
#[utoipa::path(
    patch,
    path = "/api/v1/admin/api-keys/{id}",
    tag = "admin",
    summary = "Enable, disable, re-prioritise a key",
    params(("id" = String, Path, description = "the key id")),
    request_body(content = crate::openapi::KeyUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "the key, masked"),
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 404, response = inline(crate::openapi::NotFound)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Ok(patch) = serde_json::from_slice::<Patch>(&body) else {
        return Err(ApiError::InvalidRequest(
            "expected {\"status\": …, \"priority\": …, \"quota_group\": …}",
        ));
    };
    let status = match patch.status.as_deref() {
        None => None,
        Some(text) => Some(KeyStatus::parse(text).ok_or(ApiError::InvalidRequest(
            "`status` is `active` or `disabled`",
        ))?),
    };
    let change = KeyChange {
        status,
        priority: patch.priority,
        quota_group: patch.quota_group,
        daily_budget: patch.daily_budget,
    };
    let key = state
        .pool()
        .change(&actor(&who), &id, &change)
        .await
        .map_err(pool_error)?;
    Ok(Json(shown(&key)))
}

/// `DELETE /api/v1/admin/api-keys/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/admin/api-keys/{id}",
    tag = "admin",
    summary = "Delete a key",
    params(("id" = String, Path, description = "the key id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 404, response = inline(crate::openapi::NotFound)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .pool()
        .remove(&actor(&who), &id)
        .await
        .map_err(pool_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Key tests an administrator may run: each spends a real call of the key's quota.
fn key_tests() -> Rate {
    Rate::per(5, 60_000)
}

/// Whether `actor` may test a key now; else the seconds to wait.
pub(crate) async fn may_test(state: &AppState, actor: &str) -> Result<(), i64> {
    match state
        .limiter()
        .check(&format!("keytest:{actor}"), key_tests())
        .await
    {
        Decision::Allow => Ok(()),
        Decision::Deny { retry_after_ms } => Err((retry_after_ms + 999) / 1000),
    }
}

/// `POST /api/v1/admin/api-keys/{id}/test`: one real call with the key (it spends quota; at
/// most five a minute per administrator). The verdict is applied to the key as for any call.
#[utoipa::path(
    post,
    path = "/api/v1/admin/api-keys/{id}/test",
    tag = "admin",
    summary = "One real call with the key (spends quota; five a minute)",
    params(("id" = String, Path, description = "the key id")),
    responses(
        (status = 200, description = "{outcome, upstream_status, summary, key}"),
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 404, response = inline(crate::openapi::NotFound)),
        (status = 429, response = inline(crate::openapi::Limited)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&who);
    may_test(&state, &actor)
        .await
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let test = state
        .upstreams()
        .test_key(&actor, &id)
        .await
        .map_err(|err| upstream_error(&state, err))?;
    Ok(Json(json!({
        "outcome": test.outcome,
        "upstream_status": test.status,
        "summary": test.summary,
        "key": shown(&test.key),
    })))
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
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 404, response = inline(crate::openapi::NotFound)),
        (status = 429, response = inline(crate::openapi::Limited)),
        (status = 502, response = inline(crate::openapi::UpstreamFailed)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn proxy(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((upstream, path)): Path<(String, String)>,
    method: Method,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if who.sub.is_none() {
        return Err(ApiError::Unauthenticated);
    }
    if !who.has(Scope::User) {
        return Err(ApiError::InsufficientScope);
    }
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
        .map_err(|err| upstream_error(&state, err))?;
    count_use(&state, &who, &upstream).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, answer.body).into_response();
    if let Some(value) = answer
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    Ok(response)
}
