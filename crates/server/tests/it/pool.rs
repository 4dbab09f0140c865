//! The API-key pool end to end, against a fake Google that answers like the real one: keys
//! rotate on quota answers, a daily quota takes its whole project out until midnight in Los
//! Angeles, invalid keys are set aside and notified, a bad request blames no key, an exhausted
//! pool says when to come back, the cache spares quota, and keys never show in clear.

use kunci_crypto::SecretString;
use kunci_domain::apikeys::KeyStatus;
use kunci_upstream::google::GoogleKeyFormat;
use serde_json::{Value, json};

use crate::helpers::fake_google::{Behaviour, FakeGoogle};
use crate::helpers::sinks::WebhookSink;
use crate::helpers::{Browser, TestApp};

pub(crate) fn key(n: u32) -> String {
    format!("AIzaSyTest{n:029}")
}

pub(crate) async fn app_with(google: &FakeGoogle, hook: Option<&WebhookSink>) -> TestApp {
    let mut builder = TestApp::builder()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__BASE_URL", &google.url)
        .var("KUNCI__UPSTREAM__GOOGLE__CX", &google.cx);
    if let Some(hook) = hook {
        builder = builder
            .var("KUNCI__NOTIFICATION__WEBHOOK_URL", &hook.url)
            .var(
                "KUNCI__NOTIFICATION__WEBHOOK_SECRET",
                "webhook-secret-0123456789",
            )
            .var("KUNCI__NOTIFICATION__WEBHOOK_RETRIES", "0");
    }
    let app = builder.spawn().await.unwrap();
    app.accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &SecretString::new("alice pass"),
            false,
        )
        .await
        .unwrap();
    app.accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "root",
            &SecretString::new("root pass"),
            true,
        )
        .await
        .unwrap();
    app
}

pub(crate) async fn add_key(app: &TestApp, n: u32, priority: i64, group: Option<&str>) -> String {
    app.pool
        .add(
            &kunci_domain::audit::Actor::cli(),
            "google",
            &SecretString::new(key(n)),
            &GoogleKeyFormat,
            priority,
            group.map(str::to_owned),
        )
        .await
        .unwrap()
        .id
}

pub(crate) async fn user(app: &TestApp, name: &str) -> Browser {
    Browser::logged_in(&app.url(""), name).await
}

pub(crate) async fn search(
    b: &mut Browser,
    q: &str,
) -> (u16, Value, Option<String>, Option<String>) {
    let page = b.api(&format!("/api/v1/search?q={q}")).await;
    let header = |n: &str| page.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    (
        page.status,
        serde_json::from_str(&page.body).unwrap_or(Value::Null),
        header("x-cache"),
        header("retry-after"),
    )
}

/// `POST /api/v1/admin/api-keys/{id}/test`, with or without the CSRF token.
async fn test_key(b: &mut Browser, id: &str, csrf: bool) -> crate::helpers::browser::Page {
    b.post_json(
        &format!("/api/v1/admin/api-keys/{id}/test"),
        &json!({}),
        csrf,
    )
    .await
}

/// The value of `name="<field>" value="…"` in a page.
pub(crate) fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).map(|i| i + marker.len()).expect(name);
    html[start..].split('"').next().unwrap().to_owned()
}

