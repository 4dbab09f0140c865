//! The mobile flow end to end: JWT access tokens, rotating refresh tokens bound to the app,
//! bearer requests that ignore cookies, and the refusals.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::SecretString;
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{Browser, TestApp};

const APP: &str = "ios-7d1c9e0a";

async fn with_alice() -> TestApp {
    let app = TestApp::spawn().await;
    app.accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &SecretString::new("correct horse"),
            false,
        )
        .await
        .unwrap();
    app
}

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn log_in(app: &TestApp, client_id: &str) -> Value {
    let (status, headers, body) = post(
        app,
        "/api/v1/auth/login_mobile",
        json!({"username": "alice", "password": "correct horse", "client_id": client_id}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    body
}

async fn refresh(app: &TestApp, token: &Value, client_id: &str) -> (u16, Value) {
    let (status, _, body) = post(
        app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": token, "client_id": client_id}),
    )
    .await;
    (status, body)
}

async fn me(app: &TestApp, bearer: &str, cookie: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("Bearer {bearer}"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn login_mobile_returns_a_jwt_and_a_refresh_token() {
    let app = with_alice().await;
    let pair = log_in(&app, APP).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().unwrap();
    let refresh_token = pair["refresh_token"].as_str().unwrap();
    assert!(refresh_token.starts_with("krt_"));

    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"]),
        "the token's kid is published"
    );
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], "kunci");
    assert_eq!(claims["iss"], "http://127.0.0.1:8080");
    assert_eq!(claims["scope"], "basic user");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    let (status, body) = me(&app, access, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["username"].as_str(), body["auth"].as_str()),
        (Some("alice"), Some("bearer"))
    );
}

#[tokio::test]
async fn a_bearer_request_ignores_every_cookie() {
    let app = with_alice().await;
    app.accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "root",
            &SecretString::new("root pass"),
            true,
        )
        .await
        .unwrap();
    let mut admin = Browser::new(&app.url(""));
    let page = admin
        .post_json(
            "/api/v1/auth/login_web",
            &json!({"username": "root", "password": "root pass"}),
            false,
        )
        .await;
    assert_eq!(page.status, 200);
    let cookies: Vec<String> = admin
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let cookies = cookies.join("; ");

    let pair = log_in(&app, APP).await;
    let (status, body) = me(&app, pair["access_token"].as_str().unwrap(), Some(&cookies)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["username"], "alice",
        "the admin's cookies granted nothing"
    );
    assert_eq!(body["scopes"], json!(["basic", "user"]));

    let (status, body) = me(&app, "not-a-token", Some(&cookies)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "no fallback to cookies"
    );
}

#[tokio::test]
async fn forged_tokens_are_refused_over_http() {
    let app = with_alice().await;
    let pair = log_in(&app, APP).await;
    let access = pair["access_token"].as_str().unwrap();
    let parts: Vec<&str> = access.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("basic user admin");
    let elevated = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        parts[1]
    );
    for token in [
        elevated.as_str(),
        none.as_str(),
        &access[..access.len() - 2],
        "",
    ] {
        let (status, body) = me(&app, token, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_token")),
            "{token}"
        );
    }
}

#[tokio::test]
async fn an_expired_access_token_says_so() {
    let app = with_alice().await;
    let pair = log_in(&app, APP).await;
    app.clock.advance(Duration::minutes(16));
    let (status, body) = me(&app, pair["access_token"].as_str().unwrap(), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("token_expired"))
    );
    let (status, fresh) = refresh(&app, &pair["refresh_token"], APP).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(
        me(&app, fresh["access_token"].as_str().unwrap(), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_kills_the_family() {
    let app = with_alice().await;
    let first = log_in(&app, APP).await;
    let (status, second) = refresh(&app, &first["refresh_token"], APP).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);

    app.clock.advance(Duration::seconds(30));
    let (status, body) = refresh(&app, &first["refresh_token"], APP).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_grant"))
    );
    let (status, _) = refresh(&app, &second["refresh_token"], APP).await;
    assert_eq!(status, 401, "the whole family is dead");
    let audited = app.audit.page(0, 50).await.unwrap();
    assert!(
        audited
            .iter()
            .any(|e| e.record.action == "refresh_token.reused")
    );
}

