//! The whole route table, in one place.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{method_not_allowed, not_found, panic_response};
use crate::state::AppState;
use crate::{headers, health, observe};

/// The largest request body any route accepts unless it sets its own limit.
const BODY_LIMIT: usize = 1024 * 1024;

/// Builds the application: kunci's routes, then `site`'s (the embedding site's own routes,
/// which get the same middleware). Layers run outermost first: request span, security
/// headers, panic catcher, then the route.
pub fn router(state: AppState, site: Router) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state.clone())
        .merge(site)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            state,
            headers::security_headers,
        ))
        .layer(middleware::from_fn(observe::request_span))
}
