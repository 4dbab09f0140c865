//! Rate-limit stores: memory and Redis take the same GCRA decisions, and Redis shares them.

use std::sync::Arc;

use kunci_domain::ratelimit::{Decision, MemoryRates, Rate, RateStore};

/// The rules every store keeps.
async fn burst_then_refill(store: &dyn RateStore) {
    let rate = Rate::per(5, 60_000);
    let now = 1_800_000_000_000_000;
    for _ in 0..5 {
        assert_eq!(
            store.check("ip:1", rate, now).await.unwrap(),
            Decision::Allow
        );
    }
    assert_eq!(
        store.check("ip:1", rate, now).await.unwrap(),
        Decision::Deny {
            retry_after_ms: 12_000
        }
    );
    assert_eq!(
        store.check("ip:2", rate, now).await.unwrap(),
        Decision::Allow,
        "per key"
    );
    assert_eq!(
        store.check("ip:1", rate, now + 12_000_000).await.unwrap(),
        Decision::Allow
    );
}

async fn parallel_requests_get_exactly_the_burst(store: Arc<dyn RateStore>) {
    let rate = Rate::per(10, 1_000);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.check("ip:p", rate, 5_000_000_000).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap() == Decision::Allow);
    }
    assert_eq!(allowed, 10);
}

#[tokio::test]
async fn memory() {
    burst_then_refill(&MemoryRates::default()).await;
    parallel_requests_get_exactly_the_burst(Arc::new(MemoryRates::default())).await;
}

#[tokio::test]
async fn redis() {
    let Some(server) = kunci_store::testing::test_redis().await else {
        return;
    };
    let store = kunci_store::redis::RedisRates::new(&server).unwrap();
    burst_then_refill(&store).await;
    parallel_requests_get_exactly_the_burst(Arc::new(store)).await;
    // A second instance shares the budget.
    let other = kunci_store::redis::RedisRates::new(&server).unwrap();
    let rate = Rate::per(5, 60_000);
    assert!(matches!(
        other
            .check("ip:1", rate, 1_800_000_000_000_000)
            .await
            .unwrap(),
        Decision::Deny { .. }
    ));
}
