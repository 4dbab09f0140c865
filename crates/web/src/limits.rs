//! Tier-1 rate limits per client address (SPEC §6): the login endpoints (a few per minute) and
//! the API (many per second, with bursts), keyed by the real client address behind trusted
//! proxies. Over the limit: 429 `rate_limited` with `Retry-After`.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kunci_domain::ratelimit::{Decision, Rate};

pub use crate::settings::Limits;

use crate::error::ApiError;
use crate::net::client_ip_of;
use crate::state::AppState;

/// A sign-in form over its per-address limit: the form says so (`login_form`), after
/// `retry_after` seconds it may be sent again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FormLimited {
    pub(crate) retry_after: i64,
}

/// Which limit a request falls under, and its bucket name.
fn class(method: &Method, path: &str) -> Option<&'static str> {
    let login = matches!(
        path,
        "/login" | "/api/v1/auth/login_web" | "/api/v1/auth/login_mobile"
    );
    if login && *method == Method::POST {
        Some("login")
    } else if path == "/csp-report" {
        Some("report")
    } else if path.starts_with("/api/") {
        Some("api")
    } else {
        None
    }
}

pub(crate) async fn rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(bucket) = class(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Some(ip) = client_ip_of(&parts, &state.settings().trusted_proxies) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let limits = state.settings().limits;
    let rate = match bucket {
        "login" => limits.login,
        // Violation reports: a page load can send a few; a flood is noise.
        "report" => Rate::per(30, 60_000),
        _ => limits.api,
    };
    match state.limiter().check(&format!("{bucket}:{ip}"), rate).await {
        Decision::Allow => next.run(Request::from_parts(parts, body)).await,
        Decision::Deny { retry_after_ms } => {
            let retry_after = refused(bucket, retry_after_ms);
            if parts.uri.path() == "/login" {
                // The sign-in form answers the refusal itself, as the form with a message: the
                // request goes on marked, and the handler checks no password.
                let mut request = Request::from_parts(parts, body);
                request.extensions_mut().insert(FormLimited { retry_after });
                return next.run(request).await;
            }
            ApiError::RateLimited { retry_after }.into_response()
        }
    }
}

/// Logs and counts a refusal of `bucket`; the seconds to send in `Retry-After`.
pub(crate) fn refused(bucket: &'static str, retry_after_ms: i64) -> i64 {
    tracing::info!(bucket, "rate limited");
    metrics::counter!("kunci_rate_limited_total", "bucket" => bucket).increment(1);
    (retry_after_ms + 999) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified() {
        assert_eq!(
            class(&Method::POST, "/api/v1/auth/login_web"),
            Some("login")
        );
        assert_eq!(class(&Method::POST, "/login"), Some("login"));
        assert_eq!(class(&Method::GET, "/login"), None);
        assert_eq!(class(&Method::GET, "/api/v1/me"), Some("api"));
        assert_eq!(class(&Method::POST, "/api/v1/auth/refresh"), Some("api"));
        assert_eq!(class(&Method::GET, "/"), None);
        assert_eq!(class(&Method::POST, "/csp-report"), Some("report"));
    }
}