pub(crate) async fn status_of(app: &TestApp, id: &str) -> KeyStatus {
    app.pool.store().get(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn a_search_is_served_with_a_pool_key_and_then_from_the_cache() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::Ok);
    let app = app_with(&google, None).await;
    add_key(&app, 1, 0, None).await;
    let mut alice = user(&app, "alice").await;
    let (status, body, cache, _) = search(&mut alice, "rust").await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")), "{body}");
    assert_eq!(body["items"][0]["title"], "result for rust");
    let (status, _, cache, _) = search(&mut alice, "rust").await;
    assert_eq!((status, cache.as_deref()), (200, Some("hit")));
    assert_eq!(google.calls(&key(1)), 1, "the hit spent no quota");

    let mut root = user(&app, "root").await;
    let board = root.api("/api/v1/admin/stats/leaderboard").await;
    assert_eq!(board.status, 200, "{}", board.body);
    let board = board.json();
    assert_eq!(board["accounts"][0]["username"], "alice");
    assert_eq!(board["accounts"][0]["calls"], 2);
    assert_eq!(board["keys"][0]["usage_count"], 1);
    assert!(
        board["keys"][0]["masked"]
            .as_str()
            .unwrap()
            .starts_with("AIza…")
    );
    assert_eq!(
        alice.api("/api/v1/admin/stats/leaderboard").await.status,
        403
    );
    let page = root.open("/admin/keys").await;
    assert!(
        page.body
            .contains("<td>alice</td><td>search</td><td>2</td>"),
        "{}",
        page.body
    );
    // The one call the pool made is today's one use, on the group's chart and the key's own.
    assert!(
        page.body
            .contains("Keys of google without a group: 1</title>"),
        "{}",
        page.body
    );
    let overview = root.open("/admin").await;
    assert!(
        overview
            .body
            .contains("Upstream calls per hour (UTC): 1</title>"),
        "the one call, served: {}",
        overview.body
    );
    let id = app.pool.list(None).await.unwrap()[0].id.clone();
    let key_page = root.open(&format!("/admin/keys/{id}")).await;
    assert!(
        key_page.body.contains("per day: 1</title>"),
        "{}",
        key_page.body
    );

    let mut anonymous = Browser::new(&app.url(""));
    anonymous.arrive("/").await;
    assert_eq!(search(&mut anonymous, "rust").await.0, 401);
}

#[tokio::test]
async fn concurrent_identical_misses_make_one_upstream_call() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::Ok);
    google.delay(200);
    let app = app_with(&google, None).await;
    add_key(&app, 1, 0, None).await;
    let alice = user(&app, "alice").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let mut b = Browser::with_cookies_of(&app.url(""), &alice);
            tokio::spawn(async move { b.api("/api/v1/search?q=same").await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(google.total_calls(), 1);
}

#[tokio::test]
async fn a_daily_quota_moves_on_and_takes_the_whole_project_out_until_la_midnight() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::DailyQuota(111));
    google.behave(&key(2), Behaviour::Ok);
    google.behave(&key(3), Behaviour::Ok);
    let app = app_with(&google, None).await;
    let first = add_key(&app, 1, 10, None).await;
    let sibling = add_key(&app, 2, 5, Some("project_number:111")).await;
    let other = add_key(&app, 3, 0, None).await;
    let mut alice = user(&app, "alice").await;
    let (status, body, _, _) = search(&mut alice, "quota").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(google.calls(&key(1)), 1);
    assert_eq!(
        google.calls(&key(2)),
        0,
        "its project is spent: never tried"
    );
    assert_eq!(google.calls(&key(3)), 1);
    let marked = app.pool.store().get(&first).await.unwrap().unwrap();
    assert_eq!(marked.status, KeyStatus::QuotaExceeded);
    assert_eq!(
        marked.quota_group.as_deref(),
        Some("project_number:111"),
        "learned from the answer"
    );
    // The test clock says 2026-11-23 09:00 UTC: midnight in Los Angeles (PST) is 08:00 UTC next day.
    let midnight = time::macros::datetime!(2026-11-24 08:00 UTC).unix_timestamp();
    assert_eq!(marked.available_at, Some(midnight));
    assert_eq!(status_of(&app, &sibling).await, KeyStatus::QuotaExceeded);
    assert_eq!(status_of(&app, &other).await, KeyStatus::Active);
}

