//! The admin JSON API of the key pool (SPEC §8, scope admin): `/api/v1/admin/api-keys` to
//! list, add, change, delete and test keys, and the usage leaderboard. Keys are shown masked
//! only; every change is audited by the pool, with the administrator as the actor.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kunci_crypto::SecretString;
use kunci_domain::apikeys::{ApiKey, KeyChange, KeyStatus};
use kunci_domain::audit::Actor;
use kunci_domain::ratelimit::{Decision, Rate};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/admin/stats/leaderboard`: the accounts and keys with the most use.
#[utoipa::path(
    get,
    path = "/api/v1/admin/stats/leaderboard",
    tag = "admin",
    summary = "Accounts and keys with the most use",
    responses(
        (status = 200, description = "{accounts, keys}, keys masked"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn leaderboard(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let standings = state.leaderboard().standings(10).await?;
    let accounts: Vec<Value> = standings
        .accounts
        .iter()
        .map(|top| {
            json!({
                "sub": top.line.account_id,
                "username": top.username,
                "upstream": top.line.upstream,
                "calls": top.line.calls,
                "last_call": top.line.last_call,
            })
        })
        .collect();
    let keys: Vec<Value> = standings
        .keys
        .iter()
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

/// The administrator (or admin client) making a change, with what verified it.
fn actor(who: &Principal) -> Actor {
    who.actor()
}

/// `GET /api/v1/admin/api-keys`
#[utoipa::path(
    get,
    path = "/api/v1/admin/api-keys",
    tag = "admin",
    summary = "The API-key pool, masked",
    responses(
        (status = 200, description = "{keys}"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = state.pool().list(None).await?;
    Ok(Json(
        json!({ "keys": keys.iter().map(shown).collect::<Vec<_>>() }),
    ))
}

/// A key for the pool. The key is validated against the upstream's format and never returned.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct KeyCreate {
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
    request_body(content = KeyCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "the key, masked"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 409, response = inline(crate::error::problems::DuplicateKey)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Ok(new) = serde_json::from_slice::<KeyCreate>(&body) else {
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
        .await?;
    if let Some(budget) = new.daily_budget {
        let change = KeyChange {
            daily_budget: Some(Some(budget)),
            ..KeyChange::default()
        };
        created = state
            .pool()
            .change(&actor(&who), &created.id, &change)
            .await?;
    }
    Ok((StatusCode::CREATED, Json(shown(&created))).into_response())
}

/// What an administrator may change; `null` clears `quota_group` and `daily_budget`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyUpdate {
    /// `active` or `disabled`.
    status: Option<String>,
    priority: Option<i64>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    quota_group: Option<Option<String>>,
    #[serde(default, with = "double_option_number")]
    #[schema(value_type = Option<i64>)]
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
    request_body(content = KeyUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "the key, masked"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Ok(patch) = serde_json::from_slice::<KeyUpdate>(&body) else {
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
    let key = state.pool().change(&actor(&who), &id, &change).await?;
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
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pool().remove(&actor(&who), &id).await?;
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
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 429, response = inline(crate::error::problems::Limited)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&who);
    may_test(&state, actor.as_str())
        .await
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let test = state
        .upstreams()
        .test_key(&actor, &id)
        .await
        .map_err(|err| ApiError::upstream(err, state.clock().now_unix()))?;
    Ok(Json(json!({
        "outcome": test.outcome,
        "upstream_status": test.status,
        "summary": test.summary,
        "key": shown(&test.key),
    })))
}
