//! Throttle circuits: memory and Redis open, probe and close the same way, and Redis shares
//! one circuit between instances (one opening, one probe).

use std::sync::Arc;

use kunci_domain::circuit::{Admit, CircuitPolicy, CircuitStore, MemoryCircuit};

const POLICY: CircuitPolicy = CircuitPolicy {
    groups: 3,
    window_secs: 10,
    open_secs: 30,
    probe_secs: 15,
};

/// The rules every store keeps.
async fn opens_on_three_groups_probes_once_and_closes(store: &dyn CircuitStore) {
    let now = 1_800_000_000;
    assert_eq!(store.admit("g", now, POLICY).await.unwrap(), Admit::Closed);
    assert_eq!(store.throttled("g", "p1", now, POLICY).await.unwrap(), None);
    assert_eq!(store.throttled("g", "p1", now, POLICY).await.unwrap(), None);
    assert_eq!(
        store.throttled("g", "p2", now + 1, POLICY).await.unwrap(),
        None
    );
    assert_eq!(
        store.throttled("g", "p3", now + 2, POLICY).await.unwrap(),
        Some(now + 32)
    );
    assert_eq!(
        store.admit("g", now + 3, POLICY).await.unwrap(),
        Admit::Open { until: now + 32 }
    );
    assert_eq!(
        store.admit("h", now + 3, POLICY).await.unwrap(),
        Admit::Closed,
        "per upstream"
    );
    store.served("g", now + 4).await.unwrap();
    assert_eq!(
        store.admit("g", now + 5, POLICY).await.unwrap(),
        Admit::Open { until: now + 32 },
        "an answer served while open does not close it"
    );
    assert_eq!(
        store.admit("g", now + 32, POLICY).await.unwrap(),
        Admit::Probe
    );
    assert_eq!(
        store.admit("g", now + 33, POLICY).await.unwrap(),
        Admit::Open { until: now + 47 },
        "one probe at a time"
    );
    assert_eq!(
        store.throttled("g", "p1", now + 34, POLICY).await.unwrap(),
        Some(now + 64),
        "a throttled probe opens it again"
    );
    assert_eq!(
        store.admit("g", now + 64, POLICY).await.unwrap(),
        Admit::Probe
    );
    store.served("g", now + 65).await.unwrap();
    assert_eq!(
        store.admit("g", now + 65, POLICY).await.unwrap(),
        Admit::Closed
    );
    // Throttles older than the window do not count.
    store.throttled("g", "a", now + 100, POLICY).await.unwrap();
    store.throttled("g", "b", now + 105, POLICY).await.unwrap();
    assert_eq!(
        store.throttled("g", "c", now + 110, POLICY).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn memory() {
    opens_on_three_groups_probes_once_and_closes(&MemoryCircuit::default()).await;
}

#[tokio::test]
async fn redis() {
    let Some(server) = kunci_store::testing::test_redis().await else {
        return;
    };
    let store = kunci_store::redis::RedisCircuit::new(&server).unwrap();
    opens_on_three_groups_probes_once_and_closes(&store).await;

    // Two instances: throttles add up, one opening, one probe between them.
    let one: Arc<dyn CircuitStore> =
        Arc::new(kunci_store::redis::RedisCircuit::new(&server).unwrap());
    let two: Arc<dyn CircuitStore> =
        Arc::new(kunci_store::redis::RedisCircuit::new(&server).unwrap());
    let now = 1_900_000_000;
    one.throttled("s", "a", now, POLICY).await.unwrap();
    two.throttled("s", "b", now, POLICY).await.unwrap();
    assert_eq!(
        one.throttled("s", "c", now, POLICY).await.unwrap(),
        Some(now + 30)
    );
    assert_eq!(
        two.admit("s", now + 1, POLICY).await.unwrap(),
        Admit::Open { until: now + 30 }
    );
    let probes = futures_util::future::join_all((0..10).map(|i| {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        async move { store.admit("s", now + 30, POLICY).await.unwrap() }
    }))
    .await;
    assert_eq!(
        probes.iter().filter(|a| **a == Admit::Probe).count(),
        1,
        "{probes:?}"
    );
}
