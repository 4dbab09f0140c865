//! `GET /api/v1/session`: the caller's session, and the way a page keeps it fresh (any call
//! refreshes the token cookie; an ended session answers 401 `session_expired`).

use axum::Extension;
use axum::Json;
use serde_json::json;

use axum::response::{IntoResponse, Response};

use crate::auth::AuthContext;
use crate::error::ApiError;

#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "account",
    summary = "The browser session: state, expiry, CSRF token",
    responses(
        (status = 200, description = "the session"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []))
)]
pub(crate) async fn session(auth: Option<Extension<AuthContext>>) -> Response {
    // A bearer request has no session.
    let Some(Extension(auth)) = auth else {
        return ApiError::Unauthenticated.into_response();
    };
    let s = &auth.session;
    Json(json!({
        "uid": s.uid,
        "sub": s.sub,
        "scopes": s.scopes,
        "idle_expires_at": s.expires_at,
        "absolute_expires_at": s.absolute_expires_at,
        // For scripts that cannot read the `kunci_csrf` cookie (another allowed origin).
        "csrf_token": auth.csrf_token,
    }))
    .into_response()
}
