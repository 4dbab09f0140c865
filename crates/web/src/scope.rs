//! Scope requirements per route: the equivalent of `@require_scope("admin")`.
//!
//! ```ignore
//! Router::new()
//!     .route("/reports", get(reports))
//!     .route_layer(middleware::from_fn_with_state(Scope::Admin, kunci_web::require_scope))
//! ```
//!
//! A page without the scope redirects to `/forbidden`; an API call gets 403
//! `insufficient_scope`. Routes must sit behind the session middleware (kunci's app group and
//! the site's routes do), which runs first.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kunci_domain::session::Scope;

use crate::auth::{Principal, RequestKind, see_other};
use crate::error::ApiError;

/// Lets through only requests whose caller (session or bearer token) has the scope given as
/// state.
pub async fn require_scope(State(scope): State<Scope>, request: Request, next: Next) -> Response {
    let kind = RequestKind::of(&request);
    let allowed = request
        .extensions()
        .get::<Principal>()
        .map(|who| who.has(scope));
    match (allowed, kind) {
        (Some(true), _) => next.run(request).await,
        (None, _) => ApiError::Unauthenticated.into_response(),
        (Some(false), RequestKind::Page) => see_other("/forbidden"),
        (Some(false), RequestKind::Api) => ApiError::InsufficientScope.into_response(),
    }
}
