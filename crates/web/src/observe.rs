//! Request ids and the request span.
//!
//! Every request gets a fresh id (UUID v4) in `X-Request-Id`, in its tracing span and in the
//! response. An id sent by the client is replaced, not trusted: it would let anyone forge
//! correlations in the log. Only the path is logged, never the query string, which may carry
//! search terms or tokens.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub(crate) async fn request_span(mut request: Request, next: Next) -> Response {
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
    span.record("status", response.status().as_u16());
    span.in_scope(|| tracing::debug!("answered"));
    response.headers_mut().insert(REQUEST_ID, header);
    response
}
