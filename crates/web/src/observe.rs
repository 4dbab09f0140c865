//! Request ids, the request span, and the request counters and latency histogram.
//!
//! Every request gets a fresh id (UUID v4) in `X-Request-Id`, in its tracing span and in the
//! response. An id sent by the client is replaced, not trusted: it would let anyone forge
//! correlations in the log. Only the path is logged, never the query string, which may carry
//! search terms or tokens.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub(crate) async fn request_span(
    State(state): State<crate::state::AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = state.clock().now();
    // The route template (`/api/v1/admin/api-keys/{id}`), never the path: bounded labels.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = crate::metrics::method_label(request.method());
    let id = uuid::Uuid::new_v4().to_string();
    let header = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("-"));
    request.headers_mut().insert(REQUEST_ID, header.clone());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("status", status);
    // The overview's requests per hour: a count in memory, written once a second.
    state.activity().count(
        if status >= 500 {
            "requests.failed"
        } else {
            "requests"
        },
        state.clock().now_unix(),
    );
    let seconds = (state.clock().now() - started).as_seconds_f64().max(0.0);
    metrics::histogram!("kunci_http_request_duration_seconds", "route" => route.clone(), "method" => method)
        .record(seconds);
    metrics::counter!("kunci_http_requests_total", "route" => route, "method" => method, "status" => status.to_string())
        .increment(1);
    span.in_scope(|| tracing::debug!("answered"));
    response.headers_mut().insert(REQUEST_ID, header);
    response
}
