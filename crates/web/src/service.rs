//! Signed service requests (SPEC §6): the middleware that verifies them and the demo route.
//!
//! Routes under `/api/v1/service/` take no cookies: each request carries `X-Kunci-Client`,
//! `X-Kunci-Timestamp`, `X-Kunci-Nonce` and `X-Kunci-Signature` (see docs/signed-requests.md).
//! The body is read (at most [`BODY_LIMIT`]) to check its digest and handed on unchanged.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kunci_domain::clients::Signature;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// The largest body a signed request may carry.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Who signed the request, for handlers behind [`verify_signed`].
#[derive(Debug, Clone)]
pub struct ServiceCaller {
    pub client: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        // Exactly one: a repeated header is ambiguous, and ambiguity is refused.
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

pub(crate) async fn verify_signed(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
    let headers = Signature {
        client: header(&parts.headers, "x-kunci-client"),
        timestamp: header(&parts.headers, "x-kunci-timestamp"),
        nonce: header(&parts.headers, "x-kunci-nonce"),
        signature: header(&parts.headers, "x-kunci-signature"),
    };
    let verified = state
        .clients()
        .verify(parts.method.as_str(), &path_and_query, headers, &bytes)
        .await;
    match verified {
        Ok(client) => {
            parts.extensions.insert(ServiceCaller { client });
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(err) => {
            let error = ApiError::from(err);
            tracing::info!(error = error.code(), "signed request refused");
            error.into_response()
        }
    }
}

/// `POST /api/v1/service/ping`: answers who signed the request, and echoes the body's size.
#[utoipa::path(
    post,
    path = "/api/v1/service/ping",
    tag = "service",
    summary = "A signed service request (X-Kunci-Signature)",
    responses(
        (status = 200, description = "{ok, client, bytes}"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 413, response = inline(crate::error::problems::TooLarge)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("signature" = []))
)]
pub(crate) async fn ping(
    Extension(caller): Extension<ServiceCaller>,
    body: axum::body::Bytes,
) -> Json<Value> {
    Json(json!({ "ok": true, "client": caller.client, "bytes": body.len() }))
}
