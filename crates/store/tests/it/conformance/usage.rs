//! The leaderboard's counts (SQL and Redis) and the shared answer cache (Redis).

use kunci_domain::upstream::{AnswerCache, CachedAnswer};
use kunci_domain::usage::UsageStore;

async fn counts_and_ranks(store: &dyn UsageStore) {
    assert!(store.top(10).await.unwrap().is_empty());
    for (account, upstream, calls, at) in [
        ("acct-a", "search", 3, 100),
        ("acct-b", "search", 5, 200),
        ("acct-a", "openai", 1, 300),
        ("acct-c", "search", 3, 400),
    ] {
        for i in 0..calls {
            store.count(account, upstream, at + i).await.unwrap();
        }
    }
    let top = store.top(10).await.unwrap();
    let lines: Vec<(&str, &str, i64, i64)> = top
        .iter()
        .map(|l| {
            (
                l.account_id.as_str(),
                l.upstream.as_str(),
                l.calls,
                l.last_call,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("acct-b", "search", 5, 204),
            ("acct-a", "search", 3, 102),
            ("acct-c", "search", 3, 402),
            ("acct-a", "openai", 1, 300),
        ],
        "most calls first, ties by account, last call kept"
    );
    assert_eq!(store.top(1).await.unwrap().len(), 1);
    assert!(store.top(0).await.unwrap().is_empty());
}

async fn sql(db: kunci_store::Database) {
    db.migrate().await.unwrap();
    counts_and_ranks(&db).await;
}

crate::backends!(sql);

#[tokio::test]
async fn redis_counts() {
    let Some(server) = kunci_store::testing::test_redis().await else {
        return;
    };
    counts_and_ranks(&kunci_store::redis::RedisUsage::new(&server).unwrap()).await;
}

#[tokio::test]
async fn redis_answers_expire_by_kunci_clock_and_ignore_foreign_values() {
    let Some(server) = kunci_store::testing::test_redis().await else {
        return;
    };
    let cache = kunci_store::redis::RedisAnswers::new(&server).unwrap();
    let other_instance = kunci_store::redis::RedisAnswers::new(&server).unwrap();
    let answer = CachedAnswer {
        status: 200,
        content_type: Some("application/json".to_owned()),
        body: bytes::Bytes::from_static(b"{\"items\":[1]}"),
        expires_at: 1_000 + 60,
    };
    assert_eq!(cache.get("search:abc", 1_000).await.unwrap(), None);
    cache.put("search:abc", &answer, 1_000).await.unwrap();
    assert_eq!(
        other_instance.get("search:abc", 1_030).await.unwrap(),
        Some(answer.clone())
    );
    assert_eq!(
        other_instance.get("search:abc", 1_060).await.unwrap(),
        None,
        "expired by the clock kunci reads, whatever Redis keeps"
    );
    // An answer already expired is not stored at all.
    cache.put("search:old", &answer, 2_000).await.unwrap();
    assert_eq!(cache.get("search:old", 0).await.unwrap(), None);

    let client =
        redis::Client::open(kunci_store::testing::service_url("KUNCI_TEST_REDIS_URL").unwrap())
            .unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SET")
        .arg(format!("{}answer:search:foreign", server.prefix()))
        .arg("not a record")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert_eq!(cache.get("search:foreign", 0).await.unwrap(), None);
}

#[tokio::test]
async fn redis_claims_let_one_instance_call_and_only_its_owner_release() {
    let Some(server) = kunci_store::testing::test_redis().await else {
        return;
    };
    let one = kunci_store::redis::RedisAnswers::new(&server).unwrap();
    let two = kunci_store::redis::RedisAnswers::new(&server).unwrap();
    assert!(one.claim("search:q", "token-one", 60).await.unwrap());
    assert!(
        !two.claim("search:q", "token-two", 60).await.unwrap(),
        "held"
    );
    assert!(
        two.claim("search:other", "token-two", 60).await.unwrap(),
        "per key"
    );
    two.release("search:q", "token-two").await.unwrap();
    assert!(
        !two.claim("search:q", "token-two", 60).await.unwrap(),
        "a release by someone else's token does nothing"
    );
    one.release("search:q", "token-one").await.unwrap();
    assert!(
        two.claim("search:q", "token-two", 60).await.unwrap(),
        "free again"
    );
}
