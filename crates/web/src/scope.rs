//! Scope requirements per route: the equivalent of `@require_scope("admin")`.
//!
//! ```ignore
//! Router::new()
//!     .route("/reports", get(reports))
//!     .route_layer(middleware::from_fn_with_state(Scope::Admin, kunci_web::require_scope))
//! ```
//!
//! A page without the scope sends a visitor who is not logged in to `/login?next=…` (logging
//! in may give it) and a logged-in user to `/forbidden`; an API call gets 403
//! `insufficient_scope`. Routes must sit behind the session middleware (kunci's app group and
//! the site's routes do), which runs first.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kunci_domain::session::Scope;

use crate::auth::{Principal, RequestKind, login_url, see_other};
use crate::error::ApiError;

/// Lets through only requests whose caller (session or bearer token) has the scope given as
/// state.
pub async fn require_scope(State(scope): State<Scope>, request: Request, next: Next) -> Response {
    let kind = RequestKind::of(&request);
    let who = request.extensions().get::<Principal>();
    let allowed = who.map(|who| who.has(scope));
    let anonymous = who.is_some_and(|who| who.sub.is_none());
    match (allowed, kind) {
        (Some(true), _) => next.run(request).await,
        (None, _) => ApiError::Unauthenticated.into_response(),
        (Some(false), RequestKind::Page) if anonymous => see_other(&login_url(request.uri())),
        (Some(false), RequestKind::Page) => see_other("/forbidden"),
        (Some(false), RequestKind::Api) => ApiError::InsufficientScope.into_response(),
    }
}
