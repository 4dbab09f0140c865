//! What a new user ran into, held as behaviour: the `env` commands need only the master key,
//! the doctor reports an invalid configuration and goes on, the first start says how to create
//! the first administrator, an `Origin` must agree whatever Fetch Metadata says, and no route
//! answers a bearer token on a page, an oversized body or a request without `Host` outside the
//! contract.

use kunci_crypto::MasterKey;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Browser, Kunci, TestApp};

fn project_with_only_base() -> (Kunci, MasterKey) {
    let key = MasterKey::generate().unwrap();
    let kunci = Kunci::new().var("KUNCI_MASTER_KEY", key.encode().expose());
    kunci.write("config/base.toml", "[logger]\nlevel = \"info\"\n");
    (kunci, key)
}

#[test]
fn env_commands_need_only_the_master_key() {
    let (kunci, _) = project_with_only_base();
    kunci.write(
        ".env.staging",
        "KUNCI__ENVIRONMENT__PUBLIC_URL=https://staging.example.com\n",
    );
    // Staging's configuration is not written yet (its public URL is the http default).
    kunci.run(&["env", "encrypt", "staging"]).success();
    std::fs::remove_file(kunci.path(".env.staging")).unwrap();
    let decrypted = kunci.run(&["env", "decrypt", "staging"]);
    decrypted.success();
    assert!(decrypted.stdout().contains("staging.example.com"));
    let rekeyed = kunci.run(&[
        "env",
        "rekey",
        "production",
        "--out",
        kunci.path("new.key").to_str().unwrap(),
    ]);
    assert!(
        !rekeyed.all().contains("requires an https://"),
        "rekey judges no deployment configuration: {}",
        rekeyed.all()
    );
    let diff = kunci.run(&[
        "env",
        "diff",
        kunci.path(".env.staging.enc").to_str().unwrap(),
    ]);
    diff.success();
    assert!(diff.stdout().contains("KUNCI__ENVIRONMENT__PUBLIC_URL"));

    // `serve` and `config check` still judge everything: here, staging is fine thanks to the
    // encrypted value; production names the built-in default and where to set it.
    kunci
        .run(&["--env", "staging", "config", "check"])
        .success();
    let check = kunci.run(&["--env", "production", "config", "check"]);
    assert_eq!(check.code(), Some(3), "{}", check.all());
    let text = check.all();
    assert!(
        text.contains("built-in default: `environment.public_url`")
            && text.contains("config/production.toml")
            && text.contains("KUNCI__ENVIRONMENT__PUBLIC_URL"),
        "{text}"
    );
}

#[test]
fn a_broken_key_command_still_stops_the_env_commands() {
    let kunci = Kunci::new();
    kunci.write(
        "config/staging.toml",
        "[security]\nmaster_key_command_timeout_secs = \"soon\"\n",
    );
    kunci.write(".env.staging", "KUNCI__LOGGER__LEVEL=warn\n");
    let outcome = kunci.run(&["env", "encrypt", "staging"]);
    assert_eq!(outcome.code(), Some(3), "{}", outcome.all());
    assert!(
        outcome
            .all()
            .contains("`security.master_key_command_timeout_secs`"),
        "{}",
        outcome.all()
    );
}

#[test]
fn the_doctor_reports_an_invalid_configuration_first_and_goes_on() {
    let (kunci, _) = project_with_only_base();
    kunci.write(".env.production", "KUNCI__LOGGER__LEVEL=warn\n");
    let outcome = kunci.run(&["--env", "production", "doctor"]);
    assert_eq!(
        outcome.code(),
        Some(1),
        "a failed check, not a config exit: {}",
        outcome.all()
    );
    let report = outcome.stdout();
    let first = report
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(
        first.contains("FAIL") && first.contains("`environment.public_url`"),
        "the configuration comes first: {report}"
    );
    assert!(
        report.contains(".env.production"),
        "the checks that need no configuration still ran: {report}"
    );
}

