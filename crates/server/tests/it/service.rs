//! Signed service requests against the running application: accepted, each refusal code,
//! replays across instances sharing Redis, a Redis flush, a Redis outage.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::signed_request;
use kunci_domain::clock::Clock as _;
use serde_json::Value;

use crate::helpers::service_url;

use crate::helpers::app::TestAppBuilder;
use crate::helpers::{TcpProxy, TestApp};

/// One request as a client would send it.
struct Signed {
    client: String,
    secret: String,
    method: &'static str,
    path: String,
    body: Vec<u8>,
    timestamp: i64,
    nonce: String,
}

fn nonce() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

impl Signed {
    fn new(app: &TestApp, client: &str, secret: &str) -> Self {
        Self {
            client: client.to_owned(),
            secret: secret.to_owned(),
            method: "POST",
            path: "/api/v1/service/ping?source=test".to_owned(),
            body: br#"{"hello":"world"}"#.to_vec(),
            timestamp: app.clock.now_unix(),
            nonce: nonce(),
        }
    }

    fn signature(&self) -> String {
        let canonical = signed_request::canonical(
            self.method,
            &self.path,
            &self.timestamp.to_string(),
            &self.nonce,
            &self.body,
        );
        signed_request::sign(self.secret.as_bytes(), &canonical)
    }

    /// Sends it as signed, with `body` (possibly not the one signed).
    async fn send_body(&self, app: &TestApp, body: Vec<u8>) -> (u16, Value) {
        self.send_with(app, body, &[]).await
    }

    /// Sends it as signed, with `body` and other headers besides.
    async fn send_with(
        &self,
        app: &TestApp,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = app
            .client
            .request(self.method.parse().unwrap(), app.url(&self.path));
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request
            .header("x-kunci-client", &self.client)
            .header("x-kunci-timestamp", self.timestamp.to_string())
            .header("x-kunci-nonce", &self.nonce)
            .header("x-kunci-signature", self.signature())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, app: &TestApp) -> (u16, Value) {
        self.send_body(app, self.body.clone()).await
    }
}

async fn with_client(app: &TestApp, name: &str) -> String {
    app.clients
        .add(
            &kunci_domain::audit::Actor::cli(),
            name,
            kunci_domain::session::Scope::User,
        )
        .await
        .unwrap()
        .expose()
        .to_owned()
}

#[tokio::test]
async fn a_signed_request_is_accepted_once() {
    let app = TestApp::spawn().await;
    let secret = with_client(&app, "billing").await;
    let request = Signed::new(&app, "billing", &secret);
    let (status, body) = request.send(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client"], "billing");
    assert_eq!(body["bytes"], 17, "the body reaches the handler intact");
    let (status, body) = request.send(&app).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("replayed_nonce"))
    );
}

/// A signed `method path` with `body`.
fn signed(
    app: &TestApp,
    client: &str,
    secret: &str,
    method: &'static str,
    path: &str,
    body: &str,
) -> Signed {
    Signed {
        method,
        path: path.to_owned(),
        body: body.as_bytes().to_vec(),
        ..Signed::new(app, client, secret)
    }
}

#[tokio::test]
async fn a_service_client_is_a_principal_on_the_api_with_its_own_scopes() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("root", true)]).await;
    let secret = with_client(&app, "billing").await;
    let (status, me) = signed(&app, "billing", &secret, "GET", "/api/v1/me", "")
        .send(&app)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me,
        serde_json::json!({"sub": "client:billing", "username": "billing", "scopes": ["basic", "user"], "auth": "signature"})
    );
    // Judged by the signature alone: an administrator's cookies and token beside it grant
    // nothing.
    let root = crate::helpers::Browser::logged_in(&app.url(""), "root").await;
    let cookies: Vec<String> = root
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let cookie = cookies.join("; ");
    let (status, body) = signed(
        &app,
        "billing",
        &secret,
        "GET",
        "/api/v1/admin/api-keys",
        "",
    )
    .send_with(
        &app,
        Vec::new(),
        &[("cookie", &cookie), ("authorization", "Bearer x.y.z")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{body}"
    );
    // A page is not for a signature.
    let (status, _) = signed(&app, "billing", &secret, "GET", "/", "")
        .send_with(&app, Vec::new(), &[("accept", "text/html")])
        .await;
    assert_eq!(status, 401);
    // An account's own routes have no account here.
    let (status, body) = signed(&app, "billing", &secret, "GET", "/api/v1/me/sessions", "")
        .send(&app)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
}

