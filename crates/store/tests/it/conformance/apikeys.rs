//! The API-key pool on every SQL backend: priority then least recently used, one atomic pick
//! under concurrency, group-wide daily quotas, single-flight recovery, compare-and-set marks,
//! duplicates and formats refused, no key in clear in the database.

use std::sync::Arc;

use kunci_crypto::{MasterKey, SecretString};
use kunci_domain::apikeys::{ApiKeyPool, Day, KeyChange, KeyFormat, KeyStatus, PoolError, Verdict};
use kunci_domain::audit::AuditLog;
use kunci_domain::clock::{Clock as _, ManualClock};
use kunci_domain::notify::{Episodes, Silent};
use kunci_store::Database;
use time::Duration;
use time::macros::datetime;

struct Google;

impl KeyFormat for Google {
    fn accepts(&self, key: &str) -> bool {
        key.len() == 39
            && key.starts_with("AIza")
            && key[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
    fn shape(&self) -> kunci_domain::apikeys::KeyShape {
        kunci_domain::apikeys::KeyShape::Prefixed {
            prefix: "AIza",
            total: 39,
        }
    }
}

/// The upstream's day in these tests (the clock says 2026-11-23).
const DAY: Day = Day {
    number: 20_415,
    next_starts_at: 1_795_507_200,
};

fn key(n: usize) -> SecretString {
    SecretString::new(format!("AIzaSy{n:033}"))
}

async fn pool(db: &Database) -> (ApiKeyPool, ManualClock) {
    db.migrate().await.unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let audit = AuditLog::new(
        Arc::new(db.clone()),
        MasterKey::generate().unwrap(),
        Arc::new(clock.clone()),
    );
    let episodes = Episodes::new(
        Arc::new(db.clone()),
        Arc::new(Silent),
        Arc::new(clock.clone()),
    );
    let pool = ApiKeyPool::new(
        Arc::new(db.clone()),
        MasterKey::generate().unwrap(),
        Arc::new(clock.clone()),
        audit,
        Arc::new(Silent),
        episodes,
    );
    (pool, clock)
}

async fn add(pool: &ApiKeyPool, n: usize, priority: i64, group: Option<&str>) -> String {
    pool.add(
        &kunci_domain::audit::Actor::cli(),
        "google",
        &key(n),
        &Google,
        priority,
        group.map(str::to_owned),
    )
    .await
    .unwrap()
    .id
}

async fn pick(pool: &ApiKeyPool, exclude: &[String]) -> Option<String> {
    pool.acquire("google", exclude, DAY)
        .await
        .unwrap()
        .map(|(k, _)| k.id)
}

async fn priority_first_then_least_recently_used(db: Database) {
    let (pool, clock) = pool(&db).await;
    let low_a = add(&pool, 1, 0, None).await;
    let high = add(&pool, 2, 5, None).await;
    let low_b = add(&pool, 3, 0, None).await;
    assert_eq!(pick(&pool, &[]).await.as_deref(), Some(high.as_str()));
    assert_eq!(
        pick(&pool, &[]).await.as_deref(),
        Some(high.as_str()),
        "priority wins over recency"
    );
    let first_low = pick(&pool, std::slice::from_ref(&high)).await.unwrap();
    clock.advance(Duration::seconds(1));
    let second_low = pick(&pool, std::slice::from_ref(&high)).await.unwrap();
    assert_ne!(first_low, second_low, "the least recently used comes next");
    assert!([&low_a, &low_b].contains(&&first_low) && [&low_a, &low_b].contains(&&second_low));
    let (k, secret) = pool.acquire("google", &[], DAY).await.unwrap().unwrap();
    assert_eq!(secret.expose(), key(2).expose(), "opened for the call");
    assert_eq!(k.usage_count, 3);
}

async fn concurrent_picks_count_every_use(db: Database) {
    let (pool, _) = pool(&db).await;
    for n in 0..10 {
        add(&pool, n, 0, None).await;
    }
    let pool = Arc::new(pool);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire("google", &[], DAY).await.unwrap().is_some() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let keys = pool.store().list(Some("google")).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.usage_count).sum::<i64>(), 200);
    assert!(
        keys.iter().all(|k| k.usage_count >= 10),
        "spread by recency: {:?}",
        keys.iter().map(|k| k.usage_count).collect::<Vec<_>>()
    );
}

