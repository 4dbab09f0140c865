//! Migrations behave the same on every backend: apply, report, revert, re-apply.

use kunci_store::Database;

async fn a_new_database_has_every_migration_pending(db: Database) {
    let status = db.migration_status().await.unwrap();
    assert!(!status.is_empty());
    assert!(status.iter().all(|m| !m.applied), "{status:?}");
    assert_eq!(db.pending_migrations().await.unwrap().len(), status.len());
    assert!(
        db.ping().await.is_err(),
        "an unmigrated database is not ready"
    );
}

async fn migrate_applies_everything_once(db: Database) {
    let applied = db.migrate().await.unwrap();
    assert!(!applied.is_empty());
    assert!(db.pending_migrations().await.unwrap().is_empty());
    assert!(
        db.migrate().await.unwrap().is_empty(),
        "a second run applies nothing"
    );
    db.ping().await.unwrap();
}

async fn rollback_reverts_the_newest_and_migrate_restores_it(db: Database) {
    let applied = db.migrate().await.unwrap();
    let newest = *applied.last().unwrap();
    assert_eq!(db.rollback(1).await.unwrap(), vec![newest]);
    assert_eq!(db.pending_migrations().await.unwrap(), vec![newest]);
    assert_eq!(db.migrate().await.unwrap(), vec![newest]);
    db.ping().await.unwrap();
}

async fn rolling_back_more_steps_than_applied_reverts_all(db: Database) {
    let applied = db.migrate().await.unwrap();
    let mut reverted = db.rollback(applied.len() + 5).await.unwrap();
    reverted.reverse();
    assert_eq!(reverted, applied);
    assert!(db.ping().await.is_err(), "kunci's tables are gone");
    assert!(
        db.rollback(1).await.unwrap().is_empty(),
        "nothing left to revert"
    );
}

crate::backends!(
    a_new_database_has_every_migration_pending,
    migrate_applies_everything_once,
    rollback_reverts_the_newest_and_migrate_restores_it,
    rolling_back_more_steps_than_applied_reverts_all,
);