#[tokio::test]
async fn an_admin_client_drives_the_admin_api_audited_as_itself_without_csrf() {
    let app = TestApp::spawn().await;
    let secret = app
        .clients
        .add(
            &kunci_domain::audit::Actor::cli(),
            "deploy",
            kunci_domain::session::Scope::Admin,
        )
        .await
        .unwrap()
        .expose()
        .to_owned();
    let (status, body) = signed(&app, "deploy", &secret, "GET", "/api/v1/me", "")
        .send(&app)
        .await;
    assert_eq!(
        body["scopes"],
        serde_json::json!(["basic", "user", "admin"]),
        "{status} {body}"
    );
    let (status, body) = signed(
        &app,
        "deploy",
        &secret,
        "POST",
        "/api/v1/admin/api-keys",
        "{}",
    )
    .send(&app)
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "through authentication, scope and CSRF to the handler: {body}"
    );
    let (status, body) = signed(
        &app,
        "deploy",
        &secret,
        "POST",
        "/api/v1/admin/accounts/nobody/sessions/revoke_all",
        "",
    )
    .send(&app)
    .await;
    assert_eq!(status, 404, "{body}");
    app.add_accounts(&[("alice", false)]).await;
    let (status, body) = signed(
        &app,
        "deploy",
        &secret,
        "POST",
        "/api/v1/admin/accounts/alice/sessions/revoke_all",
        "",
    )
    .send(&app)
    .await;
    assert_eq!(status, 200, "{body}");
    let entries = app.audit.page(0, 1000).await.unwrap();
    let entry = entries
        .iter()
        .find(|e| e.record.action == "admin.sessions.revoked")
        .expect("audited");
    assert_eq!(entry.record.actor, "client:deploy");
    assert_eq!(
        entry.record.kid.as_deref(),
        Some("deploy"),
        "the client verified it"
    );
}

