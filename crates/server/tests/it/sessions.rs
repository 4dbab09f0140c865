//! The page middleware end to end (SPEC §4): bootstrap, refused cookies, API answers, silent
//! refresh across expiry and key rotation, idle and absolute timeouts, scopes, store outages,
//! several instances.

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use kunci_crypto::keyring::KeyPurpose;
use kunci_domain::clock::Clock as _;
use kunci_domain::environment::Environment;
use kunci_domain::session::{Scope, SessionId};
use time::Duration;

use crate::helpers::{Browser, TcpProxy, TestApp, TestBackend, service_url};

fn kid_of(token: &str) -> &str {
    token.split('.').nth(1).unwrap()
}

/// Plays a login: the browser's session becomes `alice`'s with scopes basic and user.
async fn log_in(app: &TestApp, browser: &mut Browser, scopes: Vec<Scope>) {
    let id = SessionId::parse(&browser.cookies["kunci_session"]).unwrap();
    let uid = browser.cookies["kunci_uid"].clone();
    let (new_id, _) = app
        .sessions
        .regenerate(&id, &uid, Some("alice".to_owned()), scopes)
        .await
        .unwrap();
    browser
        .cookies
        .insert("kunci_session".to_owned(), new_id.expose().to_owned());
}

#[tokio::test]
async fn a_new_browser_gets_its_cookies_and_one_redirect_then_the_page() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    let first = browser.open("/?tab=2").await;
    assert_eq!(first.status, 303);
    assert_eq!(first.location(), Some("/?tab=2&_mk=1"));
    for name in [
        "kunci_uid",
        "kunci_session",
        "kunci_auth",
        "kunci_boot",
        "kunci_csrf",
    ] {
        assert!(
            first.set.get(name).is_some_and(|v| !v.is_empty()),
            "{name} not set: {:?}",
            first.set
        );
    }
    let uid = &first.set["kunci_uid"];
    assert_eq!(uuid::Uuid::parse_str(uid).unwrap().get_version_num(), 4);
    assert!(SessionId::parse(&first.set["kunci_session"]).is_some());
    let lines = first.set_cookie_lines().join("\n");
    assert!(
        lines.contains("kunci_session=")
            && lines.contains("HttpOnly")
            && lines.contains("SameSite=Lax")
    );
    assert!(
        first
            .set_cookie_lines()
            .iter()
            .any(|l| l.starts_with("kunci_csrf=") && !l.contains("HttpOnly"))
    );

    let page = browser.open("/?tab=2&_mk=1").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("browsing as a guest"), "{}", page.body);
    assert!(
        page.set.is_empty(),
        "a valid token is not reissued: {:?}",
        page.set
    );
}

#[tokio::test]
async fn a_browser_refusing_cookies_goes_to_forbidden_and_never_loops() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    browser.refuses_cookies = true;
    let first = browser.open("/").await;
    assert_eq!(first.location(), Some("/?_mk=1"));
    let second = browser.open("/?_mk=1").await;
    assert_eq!(
        (second.status, second.location()),
        (303, Some("/forbidden"))
    );
    let forbidden = browser.open("/forbidden").await;
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.body.contains("refused the cookies"));
}

#[tokio::test]
async fn api_calls_never_redirect() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    let response = browser.api("/api/v1/session").await;
    assert_eq!(response.status, 401);
    assert_eq!(response.headers["content-type"], "application/problem+json");
    assert_eq!(response.json()["error"], "unauthenticated");
    assert!(response.location().is_none());
    // Even an HTML Accept header does not turn an /api/ call into a page.
    let html = browser.open("/api/v1/session").await;
    assert_eq!(html.status, 401);
}

#[tokio::test]
async fn an_expired_token_with_a_live_session_is_refreshed_silently() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    let before = browser.cookies["kunci_auth"].clone();
    app.clock.advance(Duration::minutes(16));
    let page = browser.open("/").await;
    assert_eq!(page.status, 200);
    let after = page.set.get("kunci_auth").expect("a fresh token");
    assert_ne!(after, &before);
    assert_eq!(browser.api("/api/v1/session").await.status, 200);
}

#[tokio::test]
async fn rotations_log_nobody_out_and_the_next_request_gets_the_new_key() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(9));
        let new_kid = app.keys.rotate(KeyPurpose::Cookie).await.unwrap();
        let page = browser.open("/").await;
        assert_eq!(page.status, 200);
        let token = page
            .set
            .get("kunci_auth")
            .expect("reissued under the new key");
        assert_eq!(kid_of(token), new_kid.as_str());
        assert!(
            page.set.contains_key("kunci_csrf"),
            "the CSRF token follows the key"
        );
    }
}

