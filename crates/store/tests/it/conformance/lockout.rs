//! Lockout on every SQL backend: at most `limit` attempts evaluated however parallel, locks
//! that hold for their period, device budgets apart from the name's, unlock.

use std::sync::{Arc, Mutex};

use kunci_crypto::MasterKey;
use kunci_domain::audit::AuditLog;
use kunci_domain::clock::ManualClock;
use kunci_domain::lockout::{Lockout, LockoutError, LockoutPolicy};
use kunci_domain::notify::{EventKind, Notification, Notifier};
use kunci_store::Database;
use time::Duration;
use time::macros::datetime;

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Notification>>);

impl Notifier for Recorder {
    fn notify(&self, n: Notification) {
        self.0.lock().unwrap().push(n);
    }
}

const POLICY: LockoutPolicy = LockoutPolicy {
    limit: 5,
    window_secs: 900,
    lock_secs: 12 * 3600,
};

async fn lockout(db: &Database) -> (Lockout, ManualClock, Arc<Recorder>, AuditLog) {
    db.migrate().await.unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let audit = AuditLog::new(
        Arc::new(db.clone()),
        MasterKey::generate().unwrap(),
        Arc::new(clock.clone()),
    );
    let heard = Arc::new(Recorder::default());
    let lockout = Lockout::new(
        Arc::new(db.clone()),
        POLICY,
        Arc::new(clock.clone()),
        audit.clone(),
        heard.clone(),
    );
    (lockout, clock, heard, audit)
}

async fn fail(lockout: &Lockout, name: &str, device: Option<&str>) -> Result<(), LockoutError> {
    let ticket = lockout.check_in(name, device).await?;
    lockout.failed(ticket).await
}

async fn five_failures_lock_the_name_for_the_lock_period(db: Database) {
    let (lockout, clock, heard, audit) = lockout(&db).await;
    for _ in 0..5 {
        fail(&lockout, "alice", None).await.unwrap();
    }
    match lockout.check_in("alice", None).await {
        Err(LockoutError::Locked { retry_after }) => assert_eq!(retry_after, 12 * 3600),
        other => panic!("expected a lock, got {other:?}"),
    }
    let kinds: Vec<EventKind> = heard.0.lock().unwrap().iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [EventKind::AccountLocked], "notified once");
    let entries = audit.page(0, 10).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.record.action == "account.locked")
            .count(),
        1
    );

    clock.advance(Duration::hours(11));
    assert!(
        lockout.check_in("alice", None).await.is_err(),
        "still locked"
    );
    assert!(lockout.locked_until("alice").await.unwrap().is_some());
    clock.advance(Duration::hours(1));
    let ticket = lockout.check_in("alice", None).await.unwrap();
    lockout.succeeded(ticket).await.unwrap();
}

async fn a_success_before_the_limit_resets_the_count(db: Database) {
    let (lockout, clock, _, _) = lockout(&db).await;
    for _ in 0..4 {
        fail(&lockout, "bob", None).await.unwrap();
    }
    let ticket = lockout.check_in("bob", None).await.unwrap();
    lockout.succeeded(ticket).await.unwrap();
    for _ in 0..4 {
        fail(&lockout, "bob", None).await.unwrap();
    }
    assert!(
        lockout.check_in("bob", None).await.is_ok(),
        "the count started again"
    );
    // Failures outside the window do not add up either.
    clock.advance(Duration::minutes(16));
    for _ in 0..4 {
        fail(&lockout, "carol", None).await.unwrap();
        clock.advance(Duration::minutes(5));
    }
    assert!(lockout.check_in("carol", None).await.is_ok());
}

