//! The HTTP contract as a new user met it: an `Origin` must agree whatever Fetch Metadata says,
//! and no route answers a bearer token on a page, an oversized body, a request without `Host`,
//! an overlong target or header set, a minted token or a malformed field outside the contract.

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Browser, TestApp};

async fn logged_in_app() -> (TestApp, Browser) {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let browser = Browser::logged_in(&app.url(""), "alice").await;
    (app, browser)
}

#[tokio::test]
async fn an_origin_must_agree_whatever_fetch_metadata_says() {
    let (app, mut alice) = logged_in_app().await;
    let token = alice.cookies["kunci_csrf"].clone();
    let refused = alice
        .send(
            reqwest::Method::POST,
            "/api/v1/me/sessions/revoke_all",
            "application/json",
            &[
                ("x-csrf-token", &token),
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://evil.example"),
            ],
            None,
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.json()["error"], "csrf_failed");
    let own = app.url("");
    let accepted = alice
        .send(
            reqwest::Method::POST,
            "/api/v1/me/sessions/revoke_all",
            "application/json",
            &[
                ("x-csrf-token", &token),
                ("sec-fetch-site", "same-origin"),
                ("origin", own.trim_end_matches('/')),
            ],
            None,
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}

#[tokio::test]
async fn a_bearer_token_on_a_page_is_refused_in_the_contract_never_a_500() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false), ("root", true)]).await;
    let bearer = format!("Bearer {}", app.access_token("root", "phone-0001").await);
    for path in ["/", "/admin/keys", "/login", "/?_mk=1"] {
        for accept in ["*/*", "text/html"] {
            let response = app
                .client
                .get(app.url(path))
                .header("authorization", &bearer)
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = response.text().await.unwrap();
            assert_eq!(status, 401, "{path} ({accept}): {body}");
            assert_eq!(kind, "application/problem+json", "{path}: {body}");
            assert!(!body.contains("kunci_web"), "internal names leaked: {body}");
        }
    }
}

#[tokio::test]
async fn an_oversized_body_is_a_problem_not_plain_text() {
    let app = TestApp::spawn().await;
    let body = vec![b'x'; 3 * 1024 * 1024];
    let response = app
        .client
        .post(app.url("/api/v1/auth/login_web"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    assert!(response.headers().contains_key("x-content-type-options"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["error"], "payload_too_large");
}

/// Sends `head` (request line and headers, no body) on a raw connection; the status line back.
async fn raw(app: &TestApp, head: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn an_http_1_1_request_carries_exactly_one_host() {
    let app = TestApp::spawn().await;
    let none = raw(&app, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(none.starts_with("HTTP/1.1 400"), "{none}");
    assert!(none.contains("application/problem+json"), "{none}");
    let two = raw(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(two.starts_with("HTTP/1.1 400"), "{two}");
    let one = raw(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: kunci.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(one.starts_with("HTTP/1.1 200"), "{one}");
}

/// An access token signed by the deployment's own key, with `claims` as given.
fn minted(app: &TestApp, claims: kunci_crypto::jwt::Claims) -> String {
    kunci_crypto::jwt::sign(&app.keys.ring(), &claims).unwrap()
}

/// Claims as kunci writes them, for `sub`, issued at `iat` and expiring at `exp`.
fn claims_for(
    sub: &str,
    iat: i64,
    exp: i64,
    (iss, aud): (&str, &str),
) -> kunci_crypto::jwt::Claims {
    kunci_crypto::jwt::Claims {
        sub: sub.to_owned(),
        preferred_username: "alice".to_owned(),
        iat,
        nbf: iat.min(exp - 900),
        exp,
        iss: iss.to_owned(),
        aud: aud.to_owned(),
        jti: "forged-0001".to_owned(),
        scope: "basic user admin".to_owned(),
        sid: "family-forged".to_owned(),
    }
}

#[tokio::test]
async fn a_token_minted_with_a_leaked_key_is_bounded_and_needs_a_real_account() {
    use kunci_domain::clock::Clock as _;
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let alice = app.accounts.by_name("alice").await.unwrap().unwrap();
    let now = app.clock.now_unix();
    let ask = |token: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(app.url("/api/v1/me"))
                .header("authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    // The issuer the deployment writes into its tokens.
    let issued: serde_json::Value = app
        .client
        .post(app.url("/api/v1/auth/login_mobile"))
        .json(&json!({"username": "alice", "password": "alice pass", "client_id": "phone-0001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let real = issued["access_token"].as_str().unwrap();
    let payload = real.split('.').nth(1).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let iss = payload["iss"].as_str().unwrap().to_owned();
    let aud = payload["aud"].as_str().unwrap().to_owned();
    let forge =
        |sub: &str, iat: i64, exp: i64| minted(&app, claims_for(sub, iat, exp, (&iss, &aud)));
    assert_eq!(
        ask(real.to_owned()).await.0,
        200,
        "a token kunci issued works"
    );
    let ten_years = forge(&alice.id, now, now + 10 * 365 * 86_400);
    assert_eq!(ask(ten_years).await, (401, "invalid_token".to_owned()));
    let from_the_future = forge(&alice.id, now + 3600, now + 3600 + 900);
    assert_eq!(
        ask(from_the_future).await,
        (401, "invalid_token".to_owned())
    );
    let nobody = forge("0f8fad5b-d9cb-469f-a165-70867728950e", now, now + 900);
    assert_eq!(ask(nobody).await, (401, "invalid_token".to_owned()));
    assert_eq!(
        ask(forge(&alice.id, now, now + 900)).await.0,
        200,
        "in bounds, a real account"
    );
}

#[tokio::test]
async fn free_text_admin_fields_are_validated_on_the_server() {
    let app = TestApp::builder().google_upstream().spawn().await.unwrap();
    app.add_accounts(&[("root", true)]).await;
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let key = "AIzaSyTest00000000000000000000000000001";
    for group in [
        "x".repeat(129),
        "a\u{0}b".to_owned(),
        "pay\u{202e}lap".to_owned(),
    ] {
        let page = root
            .post_json(
                "/api/v1/admin/api-keys",
                &json!({"key": key, "upstream": "google", "quota_group": group}),
                true,
            )
            .await;
        assert_eq!(page.status, 400, "{group:?}: {}", page.body);
        assert_eq!(page.json()["error"], "invalid_request");
    }
    let page = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": key, "upstream": "google", "quota_group": " project 7 "}),
            true,
        )
        .await;
    assert_eq!(page.status, 201, "{}", page.body);
    assert_eq!(page.json()["quota_group"], "project 7");
    let id = page.json()["id"].as_str().unwrap().to_owned();
    let page = root
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/api-keys/{id}"),
            "application/json",
            &[("x-csrf-token", &root.cookies["kunci_csrf"].clone())],
            Some(("application/json", br#"{"quota_group": "\u202e"}"#.to_vec())),
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
}

#[tokio::test]
async fn a_malformed_client_id_is_a_bad_request_on_refresh_too() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": "krt_whatever", "client_id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn an_overlong_target_or_header_set_is_refused_in_the_contract() {
    let app = TestApp::spawn().await;
    let long = format!("/healthz?q={}", "a".repeat(9 * 1024));
    let response = app.client.get(app.url(&long)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 414);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers().contains_key("x-content-type-options"));
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", "b".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 431);
    assert!(response.headers().contains_key("x-frame-options"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["error"], "headers_too_large");
}
