//! The signing-key store on every SQL backend, and the key-ring rules over it: first keys,
//! rotation that keeps old keys verifying, scheduled retirement, several instances.

use std::sync::Arc;

use kunci_crypto::MasterKey;
use kunci_crypto::keyring::{KeyPurpose, KeyState, Kid};
use kunci_crypto::token::{self, AuthClaims};
use kunci_domain::clock::{Clock as _, ManualClock};
use kunci_domain::keys::{KeyPolicy, KeyRingService, SigningKeyStore, StoredKey};
use kunci_domain::store::StoreError;
use kunci_store::Database;
use time::Duration;
use time::macros::datetime;

fn stored(kid: &str, purpose: KeyPurpose) -> StoredKey {
    StoredKey {
        kid: Kid::parse(kid).unwrap(),
        purpose,
        state: KeyState::Active,
        sealed: "ks1.sealed".to_owned(),
        created_at: 100,
        activated_at: Some(100),
        verify_since: None,
        retired_at: None,
        verifications: 0,
    }
}

const POLICY: KeyPolicy = KeyPolicy {
    rotation_days: Some(30),
    cookie_verify_secs: 43_200,
    jwt_verify_secs: 960,
};

async fn service(db: &Database, master: &MasterKey, clock: &ManualClock) -> KeyRingService {
    KeyRingService::start(
        Arc::new(db.clone()),
        master.clone(),
        Arc::new(clock.clone()),
        POLICY,
    )
    .await
    .unwrap()
}

fn claims(now: i64) -> AuthClaims {
    AuthClaims {
        uid: "0f8fad5b-d9cb-469f-a165-70867728950e".to_owned(),
        session: "0123456789abcdef".to_owned(),
        sub: String::new(),
        iat: now,
        exp: now + 900,
        scope: vec!["basic".to_owned()],
    }
}

async fn one_active_key_per_purpose_is_enforced(db: Database) {
    db.migrate().await.unwrap();
    db.insert_active(&stored("ck_first", KeyPurpose::Cookie), None)
        .await
        .unwrap();
    db.insert_active(&stored("jk_first", KeyPurpose::Jwt), None)
        .await
        .unwrap();
    let second = db
        .insert_active(&stored("ck_second", KeyPurpose::Cookie), None)
        .await;
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
    assert_eq!(db.list().await.unwrap().len(), 2);
}

async fn rotation_demotes_the_expected_key_or_changes_nothing(db: Database) {
    db.migrate().await.unwrap();
    db.insert_active(&stored("ck_first", KeyPurpose::Cookie), None)
        .await
        .unwrap();
    let wrong = db
        .rotate(
            KeyPurpose::Cookie,
            &Kid::parse("ck_other").unwrap(),
            &stored("ck_next", KeyPurpose::Cookie),
            200,
            Some(&super::journal(&db, "ck")),
        )
        .await;
    assert!(matches!(wrong, Err(StoreError::Conflict)));
    assert_eq!(
        db.list().await.unwrap().len(),
        1,
        "a refused rotation changes nothing"
    );
    db.rotate(
        KeyPurpose::Cookie,
        &Kid::parse("ck_first").unwrap(),
        &stored("ck_next", KeyPurpose::Cookie),
        200,
        Some(&super::journal(&db, "ck")),
    )
    .await
    .unwrap();
    let keys = db.list().await.unwrap();
    let first = keys.iter().find(|k| k.kid.as_str() == "ck_first").unwrap();
    assert_eq!(
        (first.state, first.verify_since),
        (KeyState::Verify, Some(200))
    );
    assert_eq!(
        keys.iter()
            .find(|k| k.kid.as_str() == "ck_next")
            .unwrap()
            .state,
        KeyState::Active
    );
}

async fn only_verify_keys_retire_and_counters_add_up(db: Database) {
    db.migrate().await.unwrap();
    db.insert_active(&stored("ck_first", KeyPurpose::Cookie), None)
        .await
        .unwrap();
    let first = Kid::parse("ck_first").unwrap();
    assert!(
        !db.retire(&first, 300, None).await.unwrap(),
        "an active key does not retire"
    );
    db.rotate(
        KeyPurpose::Cookie,
        &first,
        &stored("ck_next", KeyPurpose::Cookie),
        200,
        Some(&super::journal(&db, "ck")),
    )
    .await
    .unwrap();
    assert!(db.retire(&first, 300, None).await.unwrap());
    db.add_verifications(&[(first.clone(), 3)]).await.unwrap();
    db.add_verifications(&[(first.clone(), 4)]).await.unwrap();
    let key = db
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == first)
        .unwrap();
    assert_eq!(
        (key.state, key.retired_at, key.verifications),
        (KeyState::Retired, Some(300), 7)
    );
}

