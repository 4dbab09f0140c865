//! The audit log on every SQL backend: one chain under concurrent writers, tampering named by
//! `verify`, append-only guards, the IP purge.

use std::sync::Arc;

use kunci_crypto::MasterKey;
use kunci_domain::audit::{
    AuditError, AuditEvent, AuditFilter, AuditLog, AuditedError, ChainProblem, Outcome,
};
use kunci_domain::clients::ClientStore as _;
use kunci_domain::clock::ManualClock;
use kunci_domain::store::StoreError;
use kunci_store::Database;
use time::macros::datetime;

fn log(db: &Database, clock: &ManualClock) -> AuditLog {
    AuditLog::new(
        Arc::new(db.clone()),
        MasterKey::generate().unwrap(),
        Arc::new(clock.clone()),
    )
}

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2026-11-01 00:00 UTC))
}

async fn exec(db: &Database, sql: &str) -> Result<u64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        Database::Sqlite(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Database::Postgres(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Database::MySql(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    }
}

/// What someone with write access to the database does first.
async fn drop_guards(db: &Database) {
    match db {
        Database::Sqlite(_) | Database::MySql(_) => {
            exec(db, "DROP TRIGGER audit_log_no_delete").await.unwrap();
            exec(db, "DROP TRIGGER audit_log_no_update").await.unwrap();
        }
        Database::Postgres(_) => {
            exec(db, "DROP TRIGGER audit_log_append_only ON audit_log")
                .await
                .unwrap();
        }
    }
}

async fn write(log: &AuditLog, n: usize) {
    for i in 0..n {
        log.record(
            AuditEvent::new("cli", "test.action", format!("target-{i}"))
                .ip(Some("203.0.113.7".parse().unwrap())),
        )
        .await
        .unwrap();
    }
}

fn problem(result: Result<kunci_domain::audit::ChainReport, AuditError>) -> ChainProblem {
    match result {
        Err(AuditError::Broken(problem)) => problem,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

/// A log of `n` entries whose database guards someone has dropped.
async fn written_and_unguarded(db: &Database, n: usize) -> AuditLog {
    db.migrate().await.unwrap();
    let log = log(db, &clock());
    write(&log, n).await;
    drop_guards(db).await;
    log
}

async fn entries_form_one_verifiable_chain(db: Database) {
    db.migrate().await.unwrap();
    let clock = clock();
    let log = log(&db, &clock);
    assert_eq!(
        log.verify().await.unwrap().entries,
        0,
        "an empty log verifies"
    );
    write(&log, 3).await;
    let entry = log
        .record(
            AuditEvent::new(
                "user:alice",
                "admin.api_key.created",
                "google_cse:AIza…RYSU",
            )
            .outcome(Outcome::Denied)
            .kid("ck_abc"),
        )
        .await
        .unwrap();
    assert_eq!((entry.seq, entry.record.outcome.as_str()), (4, "denied"));
    let report = log.verify().await.unwrap();
    assert_eq!((report.entries, report.head_seq), (4, 4));
    assert_eq!(report.head_mac, entry.mac);
    let page = log.page(0, 10).await.unwrap();
    assert_eq!(page.len(), 4);
    assert_eq!(page[3].record.kid.as_deref(), Some("ck_abc"));
}

async fn concurrent_writers_form_one_chain(db: Database) {
    db.migrate().await.unwrap();
    let clock = clock();
    let log = log(&db, &clock);
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                log.record(AuditEvent::new(
                    "system",
                    "test.concurrent",
                    format!("w{i}"),
                ))
                .await
                .unwrap()
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(log.verify().await.unwrap().entries, 16);
}

async fn the_database_refuses_edits_and_deletes(db: Database) {
    db.migrate().await.unwrap();
    let log = log(&db, &clock());
    write(&log, 2).await;
    assert!(
        exec(&db, "DELETE FROM audit_log WHERE seq = 1")
            .await
            .is_err()
    );
    assert!(
        exec(&db, "UPDATE audit_log SET target = 'x' WHERE seq = 1")
            .await
            .is_err()
    );
    assert!(
        exec(&db, "UPDATE audit_log SET ip = 'x.y' WHERE seq = 1")
            .await
            .is_err()
    );
    // The retention purge is the one change allowed.
    assert_eq!(
        exec(&db, "UPDATE audit_log SET ip = NULL WHERE seq = 1")
            .await
            .unwrap(),
        1
    );
    log.verify().await.unwrap();
}

async fn an_edited_entry_is_named(db: Database) {
    let log = written_and_unguarded(&db, 5).await;
    exec(&db, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(problem(log.verify().await), ChainProblem::Edited { seq: 3 });
}

async fn a_deleted_entry_is_named(db: Database) {
    let log = written_and_unguarded(&db, 5).await;
    exec(&db, "DELETE FROM audit_log WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(
        problem(log.verify().await),
        ChainProblem::Missing { from: 2, to: 2 }
    );
    // Renumbering to hide the gap does not help.
    exec(&db, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 2")
        .await
        .unwrap();
    assert_eq!(
        problem(log.verify().await),
        ChainProblem::OutOfPlace {
            seq: 2,
            after: Some(1)
        }
    );
}

async fn deleting_the_newest_entries_is_caught_by_the_head(db: Database) {
    let log = written_and_unguarded(&db, 5).await;
    exec(&db, "DELETE FROM audit_log WHERE seq >= 4")
        .await
        .unwrap();
    assert_eq!(
        problem(log.verify().await),
        ChainProblem::Truncated { last: 3, head: 5 }
    );
}

async fn an_inserted_entry_is_named(db: Database) {
    db.migrate().await.unwrap();
    let log = log(&db, &clock());
    write(&log, 3).await;
    exec(
        &db,
        "INSERT INTO audit_log (seq, at, actor, action, target, outcome, kid, ip, ip_commit, prev, mac) \
         SELECT 4, at, 'user:mallory', 'admin.user.created', 'mallory', 'allowed', NULL, NULL, NULL, mac, mac \
         FROM audit_log WHERE seq = 3",
    )
    .await
    .unwrap();
    assert_eq!(problem(log.verify().await), ChainProblem::Edited { seq: 4 });
}

async fn reordered_entries_are_named(db: Database) {
    let log = written_and_unguarded(&db, 5).await;
    exec(&db, "UPDATE audit_log SET seq = 100 WHERE seq = 2")
        .await
        .unwrap();
    exec(&db, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
        .await
        .unwrap();
    exec(&db, "UPDATE audit_log SET seq = 3 WHERE seq = 100")
        .await
        .unwrap();
    assert_eq!(
        problem(log.verify().await),
        ChainProblem::OutOfPlace {
            seq: 2,
            after: Some(1)
        }
    );
}

async fn purging_old_ip_hashes_keeps_the_chain_verifiable(db: Database) {
    db.migrate().await.unwrap();
    let clock = clock();
    let log = log(&db, &clock);
    write(&log, 2).await;
    clock.advance(time::Duration::days(31));
    write(&log, 1).await;
    assert_eq!(log.purge_ips(30).await.unwrap(), 2);
    let page = log.page(0, 10).await.unwrap();
    assert!(page[0].record.ip.is_none() && page[1].record.ip.is_none());
    assert!(
        page[0].record.ip_commit.is_some(),
        "the commitment stays for the chain"
    );
    assert!(page[2].ip_hash().is_some(), "recent entries keep theirs");
    assert_eq!(log.verify().await.unwrap().entries, 3);
    for entry in &page {
        let text = format!("{entry:?}");
        assert!(!text.contains("203.0.113"), "no raw IP stored: {text}");
    }
}

async fn an_unwritable_log_refuses_the_action(db: Database) {
    db.migrate().await.unwrap();
    let log = log(&db, &clock());
    drop_guards(&db).await;
    exec(&db, "DROP TABLE audit_log").await.unwrap();
    let mut ran = false;
    let result = log
        .around(AuditEvent::new("cli", "test.refused", "x"), async {
            ran = true;
            Ok::<(), std::io::Error>(())
        })
        .await;
    assert!(result.is_err());
    assert!(!ran, "the action never ran unaudited");
}

fn outcomes(entries: &[kunci_domain::audit::AuditEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e.record.action, e.record.target, e.record.outcome
            )
        })
        .collect()
}

async fn a_journaled_write_commits_with_its_entry_or_not_at_all(db: Database) {
    use super::clients::client;
    db.migrate().await.unwrap();
    let log = log(&db, &clock());
    let created = |name: &str| AuditEvent::new("cli", "service_client.created", name);
    log.within(created("billing"), async |j| {
        db.insert(&client("billing"), &j).await
    })
    .await
    .unwrap();
    let again = log
        .within(created("billing"), async |j| {
            db.insert(&client("billing"), &j).await
        })
        .await;
    assert!(matches!(
        again,
        Err(AuditedError::Action(StoreError::Conflict))
    ));
    let revoked = AuditEvent::new("cli", "service_client.revoked", "nobody");
    let nothing = log
        .within(revoked, async |j| db.revoke("nobody", 20, &j).await)
        .await
        .unwrap();
    assert!(!nothing, "no such client");
    assert_eq!(
        outcomes(&log.page(0, 10).await.unwrap()),
        [
            "service_client.created billing allowed",
            "service_client.created billing failed",
            "service_client.revoked nobody failed",
        ],
        "a write that failed or changed nothing rolled its `allowed` back"
    );
    log.verify().await.unwrap();

    // The head row is what every journaled write locks first; without it no entry can be
    // written, and the write is refused with it.
    exec(&db, "DELETE FROM audit_head").await.unwrap();
    let refused = log
        .within(created("deploy"), async |j| {
            db.insert(&client("deploy"), &j).await
        })
        .await;
    assert!(
        matches!(refused, Err(AuditedError::Audit(AuditError::Unwritable(_)))),
        "{refused:?}"
    );
    assert!(
        db.get("deploy").await.unwrap().is_none(),
        "not written unaudited"
    );
}

async fn an_intent_without_its_outcome_is_unresolved(db: Database) {
    db.migrate().await.unwrap();
    let log = log(&db, &clock());
    let unlock = |name: &str| AuditEvent::new("cli", "account.unlocked", name);
    log.around(unlock("alice"), async { Ok::<_, StoreError>(()) })
        .await
        .unwrap();
    // What a process killed between the intent and the outcome leaves.
    let crashed = log
        .record(unlock("bob").outcome(Outcome::Started))
        .await
        .unwrap();
    let failed = log
        .around(unlock("carol"), async {
            Err::<(), _>(StoreError::Conflict)
        })
        .await;
    assert!(matches!(
        failed,
        Err(AuditedError::Action(StoreError::Conflict))
    ));
    assert_eq!(
        outcomes(&log.page(0, 10).await.unwrap()),
        [
            "account.unlocked alice started",
            "account.unlocked alice allowed",
            "account.unlocked bob started",
            "account.unlocked carol started",
            "account.unlocked carol failed",
        ]
    );
    assert_eq!(log.unresolved().await.unwrap(), [crashed.seq]);
}

/// The console's view: the database's query shows exactly what the filter's own rule does,
/// newest first, a page at a time.
async fn filtered_views_agree_with_the_filter(db: Database) {
    db.migrate().await.unwrap();
    let clock = clock();
    let log = log(&db, &clock);
    let actors = ["user:alice", "cli", "client:deploy"];
    let actions = [
        "account.created",
        "account.unlocked",
        "admin.api_key.created",
        "accountx.y",
    ];
    let outcomes = [Outcome::Allowed, Outcome::Denied, Outcome::Failed];
    for i in 0..36_usize {
        clock.advance(time::Duration::minutes(10));
        let event = AuditEvent::new(actors[i % 3], actions[i % 4], format!("t{i}"))
            .outcome(outcomes[i % 3 / 2 + i % 2]);
        log.record(event).await.unwrap();
    }
    let all = log.page(0, 100).await.unwrap();
    let start = all[0].record.at;
    let filters = [
        AuditFilter::default(),
        AuditFilter {
            actor: Some("cli".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            action: Some("account.".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            action: Some("admin.api_key.created".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            action: Some("admin.api%.".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            outcome: Some("denied".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            actor: Some("user:alice".into()),
            from: Some(start + 600 * 5),
            until: Some(start + 600 * 30),
            ..AuditFilter::default()
        },
    ];
    for filter in filters {
        let expected: Vec<i64> = all
            .iter()
            .rev()
            .filter(|e| filter.matches(e))
            .map(|e| e.seq)
            .collect();
        let mut shown = Vec::new();
        let mut before = None;
        loop {
            let page = log.newest(&filter, before, 4).await.unwrap();
            let Some(last) = page.last() else { break };
            before = Some(last.seq);
            shown.extend(page.iter().map(|e| e.seq));
        }
        assert_eq!(shown, expected, "{filter:?}");
    }
    assert!(
        log.newest(
            &AuditFilter {
                action: Some("account.".into()),
                ..AuditFilter::default()
            },
            None,
            100
        )
        .await
        .unwrap()
        .iter()
        .all(|e| e.record.action.starts_with("account.")),
        "`accountx.y` is not under `account.`"
    );
}

crate::backends!(
    filtered_views_agree_with_the_filter,
    a_journaled_write_commits_with_its_entry_or_not_at_all,
    an_intent_without_its_outcome_is_unresolved,
    entries_form_one_verifiable_chain,
    concurrent_writers_form_one_chain,
    the_database_refuses_edits_and_deletes,
    an_edited_entry_is_named,
    a_deleted_entry_is_named,
    deleting_the_newest_entries_is_caught_by_the_head,
    an_inserted_entry_is_named,
    reordered_entries_are_named,
    purging_old_ip_hashes_keeps_the_chain_verifiable,
    an_unwritable_log_refuses_the_action,
);
