//! Second factors on every SQL backend, through the domain service: enrolment counts once
//! confirmed, a code works once — also on a second instance sharing the database — within one
//! step either side, recovery codes work once and renewing them ends the old.

use std::sync::Arc;

use kunci_crypto::MasterKey;
use kunci_crypto::totp::{STEP_SECS, TotpSecret, code_at};
use kunci_domain::audit::{Actor, AuditLog};
use kunci_domain::clock::{Clock as _, ManualClock};
use kunci_domain::factors::{FactorError, SecondFactors};
use kunci_store::Database;
use time::Duration;
use time::macros::datetime;

fn service(db: &Database, master: &MasterKey, clock: &ManualClock) -> SecondFactors {
    let audit = AuditLog::new(
        Arc::new(db.clone()),
        master.clone(),
        Arc::new(clock.clone()),
    );
    SecondFactors::new(
        Arc::new(db.clone()),
        master.clone(),
        Arc::new(clock.clone()),
        audit,
    )
}

/// An enrolled account: its secret, for playing the app.
async fn enrolled(factors: &SecondFactors, clock: &ManualClock, account: &str) -> TotpSecret {
    let enrolment = factors.begin_totp(account).await.unwrap();
    let code = code_at(&enrolment.secret, clock.now_unix());
    let codes = factors
        .confirm_totp(&Actor::cli(), account, &code)
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    enrolment.secret
}

async fn a_code_works_once_here_and_on_another_instance(db: Database) {
    db.migrate().await.unwrap();
    let master = MasterKey::generate().unwrap();
    let clock = ManualClock::new(datetime!(2026-12-04 10:00:10 UTC));
    let one = service(&db, &master, &clock);
    let other = service(&db, &master, &clock);
    assert!(!one.of("acc_1").await.unwrap().totp);
    let enrolment = one.begin_totp("acc_1").await.unwrap();
    assert!(
        !one.of("acc_1").await.unwrap().totp,
        "not before confirmation"
    );
    assert!(
        !one.verify_totp("acc_1", &code_at(&enrolment.secret, clock.now_unix()))
            .await
            .unwrap()
    );
    assert!(matches!(
        one.confirm_totp(&Actor::cli(), "acc_1", "000000").await,
        Err(FactorError::WrongCode)
    ));
    let code = code_at(&enrolment.secret, clock.now_unix());
    one.confirm_totp(&Actor::cli(), "acc_1", &code)
        .await
        .unwrap();
    assert!(one.of("acc_1").await.unwrap().totp);
    assert!(matches!(
        one.begin_totp("acc_1").await,
        Err(FactorError::Enrolled)
    ));
    // The confirming code's step is used: the same code does not sign in.
    assert!(!one.verify_totp("acc_1", &code).await.unwrap());
    clock.advance(Duration::seconds(STEP_SECS));
    let next = code_at(&enrolment.secret, clock.now_unix());
    assert!(one.verify_totp("acc_1", &next).await.unwrap());
    assert!(
        !other.verify_totp("acc_1", &next).await.unwrap(),
        "replayed on another instance"
    );
    assert!(
        !one.verify_totp("acc_1", &next).await.unwrap(),
        "replayed here"
    );
}

async fn one_step_of_skew_is_accepted_and_two_are_not(db: Database) {
    db.migrate().await.unwrap();
    let master = MasterKey::generate().unwrap();
    let clock = ManualClock::new(datetime!(2026-12-04 10:00:10 UTC));
    let factors = service(&db, &master, &clock);
    let secret = enrolled(&factors, &clock, "acc_2").await;
    clock.advance(Duration::minutes(10));
    let now = clock.now_unix();
    let behind = code_at(&secret, now - STEP_SECS);
    let two_ahead = code_at(&secret, now + 2 * STEP_SECS);
    let two_behind = code_at(&secret, now - 2 * STEP_SECS);
    assert!(!factors.verify_totp("acc_2", &two_ahead).await.unwrap());
    assert!(!factors.verify_totp("acc_2", &two_behind).await.unwrap());
    assert!(
        factors.verify_totp("acc_2", &behind).await.unwrap(),
        "a phone 30 s slow"
    );
    let ahead = code_at(&secret, now + STEP_SECS);
    assert!(
        factors.verify_totp("acc_2", &ahead).await.unwrap(),
        "a phone 30 s fast"
    );
    let current = code_at(&secret, now);
    assert!(
        !factors.verify_totp("acc_2", &current).await.unwrap(),
        "a step before the last used one is used up too"
    );
}

async fn recovery_codes_work_once_and_renewing_ends_the_old(db: Database) {
    db.migrate().await.unwrap();
    let master = MasterKey::generate().unwrap();
    let clock = ManualClock::new(datetime!(2026-12-04 10:00:10 UTC));
    let factors = service(&db, &master, &clock);
    let _ = enrolled(&factors, &clock, "acc_3").await;
    let codes = factors
        .new_recovery_codes(Some(&Actor::cli()), "acc_3")
        .await
        .unwrap();
    let first = codes[0].expose().to_owned();
    assert!(
        factors
            .use_recovery_code("acc_3", &first.to_uppercase())
            .await
            .unwrap(),
        "as typed"
    );
    assert!(
        !factors.use_recovery_code("acc_3", &first).await.unwrap(),
        "once"
    );
    assert!(
        !factors
            .use_recovery_code("acc_4", codes[1].expose())
            .await
            .unwrap(),
        "not another's"
    );
    assert_eq!(factors.of("acc_3").await.unwrap().recovery_left, 9);
    let renewed = factors
        .new_recovery_codes(Some(&Actor::cli()), "acc_3")
        .await
        .unwrap();
    assert!(
        !factors
            .use_recovery_code("acc_3", codes[1].expose())
            .await
            .unwrap(),
        "old ones end"
    );
    assert!(
        factors
            .use_recovery_code("acc_3", renewed[1].expose())
            .await
            .unwrap()
    );
    assert!(factors.remove(&Actor::cli(), "acc_3").await.unwrap());
    assert_eq!(
        factors.of("acc_3").await.unwrap(),
        kunci_domain::factors::Factors::default()
    );
}

crate::backends!(
    a_code_works_once_here_and_on_another_instance,
    one_step_of_skew_is_accepted_and_two_are_not,
    recovery_codes_work_once_and_renewing_ends_the_old,
);