#[tokio::test]
async fn the_session_is_the_source_of_truth_when_the_token_disagrees() {
    let app = TestApp::spawn().await;
    let mut alice = Browser::new(&app.url(""));
    alice.arrive("/").await;
    log_in(&app, &mut alice, vec![Scope::Basic, Scope::User]).await;
    let mut other = Browser::new(&app.url(""));
    other.arrive("/").await;
    // Another browser's (valid, signed) token with alice's session: the session decides.
    let theirs = other.cookies["kunci_auth"].clone();
    alice
        .cookies
        .insert("kunci_auth".to_owned(), theirs.clone());
    let me = alice.api("/api/v1/session").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["sub"], "alice");
    assert_ne!(me.set.get("kunci_auth"), Some(&theirs));
    // A tampered token is no token: refreshed from the session.
    let mut token = alice.cookies["kunci_auth"].clone();
    token.replace_range(token.len() - 3.., "AAA");
    alice.cookies.insert("kunci_auth".to_owned(), token);
    assert_eq!(alice.api("/api/v1/session").await.status, 200);
}

#[tokio::test]
async fn an_idle_logged_in_session_ends_in_login_for_pages_and_401_for_the_api() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    log_in(&app, &mut browser, vec![Scope::Basic, Scope::User]).await;
    let page = browser.open("/?year=2026").await;
    // The session changed at login: the middleware refreshed the token from it.
    assert_eq!(page.status, 200);
    assert!(page.set.contains_key("kunci_auth"));
    let mut api_browser = Browser::with_cookies_of(&app.url(""), &browser);

    app.clock.advance(Duration::minutes(29));
    assert_eq!(
        browser.open("/").await.status,
        200,
        "29 minutes idle is fine"
    );
    app.clock.advance(Duration::minutes(31));
    let page = browser.open("/?year=2026").await;
    assert_eq!(
        (page.status, page.location()),
        (303, Some("/login?next=/%3Fyear%3D2026&expired=1"))
    );
    let api = api_browser.api("/api/v1/session").await;
    assert_eq!(api.status, 401);
    assert_eq!(api.json()["error"], "session_expired");
    let login = browser.open("/login?next=/%3Fyear%3D2026&expired=1").await;
    let login = if login.status == 303 {
        browser.open(login.location().unwrap()).await
    } else {
        login
    };
    assert_eq!(login.status, 200);
    assert!(
        login.body.contains("Your session has ended"),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("value=\"&#x2f;?year=2026\""),
        "{}",
        login.body
    );
}

#[tokio::test]
async fn an_active_session_still_ends_at_the_absolute_timeout() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    log_in(&app, &mut browser, vec![Scope::Basic, Scope::User]).await;
    for _ in 0..35 {
        app.clock.advance(Duration::minutes(20));
        assert_eq!(browser.api("/api/v1/session").await.status, 200);
    }
    app.clock.advance(Duration::minutes(20));
    let api = browser.api("/api/v1/session").await;
    assert_eq!(
        (api.status, api.json()["error"].as_str()),
        (401, Some("session_expired"))
    );
}

#[tokio::test]
async fn an_idle_anonymous_browser_is_simply_bootstrapped_again() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    let uid = browser.cookies["kunci_uid"].clone();
    app.clock.advance(Duration::minutes(45));
    let page = browser.open("/").await;
    assert_eq!((page.status, page.location()), (303, Some("/?_mk=1")));
    assert_eq!(
        browser.cookies["kunci_uid"], uid,
        "the browser keeps its id"
    );
    assert_eq!(browser.open("/?_mk=1").await.status, 200);
}

#[tokio::test]
async fn routes_declare_their_scope() {
    async fn report() -> &'static str {
        "report"
    }
    let admin_only = Router::new()
        .route("/admin/report", get(report))
        .route("/api/v1/admin/report", get(report))
        .route_layer(from_fn_with_state(Scope::Admin, kunci_web::require_scope));
    let app = TestApp::builder().routes(admin_only).spawn().await.unwrap();
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    let page = browser.open("/admin/report").await;
    assert_eq!(
        (page.status, page.location()),
        (303, Some("/login?next=/admin/report")),
        "a visitor who is not logged in is asked to log in: that may give the scope"
    );
    let api = browser.api("/api/v1/admin/report").await;
    assert_eq!(
        (api.status, api.json()["error"].as_str()),
        (403, Some("insufficient_scope"))
    );

    log_in(&app, &mut browser, vec![Scope::Basic, Scope::User]).await;
    let page = browser.open("/admin/report").await;
    assert_eq!(
        (page.status, page.location()),
        (303, Some("/forbidden")),
        "a logged-in user without the scope"
    );
    let forbidden = browser.open("/forbidden").await;
    assert!(
        forbidden.body.contains("href=\"/login\""),
        "a way to sign in as someone else"
    );

    log_in(
        &app,
        &mut browser,
        vec![Scope::Basic, Scope::User, Scope::Admin],
    )
    .await;
    let allowed = browser.api("/api/v1/admin/report").await;
    assert_eq!((allowed.status, allowed.body.as_str()), (200, "report"));
}

