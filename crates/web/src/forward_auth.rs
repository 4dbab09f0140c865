//! `GET /auth/verify[?scope=…]`: forward-auth for a proxy in front of another application
//! (nginx `auth_request`, Traefik `ForwardAuth`). The proxy asks with the visitor's own headers;
//! the session middleware has already validated the cookies (or the bearer token) and refreshed
//! the token cookie when due (its `Set-Cookie` rides on this answer for the proxy to pass on).
//!
//! - 200, with `X-Kunci-User`, `X-Kunci-Sub` and `X-Kunci-Scopes` for the application behind;
//! - 401 without a logged-in session or valid token (never a redirect: the proxy decides where
//!   to send the visitor);
//! - 403 `insufficient_scope` when `?scope=` names a scope the session lacks;
//! - 403 `csrf_failed` when the original request (`X-Forwarded-Method`, set by the proxy) is
//!   unsafe and comes from another site, or carries an `X-CSRF-Token` that is not the
//!   session's. The body of the original request never reaches kunci, so a form's
//!   `csrf_token` field cannot be checked here: see docs/forward-auth.md.

use std::collections::BTreeMap;

use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kunci_crypto::csrf;
use kunci_domain::session::Scope;

use crate::auth::{AuthContext, Principal, Via};
use crate::error::ApiError;
use crate::state::AppState;

/// The method of the request the proxy is deciding on.
fn original_method(headers: &HeaderMap) -> Option<Method> {
    headers
        .get("x-forwarded-method")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Method::from_bytes(v.trim().as_bytes()).ok())
}

pub(crate) async fn verify(
    State(state): State<AppState>,
    who: Principal,
    context: Option<Extension<AuthContext>>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(sub) = who.sub.clone() else {
        return Err(ApiError::Unauthenticated);
    };
    if let Some(wanted) = query.get("scope") {
        let scope: Scope = wanted
            .parse()
            .map_err(|()| ApiError::InvalidRequest("`scope` is basic, user or admin"))?;
        if !who.has(scope) {
            return Err(ApiError::InsufficientScope);
        }
    }
    if who.via == Via::Cookie
        && original_method(&headers).is_some_and(|m| crate::csrf::is_unsafe(&m))
    {
        if crate::csrf::is_forged(&headers, state.settings()) {
            tracing::info!("forward-auth: cross-site unsafe request refused");
            return Err(ApiError::CsrfFailed);
        }
        if let (Some(token), Some(Extension(context))) = (
            headers.get("x-csrf-token").and_then(|v| v.to_str().ok()),
            context.as_ref(),
        ) && !csrf::verify(&state.keys().ring(), &context.session.csrf, token)
        {
            return Err(ApiError::CsrfFailed);
        }
    }
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    let scopes: Vec<&str> = who.scopes.iter().map(|s| s.as_str()).collect();
    for (name, value) in [
        ("x-kunci-sub", sub.as_str()),
        ("x-kunci-user", who.username.as_deref().unwrap_or_default()),
        ("x-kunci-scopes", &scopes.join(" ")),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            out.insert(name, value);
        }
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
