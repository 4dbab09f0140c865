//! Tier-1 rate limits over HTTP: per real client address, not fooled by a forged
//! `X-Forwarded-For`, shared through Redis, and still enforced per instance when Redis is down.

use serde_json::json;

use crate::helpers::app::TestAppBuilder;
use crate::helpers::{Browser, TcpProxy, TestApp, service_url};

fn five_logins_a_minute(builder: TestAppBuilder) -> TestAppBuilder {
    builder.var("KUNCI__SECURITY__LOGIN_REQUESTS_PER_MINUTE", "5")
}

/// A wrong login under a fresh name each time (so that the lockout never answers first).
async fn login_status(app: &TestApp, forwarded_for: Option<&str>) -> (u16, Option<String>, String) {
    login_as(
        app,
        &format!("user-{}", uuid::Uuid::new_v4().simple()),
        forwarded_for,
    )
    .await
}

async fn login_as(
    app: &TestApp,
    user: &str,
    forwarded_for: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut b = Browser::new(&app.url(""));
    let body = serde_json::to_vec(&json!({"username": user, "password": "wrong"})).unwrap();
    let headers: Vec<(&str, &str)> = forwarded_for
        .map(|ip| vec![("x-forwarded-for", ip)])
        .unwrap_or_default();
    let page = b
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login_web",
            "application/json",
            &headers,
            Some(("application/json", body)),
        )
        .await;
    let retry = page
        .headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let code = page.json()["error"].as_str().unwrap_or_default().to_owned();
    (page.status, retry, code)
}

#[tokio::test]
async fn the_sixth_login_in_a_minute_is_refused_whatever_the_client_claims() {
    let app = five_logins_a_minute(TestApp::builder())
        .spawn()
        .await
        .unwrap();
    for i in 0..5 {
        let (status, _, _) = login_status(&app, Some(&format!("198.51.100.{i}"))).await;
        assert_eq!(status, 401);
    }
    let (status, retry, code) = login_status(&app, Some("203.0.113.99")).await;
    assert_eq!(
        (status, code.as_str()),
        (429, "rate_limited"),
        "a forged X-Forwarded-For from an untrusted peer"
    );
    assert_eq!(retry.as_deref(), Some("12"));
    app.clock.advance(time::Duration::seconds(12));
    assert_eq!(
        login_status(&app, None).await.0,
        401,
        "one more after the interval"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let app = five_logins_a_minute(TestApp::builder())
        .var("KUNCI__ENVIRONMENT__TRUSTED_PROXIES", "127.0.0.1/32")
        .spawn()
        .await
        .unwrap();
    for i in 0..10 {
        let (status, _, _) = login_status(&app, Some(&format!("spoofed, 198.51.100.{i}"))).await;
        assert_eq!(status, 401, "client {i}");
    }
    for _ in 0..5 {
        login_status(&app, Some("6.6.6.6, 203.0.113.7")).await;
    }
    // The leftmost entry is the client's own claim; the proxy's hop decides.
    let (status, _, _) = login_status(&app, Some("1.2.3.4, 203.0.113.7")).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn instances_sharing_redis_share_the_budget_and_fall_back_when_it_goes() {
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
    let on_redis = |b: TestAppBuilder| {
        five_logins_a_minute(b)
            .var("KUNCI__DATA__REDIS_URL", &url)
            .var("KUNCI__DATA__REDIS_PREFIX", &prefix)
    };
    let one = on_redis(TestApp::builder()).spawn().await.unwrap();
    let two = on_redis(TestApp::builder().sharing(&one))
        .spawn()
        .await
        .unwrap();
    for app in [&one, &two, &one, &two, &one] {
        assert_eq!(login_status(app, None).await.0, 401);
    }
    assert_eq!(
        login_status(&two, None).await.0,
        429,
        "one budget for both instances"
    );

    proxy.cut().await;
    let three = on_redis(TestApp::builder().sharing(&one))
        .spawn()
        .await
        .unwrap();
    for _ in 0..5 {
        assert_eq!(login_status(&three, None).await.0, 401, "per instance now");
    }
    assert_eq!(
        login_status(&three, None).await.0,
        429,
        "still limited without Redis"
    );
    let ready: serde_json::Value = three.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["degraded"]["rate_limits"]["mode"], "per_instance");
    // Lockout never depended on Redis: five failures lock a name.
    for _ in 0..5 {
        three.clock.advance(time::Duration::seconds(13));
        assert_eq!(login_as(&three, "alice", None).await.0, 401);
    }
    three.clock.advance(time::Duration::seconds(13));
    let (status, _, code) = login_as(&three, "alice", None).await;
    assert_eq!((status, code.as_str()), (429, "account_locked"));
}

#[tokio::test]
async fn one_address_gets_a_budget_of_new_browsers() {
    let app = TestApp::builder()
        .var("KUNCI__SECURITY__NEW_BROWSERS_PER_MINUTE", "3")
        .spawn()
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let visit = || async {
        client
            .get(app.url("/login"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    };
    let mut browsers = Vec::new();
    for _ in 0..3 {
        let welcomed = visit().await;
        assert_eq!(welcomed.status(), 303, "a new browser is bootstrapped");
        let cookies: Vec<String> = welcomed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        assert!(!cookies.is_empty());
        browsers.push(cookies.join("; "));
    }
    let refused = visit().await;
    assert_eq!(refused.status(), 429, "the fourth new browser in a minute");
    assert!(refused.headers().contains_key("retry-after"));
    assert!(
        refused.headers().get("set-cookie").is_none(),
        "no session is stored for a refused browser"
    );
    // Browsers that already have their session are not new: they keep being served.
    let known = client
        .get(app.url("/login?_mk=1"))
        .header("accept", "text/html")
        .header("cookie", &browsers[0])
        .send()
        .await
        .unwrap();
    assert_eq!(known.status(), 200);
}