async fn a_rotation_keeps_old_tokens_verifying_until_the_window_ends(db: Database) {
    db.migrate().await.unwrap();
    let master = MasterKey::generate().unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let keys = service(&db, &master, &clock).await;
    let now = clock.now_unix();
    let old_token = token::sign(&keys.ring(), &claims(now)).unwrap();
    let new_kid = keys.rotate(KeyPurpose::Cookie).await.unwrap();
    let verified = token::verify(&keys.ring(), &old_token).unwrap();
    assert!(
        !verified.key_active,
        "signed by the old key, now in state verify"
    );
    assert!(
        token::sign(&keys.ring(), &claims(now))
            .unwrap()
            .contains(new_kid.as_str())
    );

    clock.advance(Duration::hours(11));
    assert!(
        keys.run_schedule().await.unwrap().is_empty(),
        "still inside the verify window"
    );
    assert!(token::verify(&keys.ring(), &old_token).is_ok());
    clock.advance(Duration::hours(1));
    let done = keys.run_schedule().await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(
        token::verify(&keys.ring(), &old_token).is_err(),
        "retired keys verify nothing"
    );
}

async fn keys_rotate_on_schedule_and_material_is_sealed(db: Database) {
    db.migrate().await.unwrap();
    let master = MasterKey::generate().unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let keys = service(&db, &master, &clock).await;
    let before: Vec<Kid> = keys.keys().iter().map(|k| k.kid.clone()).collect();
    assert_eq!(before.len(), 2, "one key per purpose at start");
    for key in keys.keys().iter() {
        assert!(
            key.sealed
                .starts_with(&format!("ks1.{}.", master.fingerprint()))
        );
    }
    clock.advance(Duration::days(29));
    assert!(keys.run_schedule().await.unwrap().is_empty());
    clock.advance(Duration::days(1));
    assert_eq!(
        keys.run_schedule().await.unwrap().len(),
        2,
        "both purposes rotated"
    );
    let active = keys
        .keys()
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .count();
    assert_eq!(active, 2);
    let other = MasterKey::generate().unwrap();
    let err = KeyRingService::start(Arc::new(db.clone()), other, Arc::new(clock.clone()), POLICY)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be opened"), "{err}");
}

async fn a_second_instance_sees_a_rotation_after_reloading(db: Database) {
    db.migrate().await.unwrap();
    let master = MasterKey::generate().unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let one = service(&db, &master, &clock).await;
    let two = service(&db, &master, &clock).await;
    let kid = one.rotate(KeyPurpose::Jwt).await.unwrap();
    assert_ne!(two.ring().active(KeyPurpose::Jwt).unwrap().kid, kid);
    assert!(two.reload().await.unwrap());
    assert_eq!(two.ring().active(KeyPurpose::Jwt).unwrap().kid, kid);
    assert!(!two.reload().await.unwrap(), "nothing changed since");
}

async fn verifications_are_counted_per_key(db: Database) {
    db.migrate().await.unwrap();
    let master = MasterKey::generate().unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let keys = service(&db, &master, &clock).await;
    let kid = keys.ring().active(KeyPurpose::Cookie).unwrap().kid.clone();
    for _ in 0..5 {
        keys.record_verification(&kid);
    }
    keys.flush_verifications().await.unwrap();
    keys.flush_verifications().await.unwrap();
    keys.reload().await.unwrap();
    let counted = keys
        .keys()
        .iter()
        .find(|k| k.kid == kid)
        .unwrap()
        .verifications;
    assert_eq!(counted, 5);
}

crate::backends!(
    one_active_key_per_purpose_is_enforced,
    rotation_demotes_the_expected_key_or_changes_nothing,
    only_verify_keys_retire_and_counters_add_up,
    a_rotation_keeps_old_tokens_verifying_until_the_window_ends,
    keys_rotate_on_schedule_and_material_is_sealed,
    a_second_instance_sees_a_rotation_after_reloading,
    verifications_are_counted_per_key,
);
