//! The API-key pool on several instances sharing one database (PostgreSQL, MariaDB) and Redis:
//! every use counted once and budgets shared exactly, the answer cache shared, concurrent
//! identical searches making one upstream call between them, the leaderboard counting every
//! instance's calls.

use kunci_crypto::SecretString;
use serde_json::Value;

use crate::helpers::fake_google::{Behaviour, FakeGoogle};
use crate::helpers::{Browser, TestApp};
use crate::pool::{add_key, key, search, user};

#[tokio::test]
async fn two_instances_sharing_postgres_count_every_use_and_share_budgets() {
    two_instances_share_budgets(crate::helpers::TestBackend::Postgres).await;
}

#[tokio::test]
async fn two_instances_sharing_mariadb_count_every_use_and_share_budgets() {
    two_instances_share_budgets(crate::helpers::TestBackend::MySql).await;
}

async fn two_instances_share_budgets(backend: crate::helpers::TestBackend) {
    let google = FakeGoogle::start().await;
    for n in 0..4 {
        google.behave(&key(n), Behaviour::Ok);
    }
    let on_google = |b: crate::helpers::app::TestAppBuilder| {
        b.var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
            .var("KUNCI__UPSTREAM__GOOGLE__BASE_URL", &google.url)
            .var("KUNCI__UPSTREAM__GOOGLE__CX", &google.cx)
            .var("KUNCI__SEARCH__CACHE_SECS", "0")
            // 40 concurrent searches per instance hold a connection only for the pick and the
            // verdict, never during the upstream call: 16 each leaves room on a busy machine
            // without taking the server's 100 connections from the tests running beside it.
            .var("KUNCI__DATA__MAX_CONNECTIONS", "16")
    };
    let Some(one) = on_google(TestApp::builder().backend(backend)).spawn().await else {
        return;
    };
    let two = on_google(TestApp::builder().sharing(&one))
        .spawn()
        .await
        .unwrap();
    one.accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &SecretString::new("alice pass"),
            false,
        )
        .await
        .unwrap();
    for n in 0..4 {
        let id = add_key(&one, n, 0, None).await;
        let budget = kunci_domain::apikeys::KeyChange {
            daily_budget: Some(Some(15)),
            ..Default::default()
        };
        one.pool
            .change(&kunci_domain::audit::Actor::cli(), &id, &budget)
            .await
            .unwrap();
    }
    let alice_one = user(&one, "alice").await;
    let tasks: Vec<_> = (0..80)
        .map(|i| {
            let base = if i % 2 == 0 { one.url("") } else { two.url("") };
            let mut b = Browser::with_cookies_of(&base, &alice_one);
            tokio::spawn(async move {
                let page = b.api(&format!("/api/v1/search?q=w{i}")).await;
                (
                    page.status,
                    page.json()["error"].as_str().map(str::to_owned),
                )
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let served = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(
        served, 60,
        "4 keys × 15 a day, across both instances: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|a| a.0 == 200 || a.1.as_deref() == Some("no_api_key_available")),
        "{answers:?}"
    );
    let keys = one.pool.store().list(None).await.unwrap();
    let counted: i64 = keys.iter().map(|k| k.usage_count).sum();
    assert_eq!(counted, 60);
    assert_eq!(
        google.total_calls(),
        60,
        "every use counted, none past a budget"
    );
    for n in 0..4 {
        assert_eq!(google.calls(&key(n)), 15);
    }
}

/// Two instances on PostgreSQL and one Redis (a prefix of their own), searching `google`,
/// with accounts alice and root; with the Redis URL and the prefix. `None` when the services
/// are not configured.
async fn two_on_redis(google: &FakeGoogle) -> Option<(TestApp, TestApp, String, String)> {
    let redis_url = kunci_store::testing::service_url("KUNCI_TEST_REDIS_URL")?;
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    let on_redis = |b: crate::helpers::app::TestAppBuilder| {
        b.var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
            .var("KUNCI__UPSTREAM__GOOGLE__BASE_URL", &google.url)
            .var("KUNCI__UPSTREAM__GOOGLE__CX", &google.cx)
            .var("KUNCI__DATA__REDIS_URL", &redis_url)
            .var("KUNCI__DATA__REDIS_PREFIX", &prefix)
            .var("KUNCI__DATA__CACHE", "redis")
    };
    let one = on_redis(TestApp::builder().backend(crate::helpers::TestBackend::Postgres))
        .spawn()
        .await?;
    let two = on_redis(TestApp::builder().sharing(&one))
        .spawn()
        .await
        .unwrap();
    for (name, admin) in [("alice", false), ("root", true)] {
        one.accounts
            .add(
                &kunci_domain::audit::Actor::cli(),
                name,
                &SecretString::new(format!("{name} pass")),
                admin,
            )
            .await
            .unwrap();
    }
    Some((one, two, redis_url, prefix))
}

#[tokio::test]
async fn concurrent_identical_misses_on_two_instances_make_one_upstream_call() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::Ok);
    // Slow enough that every search arrives while the first call is still out.
    google.delay(400);
    let Some((one, two, _, _)) = two_on_redis(&google).await else {
        return;
    };
    add_key(&one, 1, 0, None).await;
    let alice = user(&one, "alice").await;
    let searches: Vec<_> = (0..10)
        .map(|i| {
            let base = if i % 2 == 0 { one.url("") } else { two.url("") };
            let mut b = Browser::with_cookies_of(&base, &alice);
            tokio::spawn(async move { search(&mut b, "together").await })
        })
        .collect();
    for task in searches {
        let (status, body, _, _) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["items"][0]["title"], "result for together");
    }
    assert_eq!(
        google.total_calls(),
        1,
        "one call for ten identical searches on two instances"
    );
}

