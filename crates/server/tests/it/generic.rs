//! The `generic` adapter against a fake OpenAI-compatible API: the key travels in the
//! configured header, configured statuses cool or invalidate keys, bodies pass both ways.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use crate::helpers::{Browser, TestApp};

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<String>>>,
}

const OK: &str = "sk-okokokokokokokokokokok1";
const THROTTLED: &str = "sk-throttledthrottled0002";
const REVOKED: &str = "sk-revokedrevokedrevoked3";

async fn start_fake() -> (String, Fake) {
    let fake = Fake::default();
    let state = fake.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                state.seen.lock().unwrap().push(auth.clone());
                match auth.strip_prefix("Bearer ").unwrap_or_default() {
                    OK => axum::Json(json!({"object": "chat.completion", "echo": body}))
                        .into_response(),
                    THROTTLED => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "7")],
                        "slow down",
                    )
                        .into_response(),
                    _ => (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"error": {"code": "invalid_api_key"}})),
                    )
                        .into_response(),
                }
            }
        }),
    );
    let app = app.route(
        "/v1/models",
        axum::routing::get(|headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if auth == format!("Bearer {OK}") {
                axum::Json(json!({"object": "list", "data": []})).into_response()
            } else {
                StatusCode::UNAUTHORIZED.into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, fake)
}

#[tokio::test]
async fn a_generic_upstream_is_proxied_with_pool_keys() {
    let (url, fake) = start_fake().await;
    let app = TestApp::builder()
        .var("KUNCI__UPSTREAM__OPENAI__ADAPTER", "generic")
        .var("KUNCI__UPSTREAM__OPENAI__BASE_URL", &url)
        .var(
            "KUNCI__UPSTREAM__OPENAI__KEY_PATTERN",
            "sk-[A-Za-z0-9]{20,}",
        )
        .var("KUNCI__UPSTREAM__OPENAI__INVALID_STATUSES", "401")
        .spawn()
        .await
        .unwrap();
    app.add_accounts(&[("root", true)]).await;
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    for (key, priority) in [(REVOKED, 9), (THROTTLED, 5), (OK, 0)] {
        let page = root
            .post_json(
                "/api/v1/admin/api-keys",
                &json!({"key": key, "upstream": "openai", "priority": priority}),
                true,
            )
            .await;
        assert_eq!(page.status, 201, "{}", page.body);
    }
    let bad = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": "pk-wrong", "upstream": "openai"}),
            true,
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()["error"].as_str()),
        (400, Some("invalid_api_key"))
    );

    let token = root.cookies["kunci_csrf"].clone();
    let body = br#"{"model":"x","messages":[{"role":"user","content":"hi"}]}"#.to_vec();
    let page = root
        .send(
            reqwest::Method::POST,
            "/api/v1/proxy/openai/chat/completions",
            "application/json",
            &[("x-csrf-token", &token)],
            Some(("application/json", body)),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.json()["echo"]
            .as_str()
            .unwrap()
            .contains("\"content\":\"hi\"")
    );
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            format!("Bearer {REVOKED}"),
            format!("Bearer {THROTTLED}"),
            format!("Bearer {OK}")
        ]
    );
    assert!(!page.body.contains("sk-"), "no key comes back");

    let keys = root.api("/api/v1/admin/api-keys").await.json();
    let status: HashMap<String, String> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["priority"].to_string(),
                k["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(status["9"], "invalid");
    assert_eq!(status["5"], "cooling");
    assert_eq!(status["0"], "active");

    for escape in [
        "/api/v1/proxy/openai/..%2Fadmin",
        "/api/v1/proxy/openai/v1/%252e%252e/admin",
        "/api/v1/proxy/openai/models%3Fkey=x",
    ] {
        let escape = root
            .send(
                reqwest::Method::POST,
                escape,
                "application/json",
                &[("x-csrf-token", &token)],
                Some(("application/json", b"{}".to_vec())),
            )
            .await;
        assert_eq!(escape.status, 400, "{}", escape.body);
    }
    let unknown = root.api("/api/v1/proxy/nowhere/x").await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn keys_of_a_generic_upstream_are_tested_with_its_test_path_only() {
    let (url, _fake) = start_fake().await;
    let app = TestApp::builder()
        .var("KUNCI__UPSTREAM__OPENAI__ADAPTER", "generic")
        .var("KUNCI__UPSTREAM__OPENAI__BASE_URL", &url)
        .var("KUNCI__UPSTREAM__OPENAI__INVALID_STATUSES", "401")
        .var("KUNCI__UPSTREAM__OPENAI__TEST_PATH", "models")
        .var("KUNCI__UPSTREAM__PLAIN__ADAPTER", "generic")
        .var("KUNCI__UPSTREAM__PLAIN__BASE_URL", &url)
        .spawn()
        .await
        .unwrap();
    app.add_accounts(&[("root", true)]).await;
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let mut ids = Vec::new();
    for (upstream, key) in [("openai", OK), ("openai", REVOKED), ("plain", THROTTLED)] {
        let created = root
            .post_json(
                "/api/v1/admin/api-keys",
                &json!({"key": key, "upstream": upstream}),
                true,
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        ids.push(created.json()["id"].as_str().unwrap().to_owned());
    }
    let test = |id: &str| format!("/api/v1/admin/api-keys/{id}/test");
    let good = root.post_json(&test(&ids[0]), &json!({}), true).await;
    assert_eq!(good.json()["outcome"], "served", "{}", good.body);
    let revoked = root.post_json(&test(&ids[1]), &json!({}), true).await;
    assert_eq!(revoked.json()["outcome"], "invalid", "{}", revoked.body);
    assert_eq!(revoked.json()["key"]["status"], "invalid");
    let untestable = root.post_json(&test(&ids[2]), &json!({}), true).await;
    assert_eq!(untestable.status, 400, "{}", untestable.body);
    assert!(untestable.body.contains("test_path"), "{}", untestable.body);
}