async fn a_daily_quota_marks_the_whole_group_and_recovery_is_single_flight(db: Database) {
    let (pool, clock) = pool(&db).await;
    let a = add(&pool, 1, 0, Some("project_1")).await;
    let b = add(&pool, 2, 0, None).await;
    let c = add(&pool, 3, 0, Some("project_2")).await;
    let now = clock.now_unix();
    let until = now + 3600;
    let (key_b, _) = pool
        .acquire("google", &[a.clone(), c.clone()], DAY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key_b.id, b);
    // b's answer reveals its project: b joins project_1, and the whole project is spent.
    pool.report(
        &key_b,
        &Verdict::QuotaExceeded {
            until,
            group: Some("project_1".into()),
        },
        Some("429 per day"),
    )
    .await
    .unwrap();
    let keys = pool.store().list(Some("google")).await.unwrap();
    let status = |id: &str| keys.iter().find(|k| k.id == id).unwrap().status;
    assert_eq!(
        (status(&a), status(&b), status(&c)),
        (
            KeyStatus::QuotaExceeded,
            KeyStatus::QuotaExceeded,
            KeyStatus::Active
        )
    );
    assert_eq!(pick(&pool, &[]).await.as_deref(), Some(c.as_str()));
    pool.store()
        .update(
            &c,
            &KeyChange {
                status: Some(KeyStatus::Disabled),
                ..KeyChange::default()
            },
            &super::journal(&db, &c),
        )
        .await
        .unwrap();
    assert_eq!(pick(&pool, &[]).await, None);
    assert_eq!(
        pool.earliest_available("google", DAY).await.unwrap(),
        Some(until)
    );

    // A shorter cooling never shortens a quota.
    pool.store()
        .mark(&a, &Verdict::Cooling { until: now + 60 }, None, now)
        .await
        .unwrap();
    assert_eq!(
        pool.store().get(&a).await.unwrap().unwrap().available_at,
        Some(until)
    );

    clock.advance(Duration::hours(1));
    let probe = pick(&pool, &[]).await.unwrap();
    assert!(probe == a || probe == b);
    let other = pick(&pool, &[]).await.unwrap();
    assert_ne!(other, probe, "each recovering key goes to one probe");
    assert_eq!(pick(&pool, &[]).await, None, "both are being probed");
    let probed = pool.store().get(&probe).await.unwrap().unwrap();
    assert_eq!(probed.status, KeyStatus::Probing);
    pool.report(&probed, &Verdict::Served, None).await.unwrap();
    assert_eq!(
        pool.store().get(&probe).await.unwrap().unwrap().status,
        KeyStatus::Active
    );
    assert_eq!(pick(&pool, &[]).await, Some(probe));
}

