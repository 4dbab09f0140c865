//! Password-reset links on every SQL backend: a link works until it expires, once; a new link
//! of the same account replaces the old one.

use kunci_domain::reset::ResetStore as _;
use kunci_store::Database;

use super::journal;

async fn a_link_works_once_until_it_expires(db: Database) {
    db.migrate().await.unwrap();
    db.put("h1", "acc_1", 1_000, &journal(&db, "acc_1"))
        .await
        .unwrap();
    assert_eq!(db.live("h1", 999).await.unwrap().as_deref(), Some("acc_1"));
    assert_eq!(
        db.live("h1", 1_000).await.unwrap(),
        None,
        "expired at its time"
    );
    assert_eq!(
        db.take("h1", 1_000).await.unwrap(),
        None,
        "an expired link is not taken"
    );
    assert_eq!(db.live("h2", 0).await.unwrap(), None);
    assert_eq!(db.take("h1", 500).await.unwrap().as_deref(), Some("acc_1"));
    assert_eq!(db.take("h1", 500).await.unwrap(), None, "once");
    assert_eq!(db.live("h1", 500).await.unwrap(), None);
}

async fn a_new_link_replaces_the_account_s_old_one(db: Database) {
    db.migrate().await.unwrap();
    db.put("old", "acc_1", 1_000, &journal(&db, "acc_1"))
        .await
        .unwrap();
    db.put("other", "acc_2", 1_000, &journal(&db, "acc_2"))
        .await
        .unwrap();
    db.put("new", "acc_1", 2_000, &journal(&db, "acc_1"))
        .await
        .unwrap();
    assert_eq!(db.live("old", 0).await.unwrap(), None);
    assert_eq!(db.live("new", 0).await.unwrap().as_deref(), Some("acc_1"));
    assert_eq!(db.live("other", 0).await.unwrap().as_deref(), Some("acc_2"));
}

async fn two_uses_at_once_let_one_through(db: Database) {
    db.migrate().await.unwrap();
    db.put("h", "acc_1", 1_000, &journal(&db, "acc_1"))
        .await
        .unwrap();
    let uses = futures_util::future::join_all((0..8).map(|_| db.take("h", 10))).await;
    let through = uses
        .into_iter()
        .filter(|u| matches!(u, Ok(Some(_))))
        .count();
    assert_eq!(through, 1);
}

crate::backends!(
    a_link_works_once_until_it_expires,
    a_new_link_replaces_the_account_s_old_one,
    two_uses_at_once_let_one_through,
);
