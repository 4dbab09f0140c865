//! The binary as a user runs it: first run, exit codes, config and db commands.

use crate::helpers::{Kunci, get_blocking, mode, service_url};

const CANARY: &str = "CANARY51d2";

#[test]
fn config_check_names_every_problem_and_exits_3_without_printing_values() {
    let kunci = Kunci::new();
    kunci.write(
        "config/base.toml",
        &format!("[logger]\nverbosity = \"{CANARY}\"\n[data]\nmax_connections = \"{CANARY}\"\n[environment]\nbind = \"{CANARY}\"\n"),
    );
    let outcome = kunci.run(&["config", "check"]);
    assert_eq!(outcome.code(), Some(3), "{}", outcome.all());
    let all = outcome.all();
    assert!(all.contains("3 problems"), "{all}");
    assert!(
        all.contains("config/base.toml: `logger.verbosity`: unknown key"),
        "{all}"
    );
    assert!(
        all.contains("config/base.toml: `data.max_connections`: expected an integer"),
        "{all}"
    );
    assert!(
        all.contains("config/base.toml: `environment.bind`: expected an address and port"),
        "{all}"
    );
    assert!(!all.contains(CANARY), "{all}");
}

#[test]
fn config_check_accepts_a_valid_configuration_and_aliases() {
    let kunci = Kunci::new().var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://example.com");
    let outcome = kunci.run(&["--env", "prod", "config", "check"]);
    outcome.success();
    assert!(
        outcome
            .stdout()
            .contains("the production configuration is valid")
    );
}