async fn parallel_attempts_never_get_past_the_limit(db: Database) {
    let (lockout, _, heard, _) = lockout(&db).await;
    let lockout = Arc::new(lockout);
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let lockout = lockout.clone();
            tokio::spawn(async move { lockout.check_in("dave", None).await })
        })
        .collect();
    let mut tickets = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(ticket) => tickets.push(ticket),
            Err(LockoutError::Busy) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(tickets.len(), 5, "five evaluated, the rest told to wait");
    assert!(
        heard.0.lock().unwrap().is_empty(),
        "attempts in flight lock nothing"
    );
    for ticket in tickets {
        lockout.failed(ticket).await.unwrap();
    }
    assert!(matches!(
        lockout.check_in("dave", None).await,
        Err(LockoutError::Locked { .. })
    ));
    assert_eq!(
        heard.0.lock().unwrap().len(),
        1,
        "five failures: one lock, one notification"
    );
}

async fn a_known_device_keeps_its_own_budget(db: Database) {
    let (lockout, _, _, _) = lockout(&db).await;
    for _ in 0..5 {
        fail(&lockout, "erin", None).await.unwrap();
    }
    assert!(
        lockout.check_in("erin", None).await.is_err(),
        "the name is locked"
    );
    let ticket = lockout.check_in("erin", Some("dev-1")).await.unwrap();
    lockout.succeeded(ticket).await.unwrap();
    for _ in 0..5 {
        fail(&lockout, "erin", Some("dev-1")).await.unwrap();
    }
    assert!(
        lockout.check_in("erin", Some("dev-1")).await.is_err(),
        "a device has a budget too"
    );
    assert!(lockout.check_in("erin", Some("dev-2")).await.is_ok());
}

async fn an_administrator_unlocks(db: Database) {
    let (lockout, _, _, audit) = lockout(&db).await;
    for _ in 0..6 {
        let _ = fail(&lockout, "frank", None).await;
    }
    assert!(
        lockout
            .unlock(&kunci_domain::audit::Actor::cli(), "frank")
            .await
            .unwrap()
    );
    assert!(lockout.check_in("frank", None).await.is_ok());
    assert!(
        !lockout
            .unlock(&kunci_domain::audit::Actor::cli(), "nobody")
            .await
            .unwrap()
    );
    let entries = audit.page(0, 20).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.record.action == "account.unlocked")
    );
}

async fn the_locks_in_force_are_listed_and_a_device_is_unlocked(db: Database) {
    use kunci_domain::lockout::Locked;
    let (lockout, clock, _, _) = lockout(&db).await;
    for _ in 0..5 {
        fail(&lockout, "gina", None).await.unwrap();
    }
    clock.advance(Duration::minutes(1));
    for _ in 0..5 {
        fail(&lockout, "hank", Some("dev-9")).await.unwrap();
    }
    fail(&lockout, "ivan", None).await.unwrap();
    let locks = lockout.locks(10).await.unwrap();
    let what: Vec<&Locked> = locks.iter().map(|l| &l.what).collect();
    assert_eq!(
        what,
        [
            &Locked::Device("dev-9".into()),
            &Locked::Name("gina".into())
        ],
        "the latest end first; counting is not locked"
    );
    assert_eq!(locks[0].until - locks[1].until, 60);
    assert_eq!(lockout.locks(1).await.unwrap().len(), 1);
    let actor = kunci_domain::audit::Actor::cli();
    assert!(lockout.unlock_device(&actor, "dev-9").await.unwrap());
    assert!(lockout.check_in("hank", Some("dev-9")).await.is_ok());
    assert_eq!(lockout.locks(10).await.unwrap().len(), 1);
    clock.advance(Duration::hours(13));
    assert!(
        lockout.locks(10).await.unwrap().is_empty(),
        "an ended lock is not listed"
    );
}

crate::backends!(
    the_locks_in_force_are_listed_and_a_device_is_unlocked,
    five_failures_lock_the_name_for_the_lock_period,
    a_success_before_the_limit_resets_the_count,
    parallel_attempts_never_get_past_the_limit,
    a_known_device_keeps_its_own_budget,
    an_administrator_unlocks,
);
