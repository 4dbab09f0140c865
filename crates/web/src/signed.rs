//! Signed service requests (SPEC §6): the third way to authenticate, beside cookies and bearer
//! tokens. A request with `X-Kunci-Signature` is judged by its signature alone — its cookies
//! and any `Authorization` header grant nothing — on every route behind the authentication
//! middleware, with the client's scopes. The checks and their order are the domain's
//! (`clients.rs`: headers, ±300 s, signature, nonce last); this file reads the request and
//! turns a verified client into a [`Principal`].
//!
//! The body is read (at most [`BODY_LIMIT`]) to check its digest and handed on unchanged. On
//! `/auth/verify` the proxy asks about another request: its method and URI come from
//! `X-Forwarded-Method` and `X-Forwarded-Uri`, and its body never reaches kunci, so only a
//! request signed over an empty body passes there (docs/signed-requests.md).

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kunci_domain::clients::Signature;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::principal::{Principal, RequestKind, Via};
use crate::state::AppState;

/// The header of a signed service request's signature.
pub(crate) const SIGNATURE: &str = "x-kunci-signature";

/// The largest body a signed request may carry.
pub const BODY_LIMIT: usize = 1024 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        // Exactly one: a repeated header is ambiguous, and ambiguity is refused.
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// Whether the request is signed, or tries to be: any of the four headers makes it one, and a
/// request that carries some but not all is a bad signature, not a cookie request.
pub(crate) fn is_signed(headers: &HeaderMap) -> bool {
    [
        "x-kunci-client",
        "x-kunci-timestamp",
        "x-kunci-nonce",
        SIGNATURE,
    ]
    .iter()
    .any(|name| headers.contains_key(*name))
}

/// The method and `path?query` the signature covers: the request's own, or on `/auth/verify`
/// the one the proxy is asking about.
fn signed_target(parts: &Parts) -> (String, String) {
    let own = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
    if parts.uri.path() != "/auth/verify" {
        return (parts.method.as_str().to_owned(), own);
    }
    let method = header(&parts.headers, "x-forwarded-method").unwrap_or("GET");
    let uri = header(&parts.headers, "x-forwarded-uri").unwrap_or("/");
    (method.trim().to_ascii_uppercase(), uri.trim().to_owned())
}

/// Verifies a signed request and hands it on with the client as its [`Principal`].
pub(crate) async fn authenticate(state: &AppState, request: Request, next: Next) -> Response {
    if RequestKind::of(&request) == RequestKind::Page {
        // Pages are for browsers; a signature authenticates API calls.
        return ApiError::Unauthenticated.into_response();
    }
    let ip = crate::net::client_address(&request, &state.settings().trusted_proxies);
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let (method, target) = signed_target(&parts);
    let signed_body: &[u8] = if parts.uri.path() == "/auth/verify" {
        &[]
    } else {
        &bytes
    };
    let headers = Signature {
        client: header(&parts.headers, "x-kunci-client"),
        timestamp: header(&parts.headers, "x-kunci-timestamp"),
        nonce: header(&parts.headers, "x-kunci-nonce"),
        signature: header(&parts.headers, SIGNATURE),
    };
    let verified = state
        .clients()
        .verify(&method, &target, headers, signed_body)
        .await;
    let client = match verified {
        Ok(client) => client,
        Err(err) => {
            let error = ApiError::from(err);
            tracing::info!(error = error.code(), "signed request refused");
            return error.into_response();
        }
    };
    parts.extensions.insert(Principal {
        sub: Some(format!("client:{}", client.name)),
        username: Some(client.name.clone()),
        scopes: client.request_scopes(),
        kid: client.name.clone(),
        via: Via::Signature {
            client: client.name,
        },
        ip,
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `POST /api/v1/service/ping`: who signed the request, and the size of the body it signed —
/// the check that a client signs bodies the way kunci reads them (`GET /api/v1/me` has none).
#[utoipa::path(
    post,
    path = "/api/v1/service/ping",
    tag = "service",
    summary = "Echo of a signed request: client and body size",
    responses(
        (status = 200, description = "{ok, client, bytes}"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 413, response = inline(crate::error::problems::TooLarge)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("signature" = []))
)]
pub(crate) async fn ping(who: Principal, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let Via::Signature { client } = &who.via else {
        return Err(ApiError::Unauthenticated);
    };
    Ok(Json(
        json!({ "ok": true, "client": client, "bytes": body.len() }),
    ))
}