#[tokio::test]
async fn an_exhausted_pool_says_when_to_return_and_notifies_once_per_episode() {
    let google = FakeGoogle::start().await;
    let mut hook = WebhookSink::start().await;
    google.behave(&key(1), Behaviour::DailyQuota(7));
    let app = app_with(&google, Some(&hook)).await;
    let id = add_key(&app, 1, 0, None).await;
    let mut alice = user(&app, "alice").await;
    let (status, body, _, _) = search(&mut alice, "a").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("no_api_key_available")),
        "{body}"
    );
    for q in ["b", "c"] {
        let (status, body, _, retry) = search(&mut alice, q).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("no_api_key_available"))
        );
        assert_eq!(
            retry.as_deref(),
            Some("82800"),
            "until midnight in Los Angeles"
        );
    }
    let first = hook.next().await;
    assert_eq!(first.headers["x-kunci-event"], "api_keys_exhausted");
    assert!(
        hook.nothing_more(std::time::Duration::from_millis(300))
            .await,
        "one per episode"
    );

    // After midnight the next real request probes the key; it works again.
    google.behave(&key(1), Behaviour::Ok);
    app.clock.advance(time::Duration::hours(23));
    let mut alice = user(&app, "alice").await;
    let (status, body, _, _) = search(&mut alice, "d").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_of(&app, &id).await, KeyStatus::Active);
    assert_eq!(
        hook.next().await.headers["x-kunci-event"],
        "api_keys_recovered"
    );
}

#[tokio::test]
async fn the_request_that_uses_the_last_keys_up_says_when_one_is_back() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::DailyQuota(7));
    google.behave(&key(2), Behaviour::DailyQuota(8));
    let app = app_with(&google, None).await;
    add_key(&app, 1, 0, Some("7")).await;
    add_key(&app, 2, 0, Some("8")).await;
    let mut alice = user(&app, "alice").await;
    let (status, body, _, retry) = search(&mut alice, "a").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("no_api_key_available")),
        "{body}"
    );
    assert_eq!(
        retry.as_deref(),
        Some("82800"),
        "the earliest return (midnight in Los Angeles), not a guess"
    );
    assert_eq!(google.calls(&key(1)) + google.calls(&key(2)), 2);
}

#[tokio::test]
async fn an_upstream_names_the_scope_its_callers_need() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::Ok);
    // `basic`: a public search box, open to every bootstrapped browser.
    let open = TestApp::builder()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__BASE_URL", &google.url)
        .var("KUNCI__UPSTREAM__GOOGLE__CX", &google.cx)
        .var("KUNCI__UPSTREAM__GOOGLE__SCOPE", "basic")
        .spawn()
        .await
        .unwrap();
    add_key(&open, 1, 0, None).await;
    let mut anonymous = Browser::new(&open.url(""));
    anonymous.arrive("/").await;
    let (status, body, _, _) = search(&mut anonymous, "public").await;
    assert_eq!(status, 200, "a bootstrapped browser searches: {body}");
    let mut nobody = Browser::new(&open.url(""));
    let (status, _, _, _) = search(&mut nobody, "public").await;
    assert_eq!(status, 401, "no session at all is still refused");

    // `admin`: closed to everyone else.
    let closed = TestApp::builder()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__BASE_URL", &google.url)
        .var("KUNCI__UPSTREAM__GOOGLE__CX", &google.cx)
        .var("KUNCI__UPSTREAM__GOOGLE__SCOPE", "admin")
        .spawn()
        .await
        .unwrap();
    add_key(&closed, 1, 0, None).await;
    closed
        .accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &SecretString::new("alice pass"),
            false,
        )
        .await
        .unwrap();
    closed
        .accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "root",
            &SecretString::new("root pass"),
            true,
        )
        .await
        .unwrap();
    let mut alice = user(&closed, "alice").await;
    let (status, body, _, _) = search(&mut alice, "private").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let mut root = user(&closed, "root").await;
    let (status, body, _, _) = search(&mut root, "private").await;
    assert_eq!(status, 200, "{body}");

    // The default is `user`: a bootstrapped browser is asked to log in.
    let app = app_with(&google, None).await;
    add_key(&app, 1, 0, None).await;
    let mut anonymous = Browser::new(&app.url(""));
    anonymous.arrive("/").await;
    let (status, body, _, _) = search(&mut anonymous, "x").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthenticated"))
    );
}

