//! `kunci backup` on real project folders: a SQLite database goes into an encrypted file and
//! comes back whole in another folder; a flipped byte, a cut file and another master key are
//! refused by `verify` and `restore` alike, and nothing is touched then; an occupied database
//! is only replaced with `--force`, and kept; a `create` killed at any moment leaves no file
//! under the final name. PostgreSQL and MariaDB databases go through a logical dump and come
//! back with every table equal, into either server.

use std::path::Path;

use crate::helpers::{Kunci, mode};
use kunci_store::testing::{TestBackend, TestDatabase};

/// Two projects sharing one master key (as a deployment and its recovery machine do).
fn pair() -> (Kunci, Kunci, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("master.key");
    Kunci::new()
        .run(&["key", "generate", "--out", key_file.to_str().unwrap()])
        .success();
    let with_key = |k: Kunci| k.var("KUNCI_MASTER_KEY_FILE", key_file.to_str().unwrap());
    (with_key(Kunci::new()), with_key(Kunci::new()), keys)
}

/// A project with something in most tables.
fn populated(kunci: &Kunci) {
    kunci.run(&["db", "migrate"]).success();
    kunci
        .run_with_input(
            &["user", "add", "alice", "--scope", "admin"],
            "alice pass 1234\n",
        )
        .success();
    kunci
        .run_with_input(&["user", "add", "bob"], "bob pass 12345\n")
        .success();
    kunci.run(&["client", "add", "billing"]).success();
    kunci.run(&["keys", "list"]).success();
}