#[tokio::test]
async fn staging_cookies_are_secure_and_host_prefixed() {
    let app = TestApp::builder()
        .environment(Environment::Staging)
        .spawn()
        .await
        .unwrap();
    let mut browser = Browser::new(&app.url(""));
    let first = browser.open("/").await;
    let lines = first.set_cookie_lines();
    assert_eq!(lines.len(), 5);
    for line in lines {
        assert!(line.starts_with("__Host-kunci_"), "{line}");
        assert!(
            line.contains("Secure") && line.contains("Path=/") && !line.contains("Domain"),
            "{line}"
        );
    }
    // The unprefixed names a subdomain could plant are not read.
    let mut planted = Browser::new(&app.url(""));
    for (name, value) in &browser.cookies {
        planted
            .cookies
            .insert(name.trim_start_matches("__Host-").to_owned(), value.clone());
    }
    assert_eq!(planted.api("/api/v1/session").await.status, 401);
    assert_eq!(browser.api("/api/v1/session").await.status, 200);
}

#[tokio::test]
async fn pages_carry_a_fresh_csp_nonce_that_their_script_uses() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    let one = browser.arrive("/").await;
    let two = browser.open("/").await;
    let nonce = |page: &crate::helpers::browser::Page| {
        let csp = page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            page.body.contains("<script src=\"/static/kunci.")
                && page
                    .body
                    .contains(&format!(".js\" nonce=\"{nonce}\"></script>")),
            "{}",
            page.body
        );
        nonce
    };
    assert_ne!(nonce(&one), nonce(&two));
}

