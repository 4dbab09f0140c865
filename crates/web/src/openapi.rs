//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every `/api/v1` route, generated from
//! the `#[utoipa::path]` annotations on the handlers (a test checks no route is left out). The
//! request bodies below exist for the document only: the handlers parse their own.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// An error (RFC 9457 problem details). `error` is the stable code to branch on.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema for the document")]
pub(crate) struct Problem {
    /// `urn:kunci:error:<error>`
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    /// The error code, e.g. `invalid_credentials`, `rate_limited`, `no_api_key_available`.
    error: String,
    /// Seconds to wait, where the status says to come back (also in `Retry-After`).
    retry_after: Option<u64>,
}

/// The errors the routes share, each a problem+json answer with its codes.
macro_rules! problem_responses {
    ($($name:ident => $description:literal,)*) => {$(
        #[derive(utoipa::ToResponse)]
        #[response(description = $description, content_type = "application/problem+json")]
        #[allow(dead_code, reason = "a response for the document")]
        pub(crate) struct $name(Problem);
    )*};
}

problem_responses! {
    InvalidRequest => "invalid_request: the body or a parameter is not what the route takes",
    Unauthenticated => "unauthenticated or session_expired: no valid session or token",
    Forbidden => "insufficient_scope, or csrf_failed for a cookie request without the session's token",
    NotFound => "not_found",
    DuplicateKey => "duplicate_api_key",
    TooLarge => "payload_too_large",
    Limited => "rate_limited or account_locked, with Retry-After",
    UpstreamFailed => "upstream_config_error or upstream_unavailable",
    Unavailable => "store_unavailable, or no_api_key_available with Retry-After",
}

/// A browser login.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema for the document")]
pub(crate) struct Credentials {
    username: String,
    /// At most 256 bytes.
    password: String,
}

/// An app login.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema for the document")]
pub(crate) struct MobileCredentials {
    username: String,
    password: String,
    /// The installation's id: 8 to 128 of letters, digits, `-`, `_`, `.`.
    client_id: String,
}

/// A refresh.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema for the document")]
pub(crate) struct RefreshRequest {
    /// `krt_…`, used once.
    refresh_token: String,
    client_id: String,
}

/// A key for the pool. The key is validated against the upstream's format and never returned.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema for the document")]
pub(crate) struct KeyCreate {
    key: String,
    upstream: String,
    priority: Option<i64>,
    quota_group: Option<String>,
    daily_budget: Option<i64>,
}

/// What an administrator may change; `null` clears `quota_group` and `daily_budget`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema for the document")]
pub(crate) struct KeyUpdate {
    /// `active` or `disabled`.
    status: Option<String>,
    priority: Option<i64>,
    quota_group: Option<String>,
    daily_budget: Option<i64>,
}

/// The ways to authenticate.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "kunci_session",
                "The browser session (with kunci_auth). Unsafe methods also need X-CSRF-Token.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Kunci-Signature",
                "t=…,kid=…,nonce=…,v1=… over the request (docs/signed-requests.md)",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "kunci", description = "Sessions, login, API-key pool: the /api/v1 routes."),
    paths(
        crate::login::login_web,
        crate::login::login_mobile,
        crate::login::refresh,
        crate::login::logout,
        crate::login::logout_all,
        crate::login::me,
        crate::session_api::session,
        crate::inventory::mine,
        crate::inventory::end_all_mine,
        crate::inventory::end_mine,
        crate::inventory::of_account,
        crate::inventory::end_all_of_account,
        crate::inventory::end_of_account,
        crate::pool::leaderboard,
        crate::pool::list,
        crate::pool::create,
        crate::pool::update,
        crate::pool::remove,
        crate::pool::test,
        crate::pool::search,
        crate::pool::proxy,
        crate::service::ping,
        document,
    ),
    components(schemas(Problem, Credentials, MobileCredentials, RefreshRequest, KeyCreate, KeyUpdate)),
    modifiers(&Security)
)]
struct ApiDoc;

/// The document as JSON.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

/// `GET /api/v1/openapi.json`
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1, JSON"))
)]
pub(crate) async fn document() -> Response {
    let mut response = document_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The `/api/v1` routes of the route table, with their methods, read from its source.
    fn routes() -> Vec<(String, Vec<String>)> {
        let table = include_str!("router.rs");
        let mut routes = Vec::new();
        for (at, _) in table.match_indices("\"/api/v1/") {
            let rest = &table[at + 1..];
            let path = &rest[..rest.find('"').unwrap()];
            let after = &rest[path.len()..];
            let end = [".route(", ".with_state", ".merge("]
                .iter()
                .filter_map(|m| after.find(m))
                .min()
                .unwrap_or(after.len());
            let call = &after[..end];
            let mut methods = Vec::new();
            for method in ["get", "post", "put", "patch", "delete", "any"] {
                if call.contains(&format!("{method}(")) {
                    methods.push(method.to_owned());
                }
            }
            assert!(!methods.is_empty(), "no method found for {path}");
            // OpenAPI has no catch-all segments: `{*path}` is documented as `{path}`.
            routes.push((path.replace("{*", "{"), methods));
        }
        routes
    }

    #[test]
    fn every_api_route_is_in_the_document_with_its_errors() {
        let doc: Value = serde_json::from_str(&super::document_json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let routes = routes();
        assert!(
            routes.len() >= 21,
            "the route reader lost routes: {routes:?}"
        );
        for (path, methods) in routes {
            let item = &doc["paths"][&path];
            assert!(item.is_object(), "{path} is not documented");
            let methods = if methods == ["any"] {
                vec!["get", "post", "put", "patch", "delete"]
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            } else {
                methods
            };
            for method in methods {
                let operation = &item[&method];
                assert!(operation.is_object(), "{method} {path} is not documented");
                if path == "/api/v1/openapi.json" {
                    continue;
                }
                let problems = operation["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(status, r)| {
                        status.starts_with('4') || status.starts_with('5')
                    } && r["content"]["application/problem+json"].is_object())
                    .count();
                assert!(
                    problems > 0,
                    "{method} {path} documents no problem+json error"
                );
            }
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }

    #[test]
    fn the_route_reader_finds_what_it_should() {
        let routes = routes();
        let find = |p: &str| {
            routes
                .iter()
                .find(|(path, _)| path == p)
                .map(|(_, m)| m.clone())
        };
        assert_eq!(
            find("/api/v1/admin/api-keys"),
            Some(vec!["get".to_owned(), "post".to_owned()])
        );
        assert_eq!(
            find("/api/v1/admin/api-keys/{id}"),
            Some(vec!["patch".to_owned(), "delete".to_owned()])
        );
        assert_eq!(
            find("/api/v1/proxy/{upstream}/{path}"),
            Some(vec!["any".to_owned()])
        );
    }
}