#[test]
fn the_first_start_says_how_to_create_the_first_admin() {
    let kunci = Kunci::new();
    let server = kunci.serve(&[]);
    let said = server.startup_output.join("\n");
    server.terminate();
    assert!(said.contains("kunci user add NAME --scope admin"), "{said}");
    kunci
        .run_with_input(
            &["user", "add", "root", "--scope", "admin"],
            "root password 1\n",
        )
        .success();
    let server = kunci.serve(&[]);
    let said = server.startup_output.join("\n");
    server.terminate();
    assert!(!said.contains("no administrator yet"), "{said}");
}

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
    for path in ["/", "/settings", "/login", "/?_mk=1"] {
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
    let app = TestApp::builder()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var(
            "KUNCI__UPSTREAM__GOOGLE__CX",
            "017576662512468239146:omuauf_lfve",
        )
        .spawn()
        .await
        .unwrap();
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

#[test]
fn in_development_the_public_url_follows_a_changed_bind() {
    use std::io::BufRead as _;
    let kunci = Kunci::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kunci"))
        .arg("--root")
        .arg(kunci.root.path())
        .arg("serve")
        .env_remove("KUNCI_ENV")
        .env_remove("KUNCI_MASTER_KEY")
        .env("KUNCI__ENVIRONMENT__BIND", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut said = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let done = line.contains("is serving on");
        said.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let said = said.join("\n");
    assert!(
        said.contains(&format!("open http://127.0.0.1:{port}")),
        "the address it listens on, not the default's: {said}"
    );
    assert!(said.contains("follows `environment.bind`"), "{said}");
}

#[test]
fn an_unreachable_redis_is_said_at_start_without_its_password() {
    let kunci = Kunci::new().var("KUNCI__DATA__REDIS_URL", "redis://:CANARYpw@127.0.0.1:1/0");
    let server = kunci.serve(&[]);
    let said = server.startup_output.join("\n");
    server.terminate();
    assert!(said.contains("Redis is unreachable"), "{said}");
    assert!(said.contains("rate limits fall back"), "{said}");
    assert!(!said.contains("CANARYpw"), "{said}");
}

#[test]
fn user_list_shows_a_locked_name_with_when_it_unlocks() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    kunci
        .run_with_input(&["user", "add", "alice"], "alice passphrase\n")
        .success();
    let server = kunci.serve(&[]);
    kunci::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    for _ in 0..5 {
        client
            .post(server.url("/api/v1/auth/login_web"))
            .json(&json!({"username": "alice", "password": "wrong"}))
            .header("x-forwarded-for", "198.51.100.7")
            .send()
            .unwrap();
    }
    server.terminate();
    let list = kunci.run(&["user", "list"]).success().stdout();
    let line = list.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(line.contains("locked until 20"), "{list}");
    let unlocked = kunci.run(&["user", "unlock", "alice"]).success().stdout();
    assert!(unlocked.contains("is unlocked"), "{unlocked}");
    let list = kunci.run(&["user", "list"]).success().stdout();
    assert!(!list.contains("locked until"), "{list}");
}

#[test]
fn env_encrypt_warns_about_names_kunci_would_refuse() {
    let (kunci, _) = project_with_only_base();
    kunci.write(
        ".env.staging",
        "KUNCI__LOGGER__LEVEL=warn\nSTRIPE_KEY=sk_live_CANARYvalue\nKUNCI__SECURTY__LOCKOUT_HOURS=2\n",
    );
    let outcome = kunci.run(&["env", "encrypt", "staging"]);
    outcome.success();
    let said = outcome.stderr();
    assert!(
        said.contains("warning: STRIPE_KEY is not a configuration key"),
        "{said}"
    );
    assert!(
        said.contains("KUNCI__SECURTY__LOCKOUT_HOURS is not a configuration key"),
        "{said}"
    );
    assert!(!said.contains("KUNCI__LOGGER__LEVEL is not"), "{said}");
    assert!(!said.contains("CANARY"), "never a value: {said}");
}

#[test]
fn restore_and_rollback_refuse_while_the_server_runs() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    let backup = kunci.path("db.kbk");
    kunci
        .run(&["backup", "create", "--out", backup.to_str().unwrap()])
        .success();
    let server = kunci.serve(&[]);
    let restore = kunci.run(&["backup", "restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(restore.code(), Some(1), "{}", restore.all());
    assert!(
        restore
            .stderr()
            .contains("`kunci serve` runs on this project"),
        "{}",
        restore.all()
    );
    let rollback = kunci.run(&["db", "rollback"]);
    assert_eq!(rollback.code(), Some(1), "{}", rollback.all());
    assert!(
        rollback.stderr().contains("--i-know-the-server-is-running"),
        "{}",
        rollback.all()
    );
    server.terminate();
    // Stopped: both go ahead.
    kunci
        .run(&["backup", "restore", backup.to_str().unwrap(), "--force"])
        .success();
    kunci.run(&["db", "rollback"]).success();
}

#[tokio::test]
async fn every_audited_admin_action_names_its_kid_and_ip_whoever_acts() {
    use kunci_domain::clock::Clock as _;
    let app = TestApp::builder()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var(
            "KUNCI__UPSTREAM__GOOGLE__CX",
            "017576662512468239146:omuauf_lfve",
        )
        .spawn()
        .await
        .unwrap();
    app.add_accounts(&[("root", true), ("alice", false)]).await;
    let key = |n: u32| format!("AIzaSyTest{n:029}");
    // Cookie: create a key.
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let created = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": key(1), "upstream": "google"}),
            true,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    // Bearer: disable it.
    let bearer = format!("Bearer {}", app.access_token("root", "audit-0001").await);
    let patched = app
        .client
        .patch(app.url(&format!("/api/v1/admin/api-keys/{id}")))
        .header("authorization", &bearer)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    // Signature: delete it, and end alice's sessions.
    let secret = app
        .clients
        .add(
            &kunci_domain::audit::Actor::cli(),
            "deploy",
            kunci_domain::session::Scope::Admin,
        )
        .await
        .unwrap();
    for (method, path) in [
        ("DELETE", format!("/api/v1/admin/api-keys/{id}")),
        (
            "POST",
            "/api/v1/admin/accounts/alice/sessions/revoke_all".to_owned(),
        ),
    ] {
        let timestamp = app.clock.now_unix().to_string();
        let nonce = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            uuid::Uuid::new_v4().as_bytes(),
        );
        let canonical =
            kunci_crypto::signed_request::canonical(method, &path, &timestamp, &nonce, b"");
        let signature = kunci_crypto::signed_request::sign(secret.expose().as_bytes(), &canonical);
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .header("x-kunci-client", "deploy")
            .header("x-kunci-timestamp", timestamp)
            .header("x-kunci-nonce", nonce)
            .header("x-kunci-signature", signature)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
    }
    let entries = app.audit.page(0, 1000).await.unwrap();
    let admin: Vec<_> = entries
        .iter()
        .filter(|e| e.record.action.starts_with("admin."))
        .collect();
    let actions: Vec<&str> = admin.iter().map(|e| e.record.action.as_str()).collect();
    for expected in [
        "admin.api_key.created",
        "admin.api_key.updated",
        "admin.api_key.deleted",
        "admin.sessions.revoked",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    for entry in admin {
        assert!(
            entry.record.kid.is_some(),
            "{} has no kid",
            entry.record.action
        );
        assert!(
            entry.ip_hash().is_some(),
            "{} has no IP hash",
            entry.record.action
        );
    }
}
