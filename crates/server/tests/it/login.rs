//! Browser login end to end: the JSON flow and the HTML form, CSRF on every cookie-authenticated
//! change, one answer for every wrong credential, logout and "log out everywhere".

use kunci_crypto::SecretString;
use serde_json::{Value, json};

use crate::helpers::{Browser, TestApp};

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

fn credentials(user: &str, password: &str) -> Value {
    json!({ "username": user, "password": password })
}

/// The value of `name="<field>" value="…"` in a page, unescaped.
fn hidden_field(html: &str, field: &str) -> String {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html.find(&marker).map(|i| i + marker.len()).expect(field);
    let raw = html[start..].split('"').next().unwrap();
    raw.replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn login_web_sets_cookies_on_a_new_session_and_returns_no_token() {
    let app = with_alice().await;
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    let before = browser.cookies["kunci_session"].clone();

    let page = browser
        .post_json(
            "/api/v1/auth/login_web",
            &credentials("Alice", "correct horse"),
            false,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = page.json();
    assert_eq!(body["username"], "alice");
    assert_eq!(body["scopes"], json!(["basic", "user"]));
    let auth = &browser.cookies["kunci_auth"];
    assert!(!page.body.contains(auth.as_str()), "no token in the body");
    assert!(!page.body.contains("v1."), "{}", page.body);
    assert_ne!(
        browser.cookies["kunci_session"], before,
        "a new session id at login"
    );
    let cookie_lines = page.set_cookie_lines().join("\n");
    assert!(cookie_lines.contains("kunci_session=") && cookie_lines.contains("HttpOnly"));

    let me = browser.api("/api/v1/me").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        (me.json()["username"].as_str(), me.json()["auth"].as_str()),
        (Some("alice"), Some("cookie"))
    );

    // The pre-login session is gone: replaying its id gets no account.
    let mut fixated = Browser::new(&app.url(""));
    fixated.cookies.insert("kunci_session".into(), before);
    assert_eq!(fixated.api("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn login_works_from_a_cold_client_too() {
    let app = with_alice().await;
    let mut browser = Browser::new(&app.url(""));
    let page = browser
        .post_json(
            "/api/v1/auth/login_web",
            &credentials("alice", "correct horse"),
            false,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(browser.api("/api/v1/me").await.status, 200);
}

#[tokio::test]
async fn every_wrong_credential_gets_the_same_answer() {
    let app = with_alice().await;
    let mut answers = Vec::new();
    for (user, password) in [
        ("alice", "wrong"),
        ("nobody", "correct horse"),
        ("not a name!", "x"),
    ] {
        let mut browser = Browser::new(&app.url(""));
        let page = browser
            .post_json(
                "/api/v1/auth/login_web",
                &credentials(user, password),
                false,
            )
            .await;
        assert_eq!(page.status, 401, "{user}: {}", page.body);
        assert!(page.set.is_empty(), "no cookies for a failed login");
        let mut headers: Vec<String> = page
            .headers
            .iter()
            .filter(|(n, _)| !matches!(n.as_str(), "date" | "x-request-id"))
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        headers.sort();
        answers.push((page.body.clone(), headers));
    }
    assert_eq!(answers[0].0, answers[1].0);
    assert_eq!(answers[0].1, answers[1].1);
    assert_eq!(answers[0].0, answers[2].0);
    let body: Value = serde_json::from_str(&answers[0].0).unwrap();
    assert_eq!(body["error"], "invalid_credentials");
}

#[tokio::test]
async fn bad_bodies_are_refused_before_any_hashing() {
    let app = with_alice().await;
    let mut browser = Browser::new(&app.url(""));
    let long = "x".repeat(257);
    let page = browser
        .post_json(
            "/api/v1/auth/login_web",
            &credentials("alice", &long),
            false,
        )
        .await;
    assert_eq!(
        (page.status, page.json()["error"].as_str()),
        (400, Some("password_too_long"))
    );
    for bad in [
        json!({"username": "alice"}),
        json!("text"),
        json!({"username": 1, "password": 2}),
    ] {
        let page = browser
            .post_json("/api/v1/auth/login_web", &bad, false)
            .await;
        assert_eq!(
            (page.status, page.json()["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_login_form_needs_its_csrf_token_and_goes_to_next() {
    let app = with_alice().await;
    let mut browser = Browser::new(&app.url(""));
    let form = browser.arrive("/login?next=/account%3Ftab%3D2").await;
    assert_eq!(form.status, 200);
    let token = hidden_field(&form.body, "csrf_token");
    let next = hidden_field(&form.body, "next");
    assert_eq!(next, "/account?tab=2");

    let without = browser
        .post_form(
            "/login",
            &[("username", "alice"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(without.status, 403, "{}", without.body);
    assert!(without.body.contains("csrf_failed"));

    let wrong = browser
        .post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", "nope"),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("The username or password is wrong."),
        "{}",
        wrong.body
    );

    let right = browser
        .post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", "correct horse"),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(right.status, 303, "{}", right.body);
    assert_eq!(right.location(), Some("/account?tab=2"));
    let home = browser.open("/").await;
    assert!(
        home.body.contains("You are signed in as alice."),
        "{}",
        home.body
    );
}

#[tokio::test]
async fn next_never_leaves_the_site() {
    let app = with_alice().await;
    for next in [
        "//evil.test/x",
        "https://evil.test",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let mut browser = Browser::new(&app.url(""));
        let form = browser.arrive("/login").await;
        let token = hidden_field(&form.body, "csrf_token");
        let page = browser
            .post_form(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("username", "alice"),
                    ("password", "correct horse"),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!((page.status, page.location()), (303, Some("/")), "{next}");
    }
}

#[tokio::test]
async fn cookie_authenticated_changes_need_the_session_csrf_token() {
    let app = with_alice().await;
    let mut alice = Browser::new(&app.url(""));
    alice.arrive("/").await;
    alice
        .post_json(
            "/api/v1/auth/login_web",
            &credentials("alice", "correct horse"),
            false,
        )
        .await;

    let missing = alice
        .post_json("/api/v1/auth/logout", &json!({}), false)
        .await;
    assert_eq!(
        (missing.status, missing.json()["error"].as_str()),
        (403, Some("csrf_failed"))
    );

    // Another browser's perfectly valid token is not this session's.
    let mut other = Browser::new(&app.url(""));
    other.arrive("/").await;
    let foreign = other.cookies["kunci_csrf"].clone();
    let page = alice
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            "application/json",
            &[("x-csrf-token", &foreign)],
            None,
        )
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(alice.api("/api/v1/me").await.status, 200, "still logged in");

    let good = alice
        .post_json("/api/v1/auth/logout", &json!({}), true)
        .await;
    assert_eq!(good.status, 200, "{}", good.body);
    assert_eq!(alice.api("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn cross_site_requests_are_refused_even_at_login() {
    let app = with_alice().await;
    let mut browser = Browser::new(&app.url(""));
    let body = serde_json::to_vec(&credentials("alice", "correct horse")).unwrap();
    for headers in [
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.test"),
        ],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "https://sub.kunci.test"),
        ],
        vec![("origin", "https://evil.test")],
        vec![("origin", "null")],
    ] {
        let page = browser
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/login_web",
                "application/json",
                &headers,
                Some(("application/json", body.clone())),
            )
            .await;
        assert_eq!(
            (page.status, page.json()["error"].as_str()),
            (403, Some("csrf_failed")),
            "{headers:?}"
        );
    }
    let same = browser
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login_web",
            "application/json",
            &[("sec-fetch-site", "same-origin"), ("origin", &app.url(""))],
            Some(("application/json", body)),
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.body);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_account() {
    let app = with_alice().await;
    let mut laptop = Browser::new(&app.url(""));
    let mut phone = Browser::new(&app.url(""));
    for browser in [&mut laptop, &mut phone] {
        let page = browser
            .post_json(
                "/api/v1/auth/login_web",
                &credentials("alice", "correct horse"),
                false,
            )
            .await;
        assert_eq!(page.status, 200);
    }
    let page = laptop
        .post_json("/api/v1/auth/logout_all", &json!({}), true)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["sessions_ended"], 2);
    let me = phone.api("/api/v1/me").await;
    assert_eq!(
        (me.status, me.json()["error"].as_str()),
        (401, Some("session_expired"))
    );
}

#[tokio::test]
async fn logins_are_audited_with_a_hashed_address() {
    let app = with_alice().await;
    let mut browser = Browser::new(&app.url(""));
    browser
        .post_json(
            "/api/v1/auth/login_web",
            &credentials("alice", "wrong"),
            false,
        )
        .await;
    browser
        .post_json(
            "/api/v1/auth/login_web",
            &credentials("alice", "correct horse"),
            false,
        )
        .await;
    let entries = app.audit.page(0, 10).await.unwrap();
    let logins: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.record.action == "account.login")
        .map(|e| (e.record.target.as_str(), e.record.outcome.as_str()))
        .collect();
    assert_eq!(logins, [("alice", "denied"), ("alice", "allowed")]);
    let last = entries.last().unwrap();
    assert!(last.ip_hash().is_some(), "the client address, hashed");
    assert!(!format!("{entries:?}").contains("127.0.0.1"));
    assert!(app.audit.verify().await.is_ok());
}

#[tokio::test]
async fn every_refusal_of_the_form_is_the_form_again_with_a_message() {
    let app = TestApp::builder()
        .var("KUNCI__SECURITY__LOGIN_REQUESTS_PER_MINUTE", "2")
        .spawn()
        .await
        .unwrap();
    app.add_accounts(&[("alice", false)]).await;
    let mut browser = Browser::new(&app.url(""));
    let form = browser.arrive("/login?next=/account").await;
    assert!(
        !form.body.contains("Your session has ended"),
        "a first visit was no ended session: {}",
        form.body
    );
    let token = hidden_field(&form.body, "csrf_token");
    let wrong = browser
        .post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "Alice"),
                ("password", "nope"),
                ("next", "/account"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("The username or password is wrong."));
    assert_eq!(
        hidden_field_value(&wrong.body, "username"),
        "Alice",
        "the name as typed"
    );
    assert!(!wrong.body.contains("nope"), "never the password");
    browser
        .post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", "nope"),
            ],
        )
        .await;
    // The per-address limit (2 a minute here): the form again, not a problem body.
    let limited = browser
        .post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", "alice pass"),
            ],
        )
        .await;
    assert_eq!(limited.status, 429);
    assert!(limited.headers.contains_key("retry-after"));
    assert!(
        limited.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{}",
        limited.body
    );
    assert!(
        limited
            .body
            .contains("Too many sign-in attempts from your network")
    );
    assert!(
        limited.body.contains("name=\"password\""),
        "the form, to try again"
    );
}

#[tokio::test]
async fn pages_show_times_for_people_and_a_favicon() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    let home = browser.arrive("/").await;
    assert!(home.body.contains(" UTC</time>"), "{}", home.body);
    assert!(home.body.contains("<time datetime=\"20"), "{}", home.body);
    let icon = browser.open("/favicon.ico").await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.headers["content-type"], "image/svg+xml");
    assert!(home.body.contains("rel=\"icon\""));
}

/// The `value` of the input named `name`.
fn hidden_field_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker).expect(name);
    let rest = &html[at..];
    let start = rest.find("value=\"").expect("value") + "value=\"".len();
    rest[start..].split('"').next().unwrap().to_owned()
}