#[tokio::test]
async fn daily_quotas_never_open_the_circuit() {
    let google = FakeGoogle::start().await;
    for n in 1..=3 {
        google.behave(&key(n), Behaviour::DailyQuota(u64::from(n)));
    }
    google.behave(&key(4), Behaviour::Ok);
    let app = app_with(&google, None).await;
    for n in 1..=3 {
        add_key(&app, n, 1, Some(&n.to_string())).await;
    }
    add_key(&app, 4, 0, None).await;
    let mut alice = user(&app, "alice").await;
    let (status, body, _, _) = search(&mut alice, "first").await;
    assert_eq!(
        status, 200,
        "three spent projects are no global throttle: {body}"
    );
    let (status, body, _, _) = search(&mut alice, "second").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn throttles_across_quota_groups_open_the_circuit_and_one_probe_closes_it() {
    let google = FakeGoogle::start().await;
    for n in 1..=3 {
        google.behave(&key(n), Behaviour::PerMinute);
    }
    google.behave(&key(4), Behaviour::Ok);
    let app = app_with(&google, None).await;
    for (n, group) in [(1, "a"), (2, "b"), (3, "c")] {
        add_key(&app, n, 1, Some(group)).await;
    }
    add_key(&app, 4, 0, None).await;
    let mut alice = user(&app, "alice").await;
    let (status, body, _, retry) = search(&mut alice, "one").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("upstream_throttled")),
        "{body}"
    );
    assert_eq!(retry.as_deref(), Some("30"));
    let calls = google.total_calls();
    let (status, body, _, _) = search(&mut alice, "two").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("upstream_throttled"))
    );
    assert_eq!(google.total_calls(), calls, "open: no call goes out");
    // After the open period the next request is the probe; served, the circuit closes.
    app.clock.advance(time::Duration::seconds(30));
    let (status, body, _, _) = search(&mut alice, "three").await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _, _) = search(&mut alice, "four").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_invalid_key_is_set_aside_and_a_bad_request_blames_no_key() {
    let google = FakeGoogle::start().await;
    let mut hook = WebhookSink::start().await;
    google.behave(&key(1), Behaviour::Invalid);
    google.behave(&key(2), Behaviour::Ok);
    let app = app_with(&google, Some(&hook)).await;
    let bad = add_key(&app, 1, 9, None).await;
    let good = add_key(&app, 2, 0, None).await;
    let mut alice = user(&app, "alice").await;
    assert_eq!(search(&mut alice, "x").await.0, 200);
    assert_eq!(status_of(&app, &bad).await, KeyStatus::Invalid);
    let delivery = hook.next().await;
    assert_eq!(delivery.headers["x-kunci-event"], "api_key_invalid");
    let text = String::from_utf8_lossy(&delivery.body).into_owned();
    assert!(!text.contains(&key(1)[4..]), "masked only: {text}");

    // A wrong search engine id: the upstream refuses the request, not the key.
    let misconfigured = TestApp::builder()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__BASE_URL", &google.url)
        .var("KUNCI__UPSTREAM__GOOGLE__CX", "wrong-cx")
        .sharing(&app)
        .spawn()
        .await
        .unwrap();
    let mut alice2 = Browser::with_cookies_of(&misconfigured.url(""), &alice);
    let (status, body, _, _) = search(&mut alice2, "y").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("upstream_config_error")),
        "{body}"
    );
    assert_eq!(status_of(&app, &good).await, KeyStatus::Active);
}

#[tokio::test]
async fn per_minute_throttles_cool_a_key_and_server_errors_move_on() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::PerMinute);
    google.behave(&key(2), Behaviour::ServerError);
    google.behave(&key(3), Behaviour::Ok);
    let app = app_with(&google, None).await;
    let throttled = add_key(&app, 1, 9, None).await;
    let failing = add_key(&app, 2, 5, None).await;
    add_key(&app, 3, 0, None).await;
    let mut alice = user(&app, "alice").await;
    assert_eq!(search(&mut alice, "z").await.0, 200);
    assert_eq!(status_of(&app, &throttled).await, KeyStatus::Cooling);
    assert_eq!(status_of(&app, &failing).await, KeyStatus::Cooling);
    let cooled = app.pool.store().get(&throttled).await.unwrap().unwrap();
    let now = time::macros::datetime!(2026-11-23 09:00 UTC).unix_timestamp();
    assert_eq!(cooled.available_at, Some(now + 60));
}