#[tokio::test]
async fn forward_auth_admits_a_signed_request_for_the_request_the_proxy_names() {
    let app = TestApp::spawn().await;
    let secret = with_client(&app, "billing").await;
    let original = signed(&app, "billing", &secret, "GET", "/reports/7?full=1", "");
    let response = app
        .client
        .get(app.url("/auth/verify"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/reports/7?full=1")
        .header("x-kunci-client", "billing")
        .header("x-kunci-timestamp", original.timestamp.to_string())
        .header("x-kunci-nonce", &original.nonce)
        .header("x-kunci-signature", original.signature())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-kunci-user"], "billing");
    assert_eq!(response.headers()["x-kunci-sub"], "client:billing");
    // Signed for another URI: refused.
    let other = signed(&app, "billing", &secret, "GET", "/reports/8", "");
    let response = app
        .client
        .get(app.url("/auth/verify"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/reports/7?full=1")
        .header("x-kunci-client", "billing")
        .header("x-kunci-timestamp", other.timestamp.to_string())
        .header("x-kunci-nonce", &other.nonce)
        .header("x-kunci-signature", other.signature())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn every_refusal_has_its_code() {
    let app = TestApp::spawn().await;
    let secret = with_client(&app, "billing").await;
    let code = |(status, body): (u16, Value)| {
        assert_eq!(status, 401, "{body}");
        body["error"].as_str().unwrap().to_owned()
    };

    let mut changed = Signed::new(&app, "billing", &secret);
    let mut body = changed.body.clone();
    body[3] ^= 1;
    assert_eq!(
        code(changed.send_body(&app, body).await),
        "bad_signature",
        "one byte of body"
    );
    changed.nonce = nonce();
    changed.path = "/api/v1/service/ping?source=other".to_owned();
    let signature = changed.signature();
    let response = app
        .client
        .post(app.url("/api/v1/service/ping?source=test"))
        .header("x-kunci-client", "billing")
        .header("x-kunci-timestamp", changed.timestamp.to_string())
        .header("x-kunci-nonce", &changed.nonce)
        .header("x-kunci-signature", signature)
        .body(changed.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "the query is signed too");

    let wrong_secret = Signed::new(&app, "billing", "kcs_not-the-secret");
    assert_eq!(code(wrong_secret.send(&app).await), "bad_signature");
    let unknown = Signed::new(&app, "nobody", &secret);
    assert_eq!(
        code(unknown.send(&app).await),
        "bad_signature",
        "same answer as a wrong signature"
    );

    let mut old = Signed::new(&app, "billing", &secret);
    old.timestamp -= 301;
    assert_eq!(code(old.send(&app).await), "stale_timestamp");
    let mut future = Signed::new(&app, "billing", &secret);
    future.timestamp += 301;
    assert_eq!(code(future.send(&app).await), "stale_timestamp");
    let mut edge = Signed::new(&app, "billing", &secret);
    edge.timestamp -= 300;
    assert_eq!(edge.send(&app).await.0, 200, "300 s is inside the window");

    let mut short = Signed::new(&app, "billing", &secret);
    short.nonce = URL_SAFE_NO_PAD.encode([1u8; 15]);
    assert_eq!(
        code(short.send(&app).await),
        "bad_signature",
        "nonces have 16 bytes at least"
    );

    let missing = app
        .client
        .post(app.url("/api/v1/service/ping"))
        .header("x-kunci-client", "billing")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "KunciSignature realm=\"kunci\""
    );

    app.clients
        .revoke(&kunci_domain::audit::Actor::cli(), "billing")
        .await
        .unwrap();
    let revoked = Signed::new(&app, "billing", &secret);
    assert_eq!(
        code(revoked.send(&app).await),
        "bad_signature",
        "revoked at once"
    );
}

#[tokio::test]
async fn repeated_signature_headers_are_refused() {
    let app = TestApp::spawn().await;
    let secret = with_client(&app, "billing").await;
    let request = Signed::new(&app, "billing", &secret);
    let response = app
        .client
        .post(app.url(&request.path))
        .header("x-kunci-client", "billing")
        .header("x-kunci-client", "other")
        .header("x-kunci-timestamp", request.timestamp.to_string())
        .header("x-kunci-nonce", &request.nonce)
        .header("x-kunci-signature", request.signature())
        .body(request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_verification() {
    let app = TestApp::spawn().await;
    let secret = with_client(&app, "billing").await;
    let mut request = Signed::new(&app, "billing", &secret);
    request.body = vec![b'a'; 1024 * 1024 + 1];
    let (status, body) = request.send(&app).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large"))
    );
}

fn on_redis(builder: TestAppBuilder, url: &str, prefix: &str) -> TestAppBuilder {
    builder
        .var("KUNCI__DATA__REDIS_URL", url)
        .var("KUNCI__DATA__REDIS_PREFIX", prefix)
}

#[tokio::test]
async fn a_nonce_used_on_one_instance_is_refused_by_another_and_after_a_redis_flush() {
    let Some(redis) = service_url("KUNCI_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let one = on_redis(TestApp::builder(), &redis, &prefix)
        .spawn()
        .await
        .unwrap();
    let two = on_redis(TestApp::builder().sharing(&one), &redis, &prefix)
        .spawn()
        .await
        .unwrap();
    let secret = with_client(&one, "billing").await;
    let request = Signed::new(&one, "billing", &secret);
    assert_eq!(request.send(&one).await.0, 200);
    let (status, body) = request.send(&two).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("replayed_nonce"))
    );

    // What FLUSHALL does to this deployment: every key under its prefix is gone. (The test
    // Redis is shared by tests running in parallel, so it deletes only its own keys.)
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: i64 = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
    one.clock.advance(time::Duration::seconds(30));

    let (status, body) = request.send(&two).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("replayed_nonce")),
        "a request signed before the flush stays refused"
    );
    let fresh = Signed::new(&one, "billing", &secret);
    assert_eq!(fresh.send(&two).await.0, 200, "new requests go through");
}

#[tokio::test]
async fn with_redis_down_signed_requests_fail_closed() {
    let Some(redis) = service_url("KUNCI_TEST_REDIS_URL") else {
        return;
    };
    let target = redis
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = TcpProxy::start(target).await;
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let url = format!("redis://{}/0", proxy.address);
    let app = on_redis(TestApp::builder(), &url, &prefix)
        .spawn()
        .await
        .unwrap();
    let secret = with_client(&app, "billing").await;
    assert_eq!(
        Signed::new(&app, "billing", &secret).send(&app).await.0,
        200
    );
    proxy.cut().await;
    let (status, body) = Signed::new(&app, "billing", &secret).send(&app).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("store_unavailable"))
    );
}