#[tokio::test]
async fn the_javascript_helper_is_served_with_revalidation() {
    let app = TestApp::spawn().await;
    let js = app.get("/static/kunci.js").await;
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(js.headers()["cache-control"], "no-cache");
    let etag = js.headers()["etag"].clone();
    let body = js.text().await.unwrap();
    assert!(body.contains("visibilitychange") && body.contains("token_expired"));
    assert!(
        !body.contains("localStorage.setItem"),
        "tokens stay in memory"
    );
    let again = app
        .client
        .get(app.url("/static/kunci.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(app.get("/static/nope.js").await.status(), 404);
}

#[tokio::test]
async fn the_jwks_publishes_active_and_verify_jwt_keys() {
    let app = TestApp::spawn().await;
    let jwks: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (
            keys[0]["kty"].as_str(),
            keys[0]["crv"].as_str(),
            keys[0]["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let first = keys[0]["kid"].as_str().unwrap().to_owned();
    let second = app.keys.rotate(KeyPurpose::Jwt).await.unwrap();
    let jwks: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&first.as_str()) && kids.contains(&second.as_str()),
        "{kids:?}"
    );
    assert!(!jwks.to_string().contains("\"d\""), "no private part");
}

#[tokio::test]
async fn the_null_store_cannot_loop_either() {
    let app = TestApp::builder()
        .var("KUNCI__DATA__SESSION_STORE", "null")
        .spawn()
        .await
        .unwrap();
    let mut browser = Browser::new(&app.url(""));
    let first = browser.open("/").await;
    assert_eq!(first.location(), Some("/?_mk=1"));
    let second = browser.open("/?_mk=1").await;
    assert_eq!(second.location(), Some("/forbidden"));
}

/// An application whose sessions are in Redis, reached through a proxy the test can cut or
/// reset; `None` where no Redis is configured (outside CI).
async fn behind_a_proxy_to_redis() -> Option<(TcpProxy, TestApp)> {
    let url = service_url("KUNCI_TEST_REDIS_URL")?;
    let target = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = TcpProxy::start(target).await;
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::builder()
        .var("KUNCI__DATA__SESSION_STORE", "redis")
        .var(
            "KUNCI__DATA__REDIS_URL",
            &format!("redis://{}/0", proxy.address),
        )
        .var("KUNCI__DATA__REDIS_PREFIX", &prefix)
        .spawn()
        .await
        .unwrap();
    Some((proxy, app))
}

#[tokio::test]
async fn redis_going_down_mid_session_answers_503_and_lets_nothing_through() {
    let Some((proxy, app)) = behind_a_proxy_to_redis().await else {
        return;
    };
    let mut browser = Browser::new(&app.url(""));
    assert_eq!(browser.arrive("/").await.status, 200);
    proxy.cut().await;
    let api = browser.api("/api/v1/session").await;
    assert_eq!(
        (api.status, api.json()["error"].as_str()),
        (503, Some("store_unavailable"))
    );
    assert!(
        api.set.is_empty(),
        "no cookie is cleared: the user is not logged out"
    );
    let page = browser.open("/").await;
    assert_eq!(page.status, 503);
    let mut stranger = Browser::new(&app.url(""));
    assert_eq!(
        stranger.open("/").await.status,
        503,
        "no new session without the store"
    );
}

#[tokio::test]
async fn two_instances_share_sessions_and_see_a_rotation_within_two_seconds() {
    let Some(redis) = service_url("KUNCI_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let shared = |builder: crate::helpers::app::TestAppBuilder| {
        builder
            .var("KUNCI__DATA__SESSION_STORE", "redis")
            .var("KUNCI__DATA__REDIS_URL", &redis)
            .var("KUNCI__DATA__REDIS_PREFIX", &prefix)
            .var("KUNCI__ENVIRONMENT__INSTANCES", "2")
    };
    let Some(one) = shared(TestApp::builder().backend(TestBackend::Postgres))
        .spawn()
        .await
    else {
        return;
    };
    let two = shared(TestApp::builder().sharing(&one))
        .spawn()
        .await
        .unwrap();
    let mut browser = Browser::new(&one.url(""));
    browser.arrive("/").await;
    let mut on_two = Browser::with_cookies_of(&two.url(""), &browser);
    assert_eq!(
        on_two.api("/api/v1/session").await.status,
        200,
        "the session is shared"
    );

    let rotated = one.keys.rotate(KeyPurpose::Cookie).await.unwrap();
    // Polled every 50 ms, 40 times: the new key must be in use within 2 seconds.
    let mut seen = false;
    for _ in 0..40 {
        let response = on_two.api("/api/v1/session").await;
        assert_eq!(response.status, 200);
        if response
            .set
            .get("kunci_auth")
            .is_some_and(|t| kid_of(t) == rotated.as_str())
        {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        seen,
        "instance two still signs with the old key after 2 seconds"
    );
}

#[tokio::test]
async fn with_redis_a_rotation_is_announced_and_picked_up_before_the_periodic_reload() {
    let Some(redis) = service_url("KUNCI_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let shared = |builder: crate::helpers::app::TestAppBuilder| {
        builder
            .var("KUNCI__DATA__REDIS_URL", &redis)
            .var("KUNCI__DATA__REDIS_PREFIX", &prefix)
            .var("KUNCI__SECURITY__KEY_RELOAD_SECS", "60")
    };
    let Some(one) = shared(TestApp::builder().backend(TestBackend::Postgres))
        .spawn()
        .await
    else {
        return;
    };
    let two = shared(TestApp::builder().sharing(&one))
        .spawn()
        .await
        .unwrap();
    // Wait (bounded) until both instances listen on the channel.
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{prefix}keyring");
    let mut listening = 0;
    for _ in 0..100 {
        let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut conn)
            .await
            .unwrap();
        listening = counts.first().map_or(0, |(_, n)| *n);
        if listening >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        listening, 2,
        "both instances subscribe to key-ring announcements"
    );

    let rotated = one.keys.rotate(KeyPurpose::Jwt).await.unwrap();
    let mut seen = false;
    for _ in 0..40 {
        if two
            .keys
            .ring()
            .active(KeyPurpose::Jwt)
            .is_some_and(|k| k.kid == rotated)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        seen,
        "instance two did not hear of the rotation within 2 seconds"
    );
}

#[tokio::test]
async fn sessions_work_on_memcached_too() {
    let Some(url) = service_url("KUNCI_TEST_MEMCACHED_URL") else {
        return;
    };
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::builder()
        .var("KUNCI__DATA__SESSION_STORE", "memcached")
        .var("KUNCI__DATA__MEMCACHED_URL", &url)
        .var("KUNCI__DATA__REDIS_PREFIX", &prefix)
        .spawn()
        .await
        .unwrap();
    let mut browser = Browser::new(&app.url(""));
    assert_eq!(browser.arrive("/").await.status, 200);
    log_in(&app, &mut browser, vec![Scope::Basic, Scope::User]).await;
    let me = browser.api("/api/v1/session").await;
    assert_eq!((me.status, me.json()["sub"].as_str()), (200, Some("alice")));
    assert_eq!(
        app.sessions
            .store()
            .list_by_account("alice", app.clock.now_unix())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_first_request_after_redis_comes_back_is_served() {
    let Some((proxy, app)) = behind_a_proxy_to_redis().await else {
        return;
    };
    let mut browser = Browser::new(&app.url(""));
    assert_eq!(browser.arrive("/").await.status, 200);
    // Redis restarts: every connection kunci held is gone, the port answers again.
    proxy.reset().await;
    let api = browser.api("/api/v1/session").await;
    assert_eq!(
        api.status, 200,
        "the first request after the return: {}",
        api.body
    );
}
