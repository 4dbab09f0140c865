//! Logins waiting for their second factor on every SQL backend: an app's token and a browser's
//! session find their challenge for five minutes; it is taken once; an expired one is gone.

use std::sync::Arc;

use kunci_domain::clock::ManualClock;
use kunci_domain::factors::{CHALLENGE_SECS, Challenges};
use kunci_store::Database;
use time::Duration;
use time::macros::datetime;

async fn a_challenge_is_found_for_five_minutes_and_taken_once(db: Database) {
    db.migrate().await.unwrap();
    let clock = ManualClock::new(datetime!(2026-12-04 10:00 UTC));
    let challenges = Challenges::new(Arc::new(db.clone()), Arc::new(clock.clone()));
    let token = challenges.for_app("acc_1", "phone-app-01").await.unwrap();
    let token = token.expose();
    challenges
        .for_browser("sid-of-a-browser", "acc_2")
        .await
        .unwrap();
    let app = challenges.find(Some(token), None).await.unwrap().unwrap();
    assert_eq!(
        (app.account_id.as_str(), app.flow.as_str()),
        ("acc_1", "mobile")
    );
    assert_eq!(app.client_id.as_deref(), Some("phone-app-01"));
    let web = challenges
        .find(None, Some("sid-of-a-browser"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (web.account_id.as_str(), web.flow.as_str(), web.client_id),
        ("acc_2", "web", None)
    );
    assert!(
        challenges
            .find(None, Some("another-browser"))
            .await
            .unwrap()
            .is_none()
    );
    let taken =
        futures_util::future::join_all((0..4).map(|_| challenges.take(Some(token), None))).await;
    assert_eq!(
        taken.iter().filter(|t| matches!(t, Ok(Some(_)))).count(),
        1,
        "once"
    );
    assert!(challenges.find(Some(token), None).await.unwrap().is_none());
    clock.advance(Duration::seconds(CHALLENGE_SECS));
    assert!(
        challenges
            .find(None, Some("sid-of-a-browser"))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        challenges
            .take(None, Some("sid-of-a-browser"))
            .await
            .unwrap()
            .is_none()
    );
}

crate::backends!(a_challenge_is_found_for_five_minutes_and_taken_once);