fn listing(kunci: &Kunci) -> String {
    ["user", "client"]
        .iter()
        .map(|what| kunci.run(&[what, "list"]).success().stdout())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A backup file: the header line, then nothing of `clear` readable.
fn assert_sealed(file: &Path, clear: &[&[u8]]) {
    let bytes = std::fs::read(file).unwrap();
    assert!(bytes.starts_with(b"kunci-backup v1 "));
    for clear in clear {
        assert!(
            !bytes.windows(clear.len()).any(|w| w == *clear),
            "{} in clear",
            String::from_utf8_lossy(clear)
        );
    }
}

/// Carol's account makes the database occupied: a restore without `--force` is refused and
/// she stays.
fn carol_refuses_a_restore(recovery: &Kunci, file: &Path) {
    recovery
        .run_with_input(&["user", "add", "carol"], "carol pass 1234\n")
        .success();
    let refused = recovery.run(&["backup", "restore", file.to_str().unwrap()]);
    assert_eq!(refused.code(), Some(1));
    assert!(refused.stderr().contains("--force"), "{}", refused.stderr());
    assert!(recovery.run(&["user", "list"]).stdout().contains("carol"));
}

fn backup_of(kunci: &Kunci) -> std::path::PathBuf {
    let out = kunci.path("backup.kbk");
    kunci
        .run(&["backup", "create", "--out", out.to_str().unwrap()])
        .success();
    out
}

#[test]
fn a_backup_restores_whole_in_another_folder() {
    let (origin, recovery, _keys) = pair();
    populated(&origin);
    let file = backup_of(&origin);
    assert_eq!(mode(&file) & 0o777, 0o600);
    assert_sealed(&file, &[b"alice", b"billing", b"SQLite format"]);
    let verified = origin.run(&["backup", "verify", file.to_str().unwrap()]);
    assert!(verified.success().stdout().contains("complete and intact"));

    let restored = recovery.run(&["backup", "restore", file.to_str().unwrap()]);
    assert!(
        restored
            .success()
            .stdout()
            .contains("restored the database")
    );
    assert_eq!(listing(&recovery), listing(&origin));
    recovery.run(&["audit", "verify"]).success();
    assert_eq!(
        mode(&recovery.path("instance/kunci.db")) & 0o777,
        0o600,
        "the restored database is private"
    );
}

#[test]
fn damaged_cut_or_foreign_backups_are_refused_and_touch_nothing() {
    let (origin, recovery, _keys) = pair();
    populated(&origin);
    let file = backup_of(&origin);
    let bytes = std::fs::read(&file).unwrap();
    recovery.run(&["db", "migrate"]).success();
    recovery
        .run_with_input(&["user", "add", "carol"], "carol pass 1234\n")
        .success();
    let before = listing(&recovery);

    let flipped = recovery.path("flipped.kbk");
    let mut changed = bytes.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x20;
    std::fs::write(&flipped, changed).unwrap();
    let cut = recovery.path("cut.kbk");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();

    for (path, expected) in [(&flipped, "damaged"), (&cut, "incomplete")] {
        for command in [
            vec!["backup", "verify", path.to_str().unwrap()],
            vec!["backup", "restore", "--force", path.to_str().unwrap()],
        ] {
            let refused = recovery.run(&command);
            assert_eq!(refused.code(), Some(1), "{command:?}: {}", refused.all());
            assert!(
                refused.stderr().contains(expected),
                "{command:?}: {}",
                refused.stderr()
            );
        }
    }
    // Another deployment's key.
    let stranger = Kunci::new();
    stranger.run(&["db", "migrate"]).success();
    for command in ["verify", "restore"] {
        let refused = stranger.run(&["backup", command, file.to_str().unwrap()]);
        assert_eq!(refused.code(), Some(1));
        assert!(
            refused.stderr().contains("another master key"),
            "{}",
            refused.stderr()
        );
    }
    assert_eq!(listing(&recovery), before, "nothing was touched");
    let leftovers: Vec<_> = std::fs::read_dir(recovery.path("instance"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_occupied_database_is_replaced_only_with_force_and_kept() {
    let (origin, recovery, _keys) = pair();
    populated(&origin);
    let file = backup_of(&origin);
    recovery.run(&["db", "migrate"]).success();
    carol_refuses_a_restore(&recovery, &file);

    let forced = recovery.run(&["backup", "restore", "--force", file.to_str().unwrap()]);
    let out = forced.success().stdout();
    assert!(out.contains("kept as"), "{out}");
    assert_eq!(listing(&recovery), listing(&origin));
    let kept: Vec<_> = std::fs::read_dir(recovery.path("instance"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            n.starts_with("kunci.db.before-restore-")
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept: {kept:?}");
}

/// Makes the database big enough that `create` takes a while.
fn inflate(database: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display()))
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE ballast (b BLOB); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) \
             INSERT INTO ballast SELECT randomblob(100000) FROM n;",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
}

#[test]
fn a_create_killed_at_any_moment_leaves_no_file_under_the_final_name() {
    let (origin, _, _keys) = pair();
    populated(&origin);
    inflate(&origin.path("instance/kunci.db"));
    let mut caught_writing = 0;
    for delay_ms in [10, 20, 40, 80, 130, 200, 300, 400, 550, 700] {
        let out = origin.path(&format!("killed-{delay_ms}.kbk"));
        let mut child = origin.start(&["backup", "create", "--out", out.to_str().unwrap()]);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        if out.exists() {
            // It finished before the kill: then it must be whole.
            origin
                .run(&["backup", "verify", out.to_str().unwrap()])
                .success();
        }
        let partials: Vec<std::path::PathBuf> = std::fs::read_dir(origin.root.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.starts_with(&format!("killed-{delay_ms}.kbk.partial-"))
            })
            .collect();
        for file in &partials {
            let verify = origin.run(&["backup", "verify", file.to_str().unwrap()]);
            assert_ne!(verify.code(), Some(0), "a partial file verified: {file:?}");
        }
        let partial = !partials.is_empty();
        caught_writing += usize::from(partial && !out.exists());
    }
    assert!(
        caught_writing > 0,
        "no kill landed while the file was being written"
    );
    // Nothing of the database in clear is readable by another user, whenever the kill came.
    for entry in std::fs::read_dir(origin.path("instance")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.contains("snapshot") {
            assert!(
                entry.path().is_dir(),
                "{name}: a snapshot outside its private folder"
            );
            assert_eq!(mode(&entry.path()) & 0o077, 0, "{name}");
        }
    }
    // And an uninterrupted one of the same database is complete, and takes the leftovers away.
    let whole = backup_of(&origin);
    let left: Vec<String> = std::fs::read_dir(origin.path("instance"))
        .unwrap()
        .chain(std::fs::read_dir(origin.root.path()).unwrap())
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("snapshot") || n.contains(".partial-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    origin
        .run(&["backup", "verify", whole.to_str().unwrap()])
        .success();
}

/// Records notifications.
#[derive(Debug, Default)]
struct Heard(std::sync::Mutex<Vec<kunci_domain::notify::Notification>>);

impl kunci_domain::notify::Notifier for Heard {
    fn notify(&self, notification: kunci_domain::notify::Notification) {
        self.0.lock().unwrap().push(notification);
    }
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_and_notify_a_failure() {
    let app = crate::helpers::TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let db_path = std::path::PathBuf::from(
        app.database_url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap(),
    );
    let target = kunci_store::DatabaseTarget::Sqlite {
        path: Some(db_path.clone()),
    };
    let database = kunci_store::Database::connect(&target, &kunci_store::ConnectOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let schedule = kunci::backup::Schedule {
        database,
        source: kunci::backup::Source::File(db_path),
        master: app.master.clone(),
        dir: dir.path().join("backups"),
        keep: 2,
    };
    let heard = Heard::default();
    let mut written = Vec::new();
    for hour in 0..4 {
        let now = 1_800_000_000 + hour * 3600;
        written.push(schedule.run(now, &heard).await.unwrap());
    }
    let mut left: Vec<_> = std::fs::read_dir(&schedule.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    assert_eq!(left, written[2..], "the two newest are kept");
    assert!(heard.0.lock().unwrap().is_empty());

    // The folder cannot be made (a file is in the way): the run fails, says so, and the old
    // backups stay.
    let blocked = kunci::backup::Schedule {
        dir: left[0].join("inside"),
        ..schedule.clone()
    };
    assert!(blocked.run(1_800_100_000, &heard).await.is_err());
    let notes = heard.0.lock().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, kunci_domain::notify::EventKind::BackupFailed);
    assert!(notes[0].details.contains_key("error"));
    assert_eq!(std::fs::read_dir(&schedule.dir).unwrap().count(), 2);
}

/// Every table of a server database: name → its rows as JSON lines, sorted.
async fn tables_of(url: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let database = TestDatabase {
        url: url.to_owned(),
    }
    .connect()
    .await;
    let mut dump = Vec::new();
    database.export(0, &mut dump, &mut |_, _| {}).await.unwrap();
    database.close().await;
    let mut tables = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut current = String::new();
    for line in String::from_utf8(dump).unwrap().lines().skip(1) {
        if let Some(name) = line.strip_prefix("{\"table\":\"") {
            current = name.trim_end_matches("\"}").to_owned();
            tables.entry(current.clone()).or_default();
        } else if !line.starts_with("{\"end\"") {
            tables.get_mut(&current).unwrap().push(line.to_owned());
        }
    }
    for rows in tables.values_mut() {
        rows.sort();
    }
    tables
}

/// A project on a fresh database of `backend`, sharing `key_file`; `None` when the server is
/// not configured (outside CI).
async fn on_server(backend: TestBackend, key_file: &Path) -> Option<(Kunci, String)> {
    let scratch = tempfile::tempdir().unwrap();
    let db = TestDatabase::new(backend, scratch.path()).await?;
    let kunci = Kunci::new()
        .var("KUNCI_MASTER_KEY_FILE", key_file.to_str().unwrap())
        .var("KUNCI__DATA__DATABASE_URL", &db.url);
    Some((kunci, db.url))
}

/// A backup of `from` restored into `into`: every table equal, the audit chain intact, an
/// occupied database replaced only with `--force`.
async fn server_round_trip(from: TestBackend, into: TestBackend) {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("master.key");
    Kunci::new()
        .run(&["key", "generate", "--out", key_file.to_str().unwrap()])
        .success();
    let Some((origin, origin_url)) = on_server(from, &key_file).await else {
        return;
    };
    let Some((recovery, recovery_url)) = on_server(into, &key_file).await else {
        return;
    };
    let (origin, file, before) = tokio::task::spawn_blocking(move || {
        populated(&origin);
        let file = backup_of(&origin);
        assert_eq!(mode(&file) & 0o777, 0o600);
        assert_sealed(&file, &[b"alice", b"billing", b"account.created"]);
        let verified = origin.run(&["backup", "verify", file.to_str().unwrap()]);
        assert!(verified.success().stdout().contains("complete and intact"));
        let before = listing(&origin);
        (origin, file, before)
    })
    .await
    .unwrap();
    let origin_tables = tables_of(&origin_url).await;
    assert!(origin_tables["accounts"].len() == 2 && !origin_tables["audit_log"].is_empty());

    let recovery = tokio::task::spawn_blocking(move || {
        // Into an empty database (not even migrated): brought to the backup's schema first.
        let restored = recovery.run(&["backup", "restore", file.to_str().unwrap()]);
        assert!(
            restored
                .success()
                .stdout()
                .contains("restored the database"),
            "{}",
            restored.all()
        );
        assert_eq!(listing(&recovery), before);
        recovery.run(&["audit", "verify"]).success();
        // Now occupied: refused without --force, replaced whole with it.
        carol_refuses_a_restore(&recovery, &file);
        recovery
            .run(&["backup", "restore", "--force", file.to_str().unwrap()])
            .success();
        assert_eq!(listing(&recovery), before, "carol is gone with the rest");
        recovery.run(&["audit", "verify"]).success();
        recovery
    })
    .await
    .unwrap();
    assert_eq!(
        tables_of(&recovery_url).await,
        origin_tables,
        "every table equal"
    );
    drop((origin, recovery));
}

#[tokio::test]
async fn a_postgres_backup_restores_every_table() {
    server_round_trip(TestBackend::Postgres, TestBackend::Postgres).await;
}

#[tokio::test]
async fn a_mariadb_backup_restores_every_table() {
    server_round_trip(TestBackend::MySql, TestBackend::MySql).await;
}

#[tokio::test]
async fn a_postgres_backup_restores_into_mariadb() {
    server_round_trip(TestBackend::Postgres, TestBackend::MySql).await;
}

#[test]
fn the_leftovers_of_a_killed_backup_fail_the_doctor_and_go_at_the_next_start() {
    let (origin, _, _keys) = pair();
    populated(&origin);
    let dead = 999_999_999;
    let snapshot = origin.path(&format!("instance/.kunci-snapshot-{dead}"));
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::write(snapshot.join("snapshot.db"), "the database in clear").unwrap();
    let old = origin.path(&format!("instance/kunci.db.backup-snapshot-{dead}"));
    std::fs::write(&old, "an older kind of leftover").unwrap();
    let report = origin.run(&["doctor"]);
    assert_eq!(report.code(), Some(1), "{}", report.all());
    assert!(
        report.stdout().contains(".kunci-snapshot-"),
        "{}",
        report.stdout()
    );
    assert!(
        report.stdout().contains("backup-snapshot-"),
        "{}",
        report.stdout()
    );
    let server = origin.serve(&[]);
    server.terminate();
    assert!(
        !snapshot.exists() && !old.exists(),
        "serve removed them at start"
    );
    let report = origin.run(&["doctor"]);
    assert!(
        !report.stdout().contains("killed backup"),
        "{}",
        report.stdout()
    );
}
