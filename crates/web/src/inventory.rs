//! The session inventory (SPEC §5): an account's browser sessions and app logins, and the way
//! to end one or all of them — for the account itself (`/api/v1/me/sessions…`) and for admins
//! (`/api/v1/admin/accounts/{name}/sessions…`).
//!
//! Entries are named `s_<storage key>` (a browser session: the SHA-256 of its id, never the id
//! itself, which is a credential) and `a_<family id>` (an app's refresh-token family).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kunci_domain::accounts::Account;
use kunci_domain::audit::{Actor, AuditEvent};
use serde_json::{Value, json};

use crate::auth::{AuthContext, Principal, Via};
use crate::error::ApiError;
use crate::state::AppState;

/// Everything live of account `sub`; `current` marks the caller's own entry.
pub(crate) async fn inventory(
    state: &AppState,
    sub: &str,
    current: Option<&str>,
) -> Result<Value, ApiError> {
    let sessions = state.sessions().of_account(sub).await?;
    let families = state.refresh().families(sub).await?;
    let mut items: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let id = format!("s_{}", s.key);
            json!({
                "id": id,
                "kind": "browser",
                "created_at": s.created_at,
                "last_seen": s.last_seen,
                "expires_at": s.expires_at,
                "current": current == Some(id.as_str()),
            })
        })
        .collect();
    items.extend(families.iter().map(|f| {
        let id = format!("a_{}", f.id);
        json!({
            "id": id,
            "kind": "app",
            "client_id": f.client_id,
            "created_at": f.created_at,
            "last_seen": f.last_used_at,
            "expires_at": f.expires_at,
            "current": current == Some(id.as_str()),
        })
    }));
    Ok(json!({ "sessions": items }))
}

/// The caller's own entry id.
fn current_id(who: &Principal, auth: Option<&AuthContext>) -> Option<String> {
    match (&who.via, auth) {
        (Via::Bearer { family, .. }, _) => Some(format!("a_{family}")),
        (Via::Cookie, Some(auth)) => Some(format!("s_{}", auth.session.key)),
        (Via::Cookie, None) | (Via::Signature { .. }, _) => None,
    }
}

/// Ends entry `id` of account `sub`. False when the account has no such entry.
pub(crate) async fn end(state: &AppState, sub: &str, id: &str) -> Result<bool, ApiError> {
    if let Some(key) = id.strip_prefix("s_") {
        return Ok(state.sessions().destroy_key_of(sub, key).await?);
    }
    if let Some(family) = id.strip_prefix("a_") {
        let owned = state
            .refresh()
            .families(sub)
            .await?
            .iter()
            .any(|f| f.id == family);
        if owned {
            state.revocations().note_family(family);
            state.refresh().revoke(family).await?;
        }
        return Ok(owned);
    }
    Ok(false)
}

/// Ends every browser session of `sub` but the one stored under `keep`, and every app login:
/// "this wasn't me", and what a password change does. Returns how many ended.
pub(crate) async fn end_others(state: &AppState, sub: &str, keep: &str) -> Result<u64, ApiError> {
    let mut ended = 0;
    for session in state.sessions().of_account(sub).await? {
        if session.key != keep && state.sessions().destroy_key_of(sub, &session.key).await? {
            ended += 1;
        }
    }
    ended += state.refresh().revoke_account(sub).await?;
    if let Err(err) = state.revocations().reload().await {
        tracing::warn!(error = %err, "revocation lists not reloaded; the periodic reload will");
    }
    Ok(ended)
}

/// Ends every browser session and app login of `sub`.
pub(crate) async fn end_everything(state: &AppState, sub: &str) -> Result<Value, ApiError> {
    let sessions = state.sessions().destroy_account(sub).await?;
    let apps = state.refresh().revoke_account(sub).await?;
    if let Err(err) = state.revocations().reload().await {
        tracing::warn!(error = %err, "revocation lists not reloaded; the periodic reload will");
    }
    Ok(json!({ "ok": true, "sessions_ended": sessions, "apps_ended": apps }))
}

/// The caller's own account: a service client has none (its sessions are nobody's).
fn account_of(who: &Principal) -> Result<&str, ApiError> {
    match (&who.via, who.account()) {
        (Via::Signature { .. }, _) => Err(ApiError::InsufficientScope),
        (_, Some(sub)) => Ok(sub),
        (_, None) => Err(ApiError::Unauthenticated),
    }
}