#[tokio::test]
async fn budgets_under_load_never_overspend_and_retries_are_bounded() {
    let google = FakeGoogle::start().await;
    for n in 0..10 {
        google.behave(&key(n), Behaviour::Budget(10, u64::from(n)));
    }
    let app = app_with(&google, None).await;
    for n in 0..10 {
        let id = add_key(&app, n, 0, None).await;
        let budget = kunci_domain::apikeys::KeyChange {
            daily_budget: Some(Some(10)),
            ..Default::default()
        };
        app.pool
            .change(&kunci_domain::audit::Actor::cli(), &id, &budget)
            .await
            .unwrap();
    }
    let alice = user(&app, "alice").await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let mut b = Browser::with_cookies_of(&app.url(""), &alice);
            tokio::spawn(async move { b.api(&format!("/api/v1/search?q=q{i}")).await.status })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        let status = task.await.unwrap();
        assert!(status == 200 || status == 503, "{status}");
        served += usize::from(status == 200);
    }
    assert_eq!(served, 100, "every call of the budget, and no more");
    for n in 0..10 {
        assert_eq!(
            google.calls(&key(n)),
            10,
            "key {n} handed out past its budget"
        );
    }
    assert_eq!(google.total_calls(), 100, "no call reached a 429");
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
#[tokio::test]
async fn the_admin_api_shows_keys_masked_and_needs_admin_and_csrf() {
    let google = FakeGoogle::start().await;
    let app = app_with(&google, None).await;
    let mut root = user(&app, "root").await;
    let mut alice = user(&app, "alice").await;
    let secret = key(42);
    let create = json!({"key": secret, "upstream": "google", "priority": 3});

    let refused = alice
        .post_json("/api/v1/admin/api-keys", &create, true)
        .await;
    assert_eq!(refused.status, 403);
    let no_csrf = root
        .post_json("/api/v1/admin/api-keys", &create, false)
        .await;
    assert_eq!(no_csrf.status, 403);
    let created = root
        .post_json("/api/v1/admin/api-keys", &create, true)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    assert_eq!(body["masked"], format!("AIza…{}", &secret[35..]));
    assert!(!created.body.contains(&secret[4..]), "{}", created.body);
    let id = body["id"].as_str().unwrap().to_owned();

    let again = root
        .post_json("/api/v1/admin/api-keys", &create, true)
        .await;
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (409, Some("duplicate_api_key"))
    );
    let bad = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": "sk-not-a-google-key", "upstream": "google"}),
            true,
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()["error"].as_str()),
        (400, Some("invalid_api_key"))
    );
    let unknown = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": secret, "upstream": "nowhere"}),
            true,
        )
        .await;
    assert_eq!(unknown.status, 400);

    let listed = root.api("/api/v1/admin/api-keys").await;
    assert_eq!(listed.status, 200);
    assert!(!listed.body.contains(&secret[4..]));
    assert_eq!(listed.json()["keys"][0]["priority"], 3);

    let token = root.cookies["kunci_csrf"].clone();
    let patched = root
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/api-keys/{id}"),
            "application/json",
            &[("x-csrf-token", &token)],
            Some((
                "application/json",
                br#"{"status":"disabled","quota_group":"p1"}"#.to_vec(),
            )),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        (
            patched.json()["status"].as_str(),
            patched.json()["quota_group"].as_str()
        ),
        (Some("disabled"), Some("p1"))
    );
    let bad_status = root
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/api-keys/{id}"),
            "application/json",
            &[("x-csrf-token", &token)],
            Some(("application/json", br#"{"status":"invalid"}"#.to_vec())),
        )
        .await;
    assert_eq!(bad_status.status, 400);
    let deleted = root
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/api-keys/{id}"),
            "application/json",
            &[("x-csrf-token", &token)],
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);

    let audited = app.audit.page(0, 100).await.unwrap();
    let actions: Vec<&str> = audited.iter().map(|e| e.record.action.as_str()).collect();
    for action in [
        "admin.api_key.created",
        "admin.api_key.updated",
        "admin.api_key.deleted",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    assert!(
        audited
            .iter()
            .all(|e| !e.record.target.contains(&secret[4..]))
    );
    // The database file never holds the key in clear.
    let db_path = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    for file in [db_path.clone(), format!("{db_path}-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&secret[4..]),
                "{file} holds the key in clear"
            );
        }
    }
}

