//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every `/api/v1` route, generated from
//! the `#[utoipa::path]` annotations on the handlers (a test checks no route is left out). The
//! request bodies are the handlers' own types; the problem answers are declared beside
//! `ApiError` (`error.rs`). This file only gathers them: nothing imports it but the router.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
                "HMAC-SHA256, base64url, with the client secret over METHOD, PATH?QUERY, \
                 X-Kunci-Timestamp, X-Kunci-Nonce and the body's SHA-256; with X-Kunci-Client \
                 (docs/signed-requests.md). The client's scopes apply; CSRF does not.",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "kunci", description = "Sessions, login, API-key pool: the /api/v1 routes."),
    paths(
        crate::login::login_web,
        crate::mobile::login_mobile,
        crate::mobile::refresh,
        crate::login::logout,
        crate::login::logout_all,
        crate::login::me,
        crate::session_api::session,
        crate::inventory::mine,
        crate::mfa_api::mine,
        crate::mfa_api::begin_totp,
        crate::mfa_api::confirm_totp,
        crate::inventory::end_all_mine,
        crate::inventory::end_mine,
        crate::inventory::of_account,
        crate::inventory::end_all_of_account,
        crate::inventory::end_of_account,
        crate::api_keys::leaderboard,
        crate::api_keys::list,
        crate::api_keys::create,
        crate::api_keys::update,
        crate::api_keys::remove,
        crate::api_keys::test,
        crate::search::search,
        crate::search::proxy,
        crate::signed::ping,
        document,
    ),
    components(schemas(
        crate::error::problems::Problem,
        crate::login::Credentials,
        crate::mobile::MobileCredentials,
        crate::mobile::RefreshRequest,
        crate::api_keys::KeyCreate,
        crate::api_keys::KeyUpdate,
        crate::mfa_api::ConfirmBody,
    )),
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

    /// Every member a problem body can carry is in the documented schema: the document shows
    /// what is sent.
    #[tokio::test]
    async fn the_documented_problem_is_the_body_sent() {
        use axum::response::IntoResponse as _;

        use crate::error::ApiError;
        let doc: Value = serde_json::from_str(&super::document_json()).unwrap();
        let documented = doc["components"]["schemas"]["Problem"]["properties"]
            .as_object()
            .unwrap();
        let checks = serde_json::Map::from_iter([("database".to_owned(), "down".into())]);
        let samples = [
            ApiError::NotFound,
            ApiError::InvalidRequest("x"),
            ApiError::InvalidApiKey("AIza…".to_owned()),
            ApiError::NotReady { checks },
            ApiError::AccountLocked { retry_after: 30 },
            ApiError::NoApiKeyAvailable { retry_after: None },
            ApiError::Internal("hidden".into()),
        ];
        for error in samples {
            let code = error.code();
            let response = error.into_response();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            for member in body.as_object().unwrap().keys() {
                assert!(
                    documented.contains_key(member),
                    "`{member}` of {code} is sent but not documented"
                );
            }
        }
        assert!(
            !documented.contains_key("retry_after"),
            "`retry_after` is documented but never sent (it is the Retry-After header)"
        );
    }

    #[test]
    fn routes_a_service_client_may_call_declare_the_signature() {
        let doc: Value = serde_json::from_str(&super::document_json()).unwrap();
        let schemes = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["security"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .flat_map(|s| s.as_object().unwrap().keys().cloned())
                        .collect()
                })
                .unwrap_or_default()
        };
        for (path, method) in [
            ("/api/v1/me", "get"),
            ("/api/v1/search", "get"),
            ("/api/v1/admin/api-keys", "post"),
            ("/api/v1/admin/accounts/{name}/sessions", "get"),
            ("/api/v1/service/ping", "post"),
        ] {
            assert!(
                schemes(path, method).contains(&"signature".to_owned()),
                "{method} {path}: {:?}",
                schemes(path, method)
            );
        }
        assert!(
            !schemes("/api/v1/me/sessions", "get").contains(&"signature".to_owned()),
            "an account's own sessions are no client's"
        );
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