#[test]
fn an_unknown_environment_is_a_usage_error() {
    let outcome = Kunci::new().run(&["--env", "prd", "config", "check"]);
    assert_eq!(outcome.code(), Some(2));
    assert!(
        outcome.stderr().contains("production (prod)"),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn config_show_masks_the_database_password() {
    let kunci = Kunci::new().var(
        "KUNCI__DATA__DATABASE_URL",
        &format!("postgres://u:{CANARY}@db/k"),
    );
    let outcome = kunci.run(&["config", "show"]);
    outcome.success();
    assert!(!outcome.all().contains(CANARY));
    assert!(
        outcome.stdout().contains("postgres://u:…@db/k"),
        "{}",
        outcome.stdout()
    );
}

#[test]
fn first_serve_creates_a_private_instance_and_stops_cleanly_on_sigterm() {
    let kunci = Kunci::new();
    let server = kunci.serve(&[]);
    let instance = kunci.path("instance");
    assert_eq!(mode(&instance), 0o700);
    assert_eq!(mode(&instance.join("kunci.db")), 0o600);
    assert!(
        server
            .startup_output
            .iter()
            .any(|l| l.contains("database migration(s)")),
        "{:?}",
        server.startup_output
    );
    let health = get_blocking(&server.url("/healthz"));
    assert_eq!(health.status(), 200);
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn production_refuses_to_serve_with_pending_migrations_until_db_migrate() {
    let key = kunci_crypto::MasterKey::generate().unwrap();
    let kunci = Kunci::new()
        .var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://example.com")
        .var("KUNCI_MASTER_KEY", key.encode().expose());
    let outcome = kunci.run(&["--env", "production", "serve"]);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.all());
    assert!(
        outcome
            .stderr()
            .contains("kunci --env production db migrate"),
        "{}",
        outcome.stderr()
    );
    kunci
        .run(&["--env", "production", "db", "migrate"])
        .success();
    let server = kunci.serve(&["--env", "production"]);
    assert_eq!(get_blocking(&server.url("/readyz")).status(), 200);
}

fn migrate_status_rollback(kunci: &Kunci) {
    let status = kunci.run(&["db", "status"]);
    assert!(
        status.success().stdout().contains("pending"),
        "{}",
        status.stdout()
    );
    let migrate = kunci.run(&["db", "migrate"]);
    assert!(
        migrate.success().stdout().contains("applied migrations 1"),
        "{}",
        migrate.stdout()
    );
    let again = kunci.run(&["db", "migrate"]);
    assert!(again.success().stdout().contains("up to date"));
    let status = kunci.run(&["db", "status"]);
    assert!(status.stdout().contains("applied") && !status.stdout().contains("pending"));
    let rollback = kunci.run(&["db", "rollback", "--steps", "1"]);
    assert!(
        rollback.success().stdout().contains("reverted migrations "),
        "{}",
        rollback.stdout()
    );
    assert!(kunci.run(&["db", "status"]).stdout().contains("pending"));
    let all = kunci.run(&["db", "rollback", "--steps", "1000"]);
    assert!(
        all.success().stdout().trim_end().ends_with(", 1"),
        "{}",
        all.stdout()
    );
    let nothing = kunci.run(&["db", "rollback"]);
    assert!(nothing.success().stdout().contains("nothing to roll back"));
    assert_eq!(
        kunci.run(&["db", "rollback", "--steps", "0"]).code(),
        Some(2)
    );
}

#[test]
fn db_migrate_status_and_rollback_on_sqlite() {
    let kunci = Kunci::new();
    migrate_status_rollback(&kunci);
    assert!(
        kunci
            .run(&["db", "status"])
            .stdout()
            .contains("backend: sqlite")
    );
}

#[tokio::test]
async fn db_migrate_status_and_rollback_on_postgres() {
    migrate_on_a_server(
        kunci_store::testing::TestBackend::Postgres,
        "KUNCI_TEST_DATABASE_URL",
        "postgres",
    )
    .await;
}

#[tokio::test]
async fn db_migrate_status_and_rollback_on_mariadb() {
    migrate_on_a_server(
        kunci_store::testing::TestBackend::MySql,
        "KUNCI_TEST_MYSQL_URL",
        "mysql",
    )
    .await;
}

async fn migrate_on_a_server(
    backend: kunci_store::testing::TestBackend,
    variable: &str,
    name: &'static str,
) {
    let Some(_) = service_url(variable) else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let db = kunci_store::testing::TestDatabase::new(backend, scratch.path())
        .await
        .unwrap();
    let kunci = Kunci::new().var("KUNCI__DATA__DATABASE_URL", &db.url);
    tokio::task::spawn_blocking(move || {
        migrate_status_rollback(&kunci);
        assert!(
            kunci
                .run(&["db", "status"])
                .stdout()
                .contains(&format!("backend: {name}"))
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_kunci_is_named_as_such() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    let db = kunci_store::testing::TestDatabase {
        url: format!("sqlite://{}", kunci.path("instance/kunci.db").display()),
    }
    .connect()
    .await;
    let kunci_store::Database::Sqlite(pool) = &db else {
        unreachable!()
    };
    sqlx_insert_future_migration(pool).await;
    db.close().await;
    let outcome = kunci.run(&["db", "status"]);
    assert_eq!(outcome.code(), Some(1));
    assert!(
        outcome
            .stderr()
            .contains("migration 9999, which this kunci does not know"),
        "{}",
        outcome.stderr()
    );
}

async fn sqlx_insert_future_migration(pool: &sqlx::SqlitePool) {
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'future', TRUE, x'00', 0)",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let outcome = Kunci::new()
        .var("KUNCI__ENVIRONMENT__BIND", &port)
        .run(&["serve"]);
    assert_eq!(outcome.code(), Some(1));
    assert!(
        outcome
            .stderr()
            .contains(&format!("cannot listen on {port} (`environment.bind`)")),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn json_logs_go_to_stderr_and_to_a_private_rolling_file() {
    let kunci = Kunci::new()
        .var("KUNCI__LOGGER__FORMAT", "json")
        .var("KUNCI__LOGGER__FILE__DIR", "logs")
        .var("KUNCI__LOGGER__MODULES__KUNCI_WEB", "debug");
    let server = kunci.serve(&[]);
    get_blocking(&server.url("/healthz?token=CANARYquery"));
    let (code, after) = server.terminate();
    assert_eq!(code, Some(0));
    let json_lines: Vec<serde_json::Value> = after
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !json_lines.is_empty(),
        "no JSON log lines on stderr: {after:?}"
    );
    assert_eq!(mode(&kunci.path("logs")), 0o700);
    let files: Vec<_> = std::fs::read_dir(kunci.path("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("kunci.") && name.ends_with(".log"),
        "{name}"
    );
    let content = std::fs::read_to_string(&files[0]).unwrap();
    assert!(content.contains("shutting down"), "{content}");
    assert!(
        content.contains("\"path\":\"/healthz\""),
        "the request span is logged: {content}"
    );
    assert!(
        !content.contains("CANARYquery"),
        "query strings are never logged"
    );
}

#[test]
fn several_instances_on_an_unshared_session_store_are_refused() {
    for (store, extra) in [
        ("memory", None),
        ("filesystem", None),
        ("sql", None),
        (
            "redis",
            Some(("KUNCI__DATA__REDIS_URL", "redis://127.0.0.1:1/0")),
        ),
    ] {
        let mut kunci = Kunci::new()
            .var("KUNCI__ENVIRONMENT__INSTANCES", "3")
            .var("KUNCI__DATA__SESSION_STORE", store);
        if let Some((name, value)) = extra {
            kunci = kunci.var(name, value);
        }
        if store == "redis" {
            // Shared: accepted. It starts; Redis being down shows on /readyz, not here.
            drop(kunci.serve(&[]));
            continue;
        }
        let outcome = kunci.run(&["serve"]);
        assert_eq!(outcome.code(), Some(1), "{store}: {}", outcome.all());
        assert!(
            outcome.stderr().contains("`environment.instances` is 3"),
            "{store}: {}",
            outcome.stderr()
        );
    }
}

#[test]
fn the_null_session_store_is_refused_in_production() {
    let outcome = Kunci::new()
        .var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://example.com")
        .var("KUNCI__DATA__SESSION_STORE", "null")
        .run(&["--env", "production", "config", "check"]);
    assert_eq!(outcome.code(), Some(3));
    assert!(
        outcome
            .stderr()
            .contains("`null` keeps no sessions and is refused in production"),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn keys_can_be_listed_rotated_and_retired_from_the_command_line() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    let list = kunci.run(&["keys", "list"]);
    let text = list.success().stdout();
    assert_eq!(
        text.lines().filter(|l| l.contains(" active ")).count(),
        2,
        "{text}"
    );
    let rotate = kunci.run(&["keys", "rotate", "--purpose", "cookie"]);
    assert!(
        rotate.success().stdout().contains("cookie: ck_"),
        "{}",
        rotate.stdout()
    );
    let text = kunci.run(&["keys", "list"]).stdout();
    let state_is = |line: &str, state: &str| line.split_whitespace().nth(2) == Some(state);
    let verify: Vec<&str> = text.lines().filter(|l| state_is(l, "verify")).collect();
    assert_eq!(verify.len(), 1, "{text}");
    let kid = verify[0].split_whitespace().next().unwrap().to_owned();
    let active = text
        .lines()
        .find(|l| state_is(l, "active") && l.contains("cookie"))
        .unwrap();
    let active_kid = active.split_whitespace().next().unwrap().to_owned();
    assert_eq!(
        kunci.run(&["keys", "retire", &active_kid]).code(),
        Some(1),
        "an active key cannot be retired"
    );
    assert!(
        kunci
            .run(&["keys", "retire", &kid])
            .success()
            .stdout()
            .contains("retired")
    );
    assert!(kunci.run(&["keys", "list"]).stdout().contains(" retired "));
    let bad = kunci.run(&["keys", "retire", "../../etc/passwd"]);
    assert_eq!(bad.code(), Some(1));
    assert!(bad.stderr().contains("not a key id"), "{}", bad.stderr());
}

#[test]
fn mfa_reset_removes_an_account_s_second_factors_and_is_audited() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    kunci
        .run_with_input(&["user", "add", "alice"], "a long enough passphrase\n")
        .success();
    let none = kunci.run(&["user", "mfa-reset", "alice"]);
    assert!(
        none.success().stdout().contains("had no second factor"),
        "{}",
        none.stdout()
    );
    let nobody = kunci.run(&["user", "mfa-reset", "nobody"]);
    assert_ne!(nobody.code(), Some(0));
    assert!(
        nobody.stderr().contains("no account named `nobody`"),
        "{}",
        nobody.stderr()
    );
    // What an enrolment leaves in the database: a confirmed secret and two recovery codes.
    let db = kunci.path("instance/kunci.db");
    crate::helpers::with_sqlite(&db, async |pool| {
        let (id,): (String,) = sqlx::query_as("SELECT id FROM accounts WHERE username = 'alice'")
            .fetch_one(pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO totp_factors (account_id, sealed, created_at, confirmed_at, last_step) VALUES (?, 'ks1.x', 1, 2, 10)")
            .bind(&id)
            .execute(pool)
            .await
            .unwrap();
        for hash in ["h1", "h2"] {
            sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?, ?)")
                .bind(&id)
                .bind(hash)
                .execute(pool)
                .await
                .unwrap();
        }
    });
    let reset = kunci.run(&["user", "mfa-reset", "ALICE"]);
    assert!(
        reset
            .success()
            .stdout()
            .contains("are removed (its authenticator app and 2 recovery code(s))"),
        "{}",
        reset.stdout()
    );
    let left: (i64, i64) = crate::helpers::with_sqlite(&db, async |pool| {
        let (totp,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM totp_factors")
            .fetch_one(pool)
            .await
            .unwrap();
        let (codes,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM recovery_codes")
            .fetch_one(pool)
            .await
            .unwrap();
        (totp, codes)
    });
    assert_eq!(left, (0, 0));
    let audit = kunci.run(&["audit", "export"]).stdout();
    assert!(
        audit.contains("\"action\":\"account.second_factor_removed\""),
        "{audit}"
    );
}