#[tokio::test]
async fn an_admin_tests_a_key_with_one_real_call_at_most_five_a_minute() {
    let google = FakeGoogle::start().await;
    let app = app_with(&google, None).await;
    google.behave(&key(1), Behaviour::Ok);
    google.behave(&key(2), Behaviour::Invalid);
    let good = add_key(&app, 1, 0, None).await;
    let bad = add_key(&app, 2, 0, None).await;
    let mut root = user(&app, "root").await;
    let mut alice = user(&app, "alice").await;

    let refused = test_key(&mut alice, &good, true).await;
    assert_eq!(refused.status, 403);
    let no_csrf = test_key(&mut root, &good, false).await;
    assert_eq!(no_csrf.status, 403);
    assert_eq!(google.total_calls(), 0, "refused tests spend nothing");

    let tested = test_key(&mut root, &good, true).await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    let body = tested.json();
    assert_eq!(body["outcome"], "served");
    assert_eq!(body["upstream_status"], 200);
    assert_eq!(body["key"]["usage_count"], 1, "a test is a use");
    assert_eq!(google.calls(&key(1)), 1);
    assert!(!tested.body.contains(&key(1)[4..]));

    let tested = test_key(&mut root, &bad, true).await;
    assert_eq!(tested.json()["outcome"], "invalid", "{}", tested.body);
    assert_eq!(status_of(&app, &bad).await, KeyStatus::Invalid);

    // A disabled key may be tested, and a good answer does not enable it.
    app.pool
        .change(
            &kunci_domain::audit::Actor::cli(),
            &good,
            &kunci_domain::apikeys::KeyChange {
                status: Some(KeyStatus::Disabled),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tested = test_key(&mut root, &good, true).await;
    assert_eq!(tested.json()["outcome"], "served");
    assert_eq!(status_of(&app, &good).await, KeyStatus::Disabled);

    let unknown = root
        .post_json("/api/v1/admin/api-keys/nope/test", &json!({}), true)
        .await;
    assert_eq!(unknown.status, 404);
    // Four tests were let through (the unknown key counted too); the sixth in a minute is not.
    let fifth = test_key(&mut root, &good, true).await;
    assert_eq!(fifth.status, 200);
    let sixth = test_key(&mut root, &good, true).await;
    assert_eq!(sixth.status, 429, "{}", sixth.body);
    assert!(sixth.headers.get("retry-after").is_some());
    assert_eq!(google.calls(&key(1)), 3);

    // The page's button says the same after the redirect; the limit holds there too.
    let page = root.open("/admin/keys").await;
    let token = field(&page.body, "csrf_token");
    assert!(
        page.body.contains("spends a call of the key&#x27;s quota")
            || page.body.contains("spends a call of the key's quota")
    );
    let limited = root
        .post_form(
            &format!("/admin/keys/{good}/test"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(limited.location(), Some("/admin/keys?notice=test_limited"));
    app.clock.advance(time::Duration::seconds(60));
    let again = root
        .post_form(
            &format!("/admin/keys/{bad}/test"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(again.location(), Some("/admin/keys?notice=test_invalid"));

    let audited = app.audit.page(0, 100).await.unwrap();
    let tests = audited
        .iter()
        .filter(|e| e.record.action == "admin.api_key.tested")
        .count();
    assert_eq!(tests, 5, "every test that reached the upstream is audited");
}