async fn invalid_and_disabled_keys_are_never_revived_by_an_answer(db: Database) {
    let (pool, clock) = pool(&db).await;
    let a = add(&pool, 1, 0, None).await;
    let now = clock.now_unix();
    let key_a = pool.store().get(&a).await.unwrap().unwrap();
    pool.report(&key_a, &Verdict::Invalid, Some("API_KEY_INVALID"))
        .await
        .unwrap();
    pool.report(&key_a, &Verdict::Served, None).await.unwrap();
    pool.store()
        .mark(&a, &Verdict::Cooling { until: now + 5 }, None, now)
        .await
        .unwrap();
    let stored = pool.store().get(&a).await.unwrap().unwrap();
    assert_eq!(stored.status, KeyStatus::Invalid);
    assert_eq!(stored.last_error.as_deref(), Some("API_KEY_INVALID"));
    assert_eq!(pick(&pool, &[]).await, None);
    // Only an administrator brings it back.
    pool.change(
        &kunci_domain::audit::Actor::cli(),
        &a,
        &KeyChange {
            status: Some(KeyStatus::Active),
            ..KeyChange::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(pick(&pool, &[]).await, Some(a.clone()));
    assert!(matches!(
        pool.change(
            &kunci_domain::audit::Actor::cli(),
            &a,
            &KeyChange {
                status: Some(KeyStatus::Cooling),
                ..KeyChange::default()
            }
        )
        .await,
        Err(PoolError::BadStatus)
    ));
}

async fn formats_and_duplicates_are_refused_and_nothing_is_stored_in_clear(db: Database) {
    let (pool, _) = pool(&db).await;
    add(&pool, 7, 0, None).await;
    assert!(matches!(
        pool.add(&kunci_domain::audit::Actor::cli(), "google", &key(7), &Google, 0, None).await,
        Err(PoolError::Duplicate(masked)) if masked.ends_with("0007")
    ));
    for bad in [
        "AIza-too-short",
        "sk-somethingelse00000000000000000000000",
        "",
    ] {
        assert!(
            matches!(
                pool.add(
                    &kunci_domain::audit::Actor::cli(),
                    "google",
                    &SecretString::new(bad),
                    &Google,
                    0,
                    None
                )
                .await,
                Err(PoolError::BadFormat { .. })
            ),
            "{bad}"
        );
    }
    let secret = key(7).expose().to_owned();
    let stored = pool.store().list(None).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].masked, format!("AIza…{}", &secret[35..]));
    let dump = format!(
        "{:?} {} {} {}",
        stored[0], stored[0].sealed, stored[0].hash, stored[0].masked
    );
    assert!(!dump.contains(&secret[4..]), "no key in clear: {dump}");
    let audit = AuditLog::new(
        Arc::new(db.clone()),
        MasterKey::generate().unwrap(),
        Arc::new(ManualClock::new(datetime!(2026-11-23 09:00 UTC))),
    );
    let entries = audit.page(0, 10).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.record.action == "admin.api_key.created")
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.record.target.contains(&secret[4..]))
    );
}

async fn a_spent_daily_budget_stops_handing_the_key_out(db: Database) {
    let (pool, _) = pool(&db).await;
    let a = add(&pool, 1, 5, None).await;
    let b = add(&pool, 2, 0, None).await;
    pool.store()
        .update(
            &a,
            &KeyChange {
                daily_budget: Some(Some(3)),
                ..KeyChange::default()
            },
            &super::journal(&db, &a),
        )
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(pick(&pool, &[]).await.as_deref(), Some(a.as_str()));
    }
    assert_eq!(
        pick(&pool, &[]).await.as_deref(),
        Some(b.as_str()),
        "a's budget is spent"
    );
    pool.store()
        .update(
            &b,
            &KeyChange {
                status: Some(KeyStatus::Disabled),
                ..KeyChange::default()
            },
            &super::journal(&db, &b),
        )
        .await
        .unwrap();
    assert_eq!(pick(&pool, &[]).await, None);
    assert_eq!(
        pool.earliest_available("google", DAY).await.unwrap(),
        Some(DAY.next_starts_at)
    );
    let tomorrow = Day {
        number: DAY.number + 1,
        next_starts_at: DAY.next_starts_at + 86_400,
    };
    let (k, _) = pool
        .acquire("google", &[], tomorrow)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (k.id.as_str(), k.used_today),
        (a.as_str(), 1),
        "a new day, a new budget"
    );
}

crate::backends!(
    a_spent_daily_budget_stops_handing_the_key_out,
    priority_first_then_least_recently_used,
    concurrent_picks_count_every_use,
    a_daily_quota_marks_the_whole_group_and_recovery_is_single_flight,
    invalid_and_disabled_keys_are_never_revived_by_an_answer,
    formats_and_duplicates_are_refused_and_nothing_is_stored_in_clear,
);