#[tokio::test]
async fn concurrent_refreshes_share_a_pair_but_another_client_revokes() {
    let app = with_alice().await;
    let first = log_in(&app, APP).await;
    let (a, b) = tokio::join!(
        refresh(&app, &first["refresh_token"], APP),
        refresh(&app, &first["refresh_token"], APP)
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(a.1["refresh_token"], b.1["refresh_token"]);
    assert_eq!(refresh(&app, &a.1["refresh_token"], APP).await.0, 200);

    let other = log_in(&app, APP).await;
    let (status, next) = refresh(&app, &other["refresh_token"], APP).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&app, &other["refresh_token"], "android-11aa22bb").await;
    assert_eq!(status, 401, "another app instance within the grace window");
    assert_eq!(
        refresh(&app, &next["refresh_token"], APP).await.0,
        401,
        "family revoked"
    );
}

#[tokio::test]
async fn bearer_logout_ends_the_app_and_disabling_the_account_ends_refreshes() {
    let app = with_alice().await;
    let pair = log_in(&app, APP).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header(
            "authorization",
            format!("Bearer {}", pair["access_token"].as_str().unwrap()),
        )
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "bearer requests need no CSRF token");
    assert_eq!(refresh(&app, &pair["refresh_token"], APP).await.0, 401);
    let (status, _) = me(&app, pair["access_token"].as_str().unwrap(), None).await;
    assert_eq!(
        status, 401,
        "the access token of a logged-out app is refused"
    );

    let pair = log_in(&app, APP).await;
    app.accounts
        .set_disabled(&kunci_domain::audit::Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert_eq!(refresh(&app, &pair["refresh_token"], APP).await.0, 401);
    let (status, _, body) = post(
        &app,
        "/api/v1/auth/login_mobile",
        json!({"username": "alice", "password": "correct horse", "client_id": APP}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
}

#[tokio::test]
async fn bad_mobile_requests_are_refused() {
    let app = with_alice().await;
    let (status, _, body) = post(
        &app,
        "/api/v1/auth/login_mobile",
        json!({"username": "alice", "password": "correct horse", "client_id": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _, body) = post(&app, "/api/v1/auth/refresh", json!({"refresh_token": 5})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = refresh(&app, &json!("krt_nope"), APP).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_grant"))
    );
}

/// Polls `check` every 50 ms for up to 2 s.
async fn within_two_seconds(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..40 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn revoked_logins_lose_their_access_tokens_on_every_instance() {
    revoked_logins_on_every_instance(crate::helpers::TestBackend::Postgres).await;
}

#[tokio::test]
async fn revoked_logins_lose_their_access_tokens_on_every_instance_on_mariadb() {
    revoked_logins_on_every_instance(crate::helpers::TestBackend::MySql).await;
}

async fn revoked_logins_on_every_instance(backend: crate::helpers::TestBackend) {
    let Some(one) = TestApp::builder().backend(backend).spawn().await else {
        return;
    };
    let two = TestApp::builder().sharing(&one).spawn().await.unwrap();
    one.accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &SecretString::new("correct horse"),
            false,
        )
        .await
        .unwrap();
    let pair = log_in(&one, APP).await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&two, &access, None).await.0, 200);
    let response = one
        .client
        .post(one.url("/api/v1/auth/logout"))
        .header("authorization", format!("Bearer {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = me(&one, &access, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "at once here"
    );
    assert!(
        within_two_seconds(async || me(&two, &access, None).await.0 == 401).await,
        "the other instance still took the token after 2 s"
    );

    // Disabling the account ends its cookie sessions and bearer tokens everywhere.
    let fresh = log_in(&two, APP).await;
    let fresh_access = fresh["access_token"].as_str().unwrap().to_owned();
    let mut browser = Browser::new(&two.url(""));
    browser
        .post_json(
            "/api/v1/auth/login_web",
            &json!({"username": "alice", "password": "correct horse"}),
            false,
        )
        .await;
    assert_eq!(browser.api("/api/v1/me").await.status, 200);
    one.accounts
        .set_disabled(&kunci_domain::audit::Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert!(within_two_seconds(async || me(&two, &fresh_access, None).await.0 == 401).await);
    assert!(within_two_seconds(async || browser.api("/api/v1/me").await.status == 401).await);
}

#[tokio::test]
async fn a_detected_theft_kills_the_family_access_tokens_too() {
    let app = with_alice().await;
    let first = log_in(&app, APP).await;
    let (_, second) = refresh(&app, &first["refresh_token"], APP).await;
    let access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &access, None).await.0, 200);
    app.clock.advance(Duration::seconds(30));
    assert_eq!(refresh(&app, &first["refresh_token"], APP).await.0, 401);
    assert!(within_two_seconds(async || me(&app, &access, None).await.0 == 401).await);
}