/// `GET /api/v1/me/sessions`
#[utoipa::path(
    get,
    path = "/api/v1/me/sessions",
    tag = "account",
    summary = "My sessions and app logins",
    responses(
        (status = 200, description = "the inventory"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn mine(
    State(state): State<AppState>,
    who: Principal,
    auth: Option<Extension<AuthContext>>,
) -> Result<Json<Value>, ApiError> {
    let sub = account_of(&who)?;
    let current = current_id(&who, auth.as_ref().map(|Extension(a)| a));
    Ok(Json(inventory(&state, sub, current.as_deref()).await?))
}

/// `DELETE /api/v1/me/sessions/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/me/sessions/{id}",
    tag = "account",
    summary = "End one of my sessions",
    params(("id" = String, Path, description = "the session or app-login id from the inventory")),
    responses(
        (status = 204, description = "ended"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn end_mine(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sub = account_of(&who)?;
    if end(&state, sub, &id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /api/v1/me/sessions/revoke_all`: "this wasn't me".
#[utoipa::path(
    post,
    path = "/api/v1/me/sessions/revoke_all",
    tag = "account",
    summary = "End all my other sessions",
    responses(
        (status = 200, description = "how many ended"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn end_all_mine(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Value>, ApiError> {
    let sub = account_of(&who)?.to_owned();
    let actor = Actor::account(&sub)
        .verified_by(who.kid.clone())
        .from_address(who.ip);
    let event = AuditEvent::by(&actor, "account.sessions_revoked", sub.clone());
    state.audit().record(event).await?;
    Ok(Json(end_everything(&state, &sub).await?))
}

/// The account an admin route names.
async fn named(state: &AppState, name: &str) -> Result<Account, ApiError> {
    let account = state.accounts().by_name(name).await?;
    account.ok_or(ApiError::NotFound)
}

/// `GET /api/v1/admin/accounts/{name}/sessions`
#[utoipa::path(
    get,
    path = "/api/v1/admin/accounts/{name}/sessions",
    tag = "admin",
    summary = "An account's sessions and app logins",
    params(("name" = String, Path, description = "the account name")),
    responses(
        (status = 200, description = "the inventory"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn of_account(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = named(&state, &name).await?;
    Ok(Json(inventory(&state, &account.id, None).await?))
}

/// `DELETE /api/v1/admin/accounts/{name}/sessions/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/admin/accounts/{name}/sessions/{id}",
    tag = "admin",
    summary = "End one session of an account",
    params(("name" = String, Path, description = "the account name"), ("id" = String, Path, description = "the session id")),
    responses(
        (status = 204, description = "ended"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn end_of_account(
    State(state): State<AppState>,
    who: Principal,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let account = named(&state, &name).await?;
    if end_as_admin(&state, &who, &account, &id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

/// An administrator ends entry `id` of `account` (`admin.session.revoked`): the API's and the
/// console's one way. False when the account has no such entry.
pub(crate) async fn end_as_admin(
    state: &AppState,
    who: &Principal,
    account: &Account,
    id: &str,
) -> Result<bool, ApiError> {
    let event = AuditEvent::by(
        &who.actor(),
        "admin.session.revoked",
        format!("{} {id}", account.username),
    );
    state.audit().record(event).await?;
    end(state, &account.id, id).await
}

/// An administrator ends every session and app login of `account` (`admin.sessions.revoked`).
pub(crate) async fn end_all_as_admin(
    state: &AppState,
    who: &Principal,
    account: &Account,
) -> Result<Value, ApiError> {
    let event = AuditEvent::by(
        &who.actor(),
        "admin.sessions.revoked",
        account.username.clone(),
    );
    state.audit().record(event).await?;
    end_everything(state, &account.id).await
}

/// `POST /api/v1/admin/accounts/{name}/sessions/revoke_all`
#[utoipa::path(
    post,
    path = "/api/v1/admin/accounts/{name}/sessions/revoke_all",
    tag = "admin",
    summary = "End every session of an account",
    params(("name" = String, Path, description = "the account name")),
    responses(
        (status = 200, description = "how many ended"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 404, response = inline(crate::error::problems::NotFound)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn end_all_of_account(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = named(&state, &name).await?;
    Ok(Json(end_all_as_admin(&state, &who, &account).await?))
}
