//! Every session store behaves alike: create, load, save, expiry, per-account listing and
//! removal. Run against each store that really stores (the null store has its own test).

use kunci_domain::session::{Scope, SessionRecord, SessionStore};
use kunci_domain::store::StoreError;

const NOW: i64 = 1_790_000_000;

fn record(key: &str, sub: Option<&str>, expires_in: i64) -> SessionRecord {
    SessionRecord {
        key: key.to_owned(),
        uid: "0f8fad5b-d9cb-469f-a165-70867728950e".to_owned(),
        sub: sub.map(str::to_owned),
        scopes: vec![Scope::Basic],
        csrf: "c".repeat(43),
        created_at: NOW,
        last_seen: NOW,
        absolute_expires_at: NOW + 43_200,
        expires_at: NOW + expires_in,
        data: Default::default(),
    }
}

async fn a_created_session_loads_back(store: Box<dyn SessionStore>) {
    let r = record("aa01", None, 1800);
    store.create(&r).await.unwrap();
    assert_eq!(store.load("aa01", NOW).await.unwrap(), Some(r));
    assert_eq!(store.load("aa02", NOW).await.unwrap(), None);
}

async fn a_taken_key_is_a_conflict_and_keeps_the_first(store: Box<dyn SessionStore>) {
    let first = record("bb01", Some("alice"), 1800);
    store.create(&first).await.unwrap();
    let second = record("bb01", Some("mallory"), 1800);
    assert!(matches!(
        store.create(&second).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.load("bb01", NOW).await.unwrap(), Some(first));
}

async fn an_expired_session_does_not_load(store: Box<dyn SessionStore>) {
    store.create(&record("cc01", None, 60)).await.unwrap();
    assert!(store.load("cc01", NOW + 59).await.unwrap().is_some());
    assert_eq!(store.load("cc01", NOW + 60).await.unwrap(), None);
}

async fn save_writes_back_but_never_resurrects(store: Box<dyn SessionStore>) {
    let mut r = record("dd01", None, 1800);
    store.create(&r).await.unwrap();
    r.sub = Some("alice".to_owned());
    r.scopes = vec![Scope::Basic, Scope::User];
    r.data.insert("flash".to_owned(), "saved".to_owned());
    store.save(&r).await.unwrap();
    assert_eq!(store.load("dd01", NOW).await.unwrap(), Some(r.clone()));
    store.delete("dd01").await.unwrap();
    store.save(&r).await.unwrap();
    assert_eq!(
        store.load("dd01", NOW).await.unwrap(),
        None,
        "a destroyed session came back"
    );
    store.delete("dd01").await.unwrap();
}

async fn an_accounts_sessions_are_listed_and_removed_together(store: Box<dyn SessionStore>) {
    store
        .create(&record("ee01", Some("alice"), 1800))
        .await
        .unwrap();
    store
        .create(&record("ee02", Some("alice"), 900))
        .await
        .unwrap();
    store
        .create(&record("ee03", Some("bob"), 1800))
        .await
        .unwrap();
    store.create(&record("ee04", None, 1800)).await.unwrap();
    let listed: Vec<String> = store
        .list_by_account("alice", NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(listed, ["ee02", "ee01"], "ordered by expiry");
    assert_eq!(store.delete_by_account("alice").await.unwrap(), 2);
    assert!(
        store
            .list_by_account("alice", NOW)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.load("ee01", NOW).await.unwrap(), None);
    assert!(
        store.load("ee03", NOW).await.unwrap().is_some(),
        "other accounts keep theirs"
    );
    assert!(store.load("ee04", NOW).await.unwrap().is_some());
}

async fn purging_removes_only_expired_sessions(store: Box<dyn SessionStore>) {
    store.create(&record("ff01", None, 60)).await.unwrap();
    store.create(&record("ff02", None, 1800)).await.unwrap();
    store.purge_expired(NOW + 61).await.unwrap();
    assert_eq!(store.load("ff01", NOW + 61).await.unwrap(), None);
    assert!(store.load("ff02", NOW + 61).await.unwrap().is_some());
}

crate::session_stores!(
    a_created_session_loads_back,
    a_taken_key_is_a_conflict_and_keeps_the_first,
    an_expired_session_does_not_load,
    save_writes_back_but_never_resurrects,
    an_accounts_sessions_are_listed_and_removed_together,
    purging_removes_only_expired_sessions,
);

#[tokio::test]
async fn the_null_store_keeps_nothing() {
    let store = kunci_store::null::NullSessions;
    store
        .create(&record("0001", Some("alice"), 1800))
        .await
        .unwrap();
    assert_eq!(store.load("0001", NOW).await.unwrap(), None);
    assert!(
        store
            .list_by_account("alice", NOW)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_filesystem_store_writes_private_files_and_refuses_path_keys() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let store = kunci_store::filesystem::FileSessions::new(&dir.path().join("sessions")).unwrap();
    store.create(&record("abcd", None, 1800)).await.unwrap();
    let file = dir.path().join("sessions/abcd.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(store.load("../../etc/passwd", NOW).await.is_err());
}

#[tokio::test]
async fn a_redis_that_is_down_is_unavailable_not_empty() {
    let server = kunci_store::RedisServer::new("redis://127.0.0.1:1/0", "kunci-test:").unwrap();
    let store = kunci_store::redis::RedisSessions::new(&server).unwrap();
    let err = store.load("aa01", NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(matches!(
        store.create(&record("aa01", None, 60)).await,
        Err(StoreError::Unavailable { .. })
    ));
}
