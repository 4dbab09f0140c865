//! Brute-force lockout over HTTP: parallel guesses across two instances, the right password
//! refused while locked, locks that outlive a Redis flush, device cookies, unknown names alike.

use kunci_crypto::SecretString;
use serde_json::{Value, json};

use crate::helpers::{Browser, TestApp, TestBackend, service_url};

async fn add_alice(app: &TestApp) {
    app.accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &SecretString::new("correct horse"),
            false,
        )
        .await
        .unwrap();
}

async fn login(
    app: &TestApp,
    browser: &mut Browser,
    user: &str,
    password: &str,
) -> (u16, Value, Option<String>) {
    let page = browser
        .post_json(
            "/api/v1/auth/login_web",
            &json!({"username": user, "password": password}),
            false,
        )
        .await;
    let _ = app;
    let retry = page
        .headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (page.status, page.json(), retry)
}

async fn lock(app: &TestApp, user: &str) {
    for _ in 0..5 {
        let mut b = Browser::new(&app.url(""));
        assert_eq!(login(app, &mut b, user, "wrong").await.0, 401);
    }
}

fn denied_logins(entries: &[kunci_domain::audit::AuditEntry], user: &str) -> usize {
    entries
        .iter()
        .filter(|e| e.record.action == "account.login" && e.record.target == user)
        .count()
}

#[tokio::test]
async fn parallel_guesses_over_two_instances_get_five_evaluations_at_most() {
    parallel_guesses_over_two_instances(TestBackend::Postgres).await;
}

#[tokio::test]
async fn parallel_guesses_over_two_instances_on_mariadb_get_five_evaluations_at_most() {
    parallel_guesses_over_two_instances(TestBackend::MySql).await;
}

async fn parallel_guesses_over_two_instances(backend: TestBackend) {
    let Some(one) = TestApp::builder().backend(backend).spawn().await else {
        return;
    };
    let two = TestApp::builder().sharing(&one).spawn().await.unwrap();
    add_alice(&one).await;
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let url = if i % 2 == 0 { one.url("") } else { two.url("") };
            tokio::spawn(async move {
                let mut b = Browser::new(&url);
                b.post_json(
                    "/api/v1/auth/login_web",
                    &json!({"username": "alice", "password": format!("guess-{i}")}),
                    false,
                )
                .await
                .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(evaluated + locked, 50, "{statuses:?}");
    assert!(evaluated <= 5, "{evaluated} passwords evaluated");
    let entries = one.audit.page(0, 500).await.unwrap();
    assert!(denied_logins(&entries, "alice") <= 5);

    let mut owner = Browser::new(&two.url(""));
    let (status, body, retry) = login(&two, &mut owner, "alice", "correct horse").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("account_locked")),
        "the right password too"
    );
    assert!(retry.unwrap().parse::<i64>().unwrap() > 11 * 3600);
}

#[tokio::test]
async fn unknown_names_are_locked_alike_with_the_same_answers() {
    let app = TestApp::spawn().await;
    add_alice(&app).await;
    lock(&app, "alice").await;
    lock(&app, "nobody").await;
    let mut b = Browser::new(&app.url(""));
    let known = login(&app, &mut b, "alice", "x").await;
    let unknown = login(&app, &mut b, "nobody", "x").await;
    assert_eq!(known.0, 429);
    assert_eq!(known, unknown, "same status, body and Retry-After");
}

#[tokio::test]
async fn a_browser_that_logged_in_before_keeps_its_own_budget() {
    let app = TestApp::spawn().await;
    add_alice(&app).await;
    let mut owner = Browser::new(&app.url(""));
    assert_eq!(
        login(&app, &mut owner, "alice", "correct horse").await.0,
        200
    );
    assert!(
        owner.cookies.contains_key("kunci_device"),
        "{:?}",
        owner.cookies
    );
    owner
        .post_json("/api/v1/auth/logout", &json!({}), true)
        .await;

    lock(&app, "alice").await;
    let mut stranger = Browser::new(&app.url(""));
    assert_eq!(
        login(&app, &mut stranger, "alice", "correct horse").await.0,
        429
    );
    let (status, body, _) = login(&app, &mut owner, "alice", "correct horse").await;
    assert_eq!(status, 200, "the owner's browser is not locked out: {body}");

    // A device cookie for another name does not help.
    let mut other = Browser::new(&app.url(""));
    other
        .cookies
        .insert("kunci_device".into(), owner.cookies["kunci_device"].clone());
    lock(&app, "bob").await;
    assert_eq!(login(&app, &mut other, "bob", "whatever").await.0, 429);
}

#[tokio::test]
async fn a_lock_outlives_a_redis_flush() {
    let Some(redis) = service_url("KUNCI_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::builder()
        .var("KUNCI__DATA__REDIS_URL", &redis)
        .var("KUNCI__DATA__REDIS_PREFIX", &prefix)
        .var("KUNCI__DATA__SESSION_STORE", "redis")
        .spawn()
        .await
        .unwrap();
    add_alice(&app).await;
    lock(&app, "alice").await;
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let mut b = Browser::new(&app.url(""));
    assert_eq!(login(&app, &mut b, "alice", "correct horse").await.0, 429);
}

#[tokio::test]
async fn the_lock_ends_after_its_period_or_when_lifted() {
    let app = TestApp::spawn().await;
    add_alice(&app).await;
    lock(&app, "alice").await;
    app.clock.advance(time::Duration::hours(12));
    let mut b = Browser::new(&app.url(""));
    assert_eq!(login(&app, &mut b, "alice", "correct horse").await.0, 200);
}

#[tokio::test]
async fn the_owner_logging_in_from_many_places_at_once_is_never_locked_out() {
    let app = TestApp::spawn().await;
    add_alice(&app).await;
    let url = app.url("");
    let logins: Vec<_> = (0..30)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut b = Browser::new(&url);
                let page = b
                    .post_json(
                        "/api/v1/auth/login_web",
                        &json!({"username": "alice", "password": "correct horse"}),
                        false,
                    )
                    .await;
                let retry = page
                    .headers
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (
                    page.status,
                    page.json()["error"].as_str().map(str::to_owned),
                    retry,
                )
            })
        })
        .collect();
    for login in logins {
        match login.await.unwrap() {
            (200, _, _) => {}
            (429, error, retry) => {
                assert_eq!(
                    error.as_deref(),
                    Some("rate_limited"),
                    "never account_locked"
                );
                assert_eq!(retry.as_deref(), Some("1"), "come back in a second");
            }
            other => panic!("{other:?}"),
        }
    }
    let mut b = Browser::new(&url);
    let (status, _, _) = login(&app, &mut b, "alice", "correct horse").await;
    assert_eq!(status, 200, "nothing was locked");
}