#[tokio::test]
async fn two_instances_sharing_redis_share_the_cache_and_the_leaderboard() {
    let google = FakeGoogle::start().await;
    google.behave(&key(1), Behaviour::Ok);
    let Some((one, two, redis_url, prefix)) = two_on_redis(&google).await else {
        return;
    };
    add_key(&one, 1, 0, None).await;
    let mut alice_one = user(&one, "alice").await;
    let mut alice_two = Browser::with_cookies_of(&two.url(""), &alice_one);

    let (status, _, cache, _) = search(&mut alice_one, "shared").await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    let (status, body, cache, _) = search(&mut alice_two, "shared").await;
    assert_eq!(
        (status, cache.as_deref()),
        (200, Some("hit")),
        "the other instance answers from the shared cache"
    );
    assert_eq!(body["items"][0]["title"], "result for shared");
    assert_eq!(google.total_calls(), 1);
    let (_, _, cache, _) = search(&mut alice_two, "other").await;
    assert_eq!(cache.as_deref(), Some("miss"));
    assert_eq!(google.total_calls(), 2);

    // Every served call is counted in Redis, whichever instance served it.
    // Each instance writes its counts once a second: within a few, the board has them all.
    let mut root = Browser::with_cookies_of(&two.url(""), &user(&two, "root").await);
    let mut accounts = Value::Null;
    for _ in 0..40 {
        let board = root.api("/api/v1/admin/stats/leaderboard").await;
        assert_eq!(board.status, 200, "{}", board.body);
        accounts = board.json()["accounts"].clone();
        if accounts[0]["calls"] == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(accounts[0]["username"], "alice", "{accounts}");
    assert_eq!(accounts[0]["calls"], 3);
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}usage"))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert!(members[0].0.ends_with(" search") && (members[0].1 - 3.0).abs() < f64::EPSILON);
    let answers: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}answer:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(answers.len(), 2);
    assert!(
        answers
            .iter()
            .all(|k| !k.contains("shared") && !k.contains("other")),
        "cache keys are digests, not queries: {answers:?}"
    );
}
