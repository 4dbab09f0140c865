//! `kunci doctor` on real project folders: a production deployment with a loose key file, a
//! plaintext env file, no HSTS where it answers and a signing key past its rotation is told each
//! of them with the fix, and exits 1; a fresh development project passes.

use crate::helpers::{Kunci, mode};

/// Runs SQL on the project's SQLite database.
fn sql(path: &std::path::Path, statement: &str) {
    crate::helpers::with_sqlite(path, async |pool| {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(pool)
            .await
            .unwrap();
    });
}

#[test]
fn doctor_names_each_weakness_of_a_production_deployment() {
    // Somewhere that answers without HSTS: a development instance.
    let elsewhere = Kunci::new();
    let plain_http = elsewhere.serve(&[]);

    let project = Kunci::new();
    let key_file = project.path("master.key");
    project
        .run(&["key", "generate", "--out", key_file.to_str().unwrap()])
        .success();
    let kunci = project
        .var("KUNCI_MASTER_KEY_FILE", key_file.to_str().unwrap())
        .var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://kunci.test");
    kunci
        .run(&["--env", "production", "db", "migrate"])
        .success();
    kunci
        .run(&["--env", "production", "keys", "list"])
        .success();
    kunci
        .run_with_input(
            &[
                "--env",
                "production",
                "user",
                "add",
                "root",
                "--scope",
                "admin",
            ],
            "a long enough passphrase\n",
        )
        .success();
    // The active keys were made 90 days ago, and nothing rotated them since.
    sql(
        &kunci.path("instance/kunci.db"),
        "UPDATE signing_keys SET created_at = created_at - 7776000, \
         activated_at = activated_at - 7776000 WHERE state = 'active'",
    );
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    assert_eq!(mode(&key_file) & 0o777, 0o644);
    kunci.write(".env.production", "PAYMENT_TOKEN=CANARY-doctor\n");

    let report = kunci.run(&[
        "--env",
        "production",
        "doctor",
        "--url",
        &plain_http.url(""),
    ]);
    let out = report.stdout();
    assert_eq!(report.code(), Some(1), "{}", report.all());
    for expected in [
        "FAIL  master key file",
        "(mode 0644)",
        &format!("fix: chmod 600 {}", key_file.display()),
        "FAIL  plaintext secrets file .env.production on a production machine",
        "fix: kunci env encrypt production",
        "FAIL  no Strict-Transport-Security header",
        "is not HTTPS",
        "FAIL  the active cookie key",
        "is 90 days old; rotation is every 30",
        "fix: kunci keys rotate",
        "WARN  administrator(s) without a second factor: root",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(
        !report.all().contains("CANARY"),
        "doctor never prints secrets"
    );
    assert!(
        report.stderr().contains("check(s) failed"),
        "{}",
        report.stderr()
    );
}

#[test]
fn a_fresh_development_project_passes() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    let server = kunci.serve(&[]);
    let report = kunci.run(&["doctor", "--url", &server.url("")]);
    let out = report.stdout();
    assert_eq!(report.code(), Some(0), "{}", report.all());
    assert!(out.contains("PASS  no plaintext .env files"), "{out}");
    assert!(
        out.contains("PASS  every administrator has a second factor"),
        "{out}"
    );
    assert!(
        out.contains("PASS  the active cookie key is 0 days old"),
        "{out}"
    );
    assert!(
        out.contains("PASS  the active jwt key is 0 days old"),
        "{out}"
    );
    assert!(
        out.contains("WARN  no Strict-Transport-Security header (expected in development)"),
        "{out}"
    );
    assert!(out.contains(" 0 failed"), "{out}");
}

#[test]
fn doctor_checks_that_backups_are_scheduled_recent_and_under_this_key() {
    use kunci::doctor::{Level, backups};
    use kunci_domain::environment::Environment;
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    let dir = kunci.path("instance/backups");
    let off = backups(&dir, 0, Environment::Production, None, 0);
    assert_eq!(off.len(), 1);
    assert_eq!(off[0].level, Level::Warn);
    assert!(off[0].what.contains("no scheduled backups"), "{off:?}");
    assert!(backups(&dir, 0, Environment::Development, None, 0).is_empty());
    let none = backups(&dir, 24, Environment::Production, None, 0);
    assert_eq!(none[0].level, Level::Warn, "{none:?}");

    kunci.run(&["backup", "create"]).success();
    let made = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(made, 1);
    // The key the backup names in its header is this project's.
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let header = std::fs::read(&file).unwrap();
    let header =
        String::from_utf8_lossy(&header[..header.iter().position(|b| *b == b'\n').unwrap()])
            .into_owned();
    let fingerprint = header
        .split(' ')
        .find_map(|f| f.strip_prefix("key="))
        .unwrap()
        .to_owned();
    let fingerprint = fingerprint.as_str();
    let now = kunci_domain::clock::Clock::now_unix(&kunci_domain::clock::SystemClock);
    let fresh = backups(&dir, 24, Environment::Production, Some(fingerprint), now);
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_eq!(fresh[0].level, Level::Pass, "{fresh:?}");
    let late = backups(
        &dir,
        24,
        Environment::Production,
        Some(fingerprint),
        now + 49 * 3600,
    );
    assert_eq!(late[0].level, Level::Fail, "{late:?}");
    assert!(late[0].what.contains("49 hours old"), "{late:?}");
    let foreign = backups(
        &dir,
        24,
        Environment::Production,
        Some("0000000000000000"),
        now,
    );
    assert!(
        foreign
            .iter()
            .any(|f| f.level == Level::Fail && f.what.contains("another master key")),
        "{foreign:?}"
    );
}
