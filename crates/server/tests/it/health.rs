//! Liveness, readiness, problem+json errors and the headers every response carries.

use axum::Router;
use axum::routing::get;
use serde_json::Value;

use crate::helpers::{TestApp, TestBackend, service_url};

#[tokio::test]
async fn healthz_answers_with_the_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let h = response.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(
        h["permissions-policy"]
            .to_str()
            .unwrap()
            .contains("camera=()")
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.get("server").is_none());
    assert!(
        h.get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
}

#[tokio::test]
async fn every_response_gets_a_fresh_request_id_and_client_ids_are_not_trusted() {
    let app = TestApp::spawn().await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let first = id(&app.get("/healthz").await);
    let second = id(&app.get("/nope").await);
    assert_ne!(first, second);
    assert_eq!(uuid::Uuid::parse_str(&first).unwrap().get_version_num(), 4);
    let forged = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "forged-id")
        .send()
        .await
        .unwrap();
    assert_ne!(id(&forged), "forged-id");
}

async fn ready_with_database(backend: TestBackend) {
    let Some(app) = TestApp::builder().backend(backend).spawn().await else {
        return;
    };
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "up");
}

#[tokio::test]
async fn readyz_checks_the_sqlite_database() {
    ready_with_database(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn readyz_checks_the_postgres_database() {
    ready_with_database(TestBackend::Postgres).await;
}

#[tokio::test]
async fn readyz_checks_the_mariadb_database() {
    ready_with_database(TestBackend::MySql).await;
}

#[tokio::test]
async fn an_unreachable_redis_only_degrades_an_instance_that_keeps_sessions_elsewhere() {
    let app = TestApp::builder()
        .var("KUNCI__DATA__REDIS_URL", "redis://:CANARYpw@127.0.0.1:1/0")
        .spawn()
        .await
        .unwrap();
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("CANARYpw") && !text.contains("127.0.0.1"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["degraded"]["redis"], "down");
    // The metric says so too, before any request has needed the shared rate limits.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("kunci_store_degraded{store=\"rate_limits\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn readyz_is_503_when_the_redis_holding_sessions_is_unreachable() {
    let secret = "CANARYpw";
    let app = TestApp::builder()
        .var(
            "KUNCI__DATA__REDIS_URL",
            &format!("redis://:{secret}@127.0.0.1:1/0"),
        )
        .var("KUNCI__DATA__SESSION_STORE", "redis")
        .spawn()
        .await
        .unwrap();
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(secret) && !text.contains("127.0.0.1"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], "not_ready");
    assert_eq!(body["checks"]["database"], "up");
    assert_eq!(body["checks"]["redis"], "down");
}

#[tokio::test]
async fn readyz_checks_a_reachable_redis() {
    let Some(url) = service_url("KUNCI_TEST_REDIS_URL") else {
        return;
    };
    let app = TestApp::builder()
        .var("KUNCI__DATA__REDIS_URL", &url)
        .var(
            "KUNCI__DATA__REDIS_PREFIX",
            &format!("kunci-t-{}:", uuid::Uuid::new_v4().simple()),
        )
        .spawn()
        .await
        .unwrap();
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["redis"], "up");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let app = TestApp::spawn().await;
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["type"], "urn:kunci:error:not_found");

    let wrong = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_without_internal_detail() {
    let routes = Router::new().route(
        "/boom",
        get(|| async {
            if true {
                panic!("CANARY internal detail");
            }
        }),
    );
    let app = TestApp::builder()
        .public_routes(routes)
        .spawn()
        .await
        .unwrap();
    let response = app.get("/boom").await;
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let text = response.text().await.unwrap();
    assert!(!text.contains("CANARY"), "{text}");
    assert!(text.contains("internal_error"), "{text}");
    // The server keeps serving.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_session() {
    let app = TestApp::spawn().await;
    let answer = app.get("/api/v1/openapi.json").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let doc: Value = answer.json().await.unwrap();
    assert!(doc["paths"]["/api/v1/auth/login_web"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/search"]["get"]["responses"]["503"].is_object());
}
