//! Service clients on every SQL backend; request nonces on every SQL backend and Redis.

use kunci_domain::clients::{Claim, ClientStore as _, NonceStore, StoredClient};
use kunci_domain::session::Scope;
use kunci_domain::store::StoreError;
use kunci_store::Database;

pub(super) fn client(name: &str) -> StoredClient {
    StoredClient {
        name: name.to_owned(),
        sealed: "ks1.sealed".to_owned(),
        scopes: vec![Scope::User],
        created_at: 10,
        revoked_at: None,
    }
}

async fn clients_are_added_listed_and_revoked_for_good(db: Database) {
    db.migrate().await.unwrap();
    db.insert(&client("billing"), &super::journal(&db, "billing"))
        .await
        .unwrap();
    db.insert(
        &client("audit-export"),
        &super::journal(&db, "audit-export"),
    )
    .await
    .unwrap();
    assert!(matches!(
        db.insert(&client("billing"), &super::journal(&db, "billing"))
            .await,
        Err(StoreError::Conflict)
    ));
    let names: Vec<String> = db
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["audit-export", "billing"]);
    let deploy = StoredClient {
        scopes: vec![Scope::User, Scope::Admin],
        ..client("deploy")
    };
    db.insert(&deploy, &super::journal(&db, "deploy"))
        .await
        .unwrap();
    assert_eq!(
        db.get("deploy").await.unwrap().unwrap().scopes,
        [Scope::User, Scope::Admin],
        "scopes are kept"
    );
    assert_eq!(
        db.get("billing").await.unwrap().unwrap().scopes,
        [Scope::User]
    );
    assert!(
        db.revoke("billing", 20, &super::journal(&db, "billing"))
            .await
            .unwrap()
    );
    assert!(
        !db.revoke("billing", 30, &super::journal(&db, "billing"))
            .await
            .unwrap(),
        "revoked once"
    );
    assert!(
        !db.revoke("nobody", 30, &super::journal(&db, "nobody"))
            .await
            .unwrap()
    );
    assert_eq!(
        db.get("billing").await.unwrap().unwrap().revoked_at,
        Some(20)
    );
    assert!(
        matches!(
            db.insert(&client("billing"), &super::journal(&db, "billing"))
                .await,
            Err(StoreError::Conflict)
        ),
        "names are never reused"
    );
    assert!(db.get("nobody").await.unwrap().is_none());
}

/// The nonce rules every store keeps.
pub async fn nonces_are_single_use_until_they_expire(store: &dyn NonceStore) {
    let now = 1_800_000_000;
    assert_eq!(
        store.claim("c:n1", now, now, 660).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim("c:n1", now, now + 1, 660).await.unwrap(),
        Claim::Replayed
    );
    assert_eq!(
        store.claim("c:n2", now, now + 1, 660).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim("d:n1", now, now + 1, 660).await.unwrap(),
        Claim::Fresh,
        "per client"
    );
}

pub async fn concurrent_claims_let_one_through(store: std::sync::Arc<dyn NonceStore>) {
    let now = 1_800_000_000;
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim("c:race", now, now, 660).await.unwrap() })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        fresh += usize::from(task.await.unwrap() == Claim::Fresh);
    }
    assert_eq!(fresh, 1);
}

async fn sql_nonces(db: Database) {
    db.migrate().await.unwrap();
    nonces_are_single_use_until_they_expire(&db).await;
    concurrent_claims_let_one_through(std::sync::Arc::new(db.clone())).await;
    // Expired: usable again (and purged by the job).
    let later = 1_800_000_000 + 661;
    assert_eq!(
        db.claim("c:n2", later, later, 660).await.unwrap(),
        Claim::Fresh
    );
    assert!(db.purge_nonces(later + 661).await.unwrap() >= 1);
}

crate::backends!(clients_are_added_listed_and_revoked_for_good, sql_nonces);

mod redis {
    use kunci_domain::clients::{Claim, NonceStore as _};
    use kunci_store::redis::RedisNonces;

    #[tokio::test]
    async fn redis_nonces() {
        let Some(server) = kunci_store::testing::test_redis().await else {
            return;
        };
        let store = RedisNonces::new(&server).unwrap();
        super::nonces_are_single_use_until_they_expire(&store).await;
        super::concurrent_claims_let_one_through(std::sync::Arc::new(store)).await;
    }

    #[tokio::test]
    async fn after_a_flush_requests_signed_before_it_are_refused() {
        let Some(server) = kunci_store::testing::test_redis().await else {
            return;
        };
        let store = RedisNonces::new(&server).unwrap();
        let t0 = 1_800_000_000;
        assert_eq!(store.claim("c:a", t0, t0, 660).await.unwrap(), Claim::Fresh);
        // Lose everything under this test's prefix, as FLUSHALL would.
        let mut conn = server.connect().await.unwrap();
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}*", server.prefix()))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            keys.len() >= 2,
            "the nonce and the watermark were stored: {keys:?}"
        );
        let _: i64 = ::redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
        let t1 = t0 + 100;
        assert_eq!(
            store.claim("c:a", t0, t1, 660).await.unwrap(),
            Claim::BeforeWatermark,
            "the replay"
        );
        assert_eq!(
            store.claim("c:b", t1 - 1, t1 + 1, 660).await.unwrap(),
            Claim::BeforeWatermark
        );
        assert_eq!(
            store.claim("c:c", t1, t1 + 1, 660).await.unwrap(),
            Claim::Fresh,
            "signed after it"
        );
    }
}
