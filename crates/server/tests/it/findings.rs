//! What a new user ran into, held as behaviour: the `env` commands need only the master key,
//! the doctor reports an invalid configuration and goes on, the first start says how to create
//! the first administrator, what the CLI says of Redis, locks and names, and every audited admin
//! action names its kid and IP. The HTTP contract they met is in `contract.rs`.

use kunci_crypto::MasterKey;
use serde_json::json;

use crate::helpers::{Browser, Kunci, TestApp};

fn project_with_only_base() -> (Kunci, MasterKey) {
    let key = MasterKey::generate().unwrap();
    let kunci = Kunci::new().var("KUNCI_MASTER_KEY", key.encode().expose());
    kunci.write("config/base.toml", "[logger]\nlevel = \"info\"\n");
    (kunci, key)
}

#[test]
fn env_commands_need_only_the_master_key() {
    let (kunci, _) = project_with_only_base();
    kunci.write(
        ".env.staging",
        "KUNCI__ENVIRONMENT__PUBLIC_URL=https://staging.example.com\n",
    );
    // Staging's configuration is not written yet (its public URL is the http default).
    kunci.run(&["env", "encrypt", "staging"]).success();
    std::fs::remove_file(kunci.path(".env.staging")).unwrap();
    let decrypted = kunci.run(&["env", "decrypt", "staging"]);
    decrypted.success();
    assert!(decrypted.stdout().contains("staging.example.com"));
    let rekeyed = kunci.run(&[
        "env",
        "rekey",
        "production",
        "--out",
        kunci.path("new.key").to_str().unwrap(),
    ]);
    assert!(
        !rekeyed.all().contains("requires an https://"),
        "rekey judges no deployment configuration: {}",
        rekeyed.all()
    );
    let diff = kunci.run(&[
        "env",
        "diff",
        kunci.path(".env.staging.enc").to_str().unwrap(),
    ]);
    diff.success();
    assert!(diff.stdout().contains("KUNCI__ENVIRONMENT__PUBLIC_URL"));

    // `serve` and `config check` still judge everything: here, staging is fine thanks to the
    // encrypted value; production names the built-in default and where to set it.
    kunci
        .run(&["--env", "staging", "config", "check"])
        .success();
    let check = kunci.run(&["--env", "production", "config", "check"]);
    assert_eq!(check.code(), Some(3), "{}", check.all());
    let text = check.all();
    assert!(
        text.contains("built-in default: `environment.public_url`")
            && text.contains("config/production.toml")
            && text.contains("KUNCI__ENVIRONMENT__PUBLIC_URL"),
        "{text}"
    );
}

#[test]
fn a_broken_key_command_still_stops_the_env_commands() {
    let kunci = Kunci::new();
    kunci.write(
        "config/staging.toml",
        "[security]\nmaster_key_command_timeout_secs = \"soon\"\n",
    );
    kunci.write(".env.staging", "KUNCI__LOGGER__LEVEL=warn\n");
    let outcome = kunci.run(&["env", "encrypt", "staging"]);
    assert_eq!(outcome.code(), Some(3), "{}", outcome.all());
    assert!(
        outcome
            .all()
            .contains("`security.master_key_command_timeout_secs`"),
        "{}",
        outcome.all()
    );
}

#[test]
fn the_doctor_reports_an_invalid_configuration_first_and_goes_on() {
    let (kunci, _) = project_with_only_base();
    kunci.write(".env.production", "KUNCI__LOGGER__LEVEL=warn\n");
    let outcome = kunci.run(&["--env", "production", "doctor"]);
    assert_eq!(
        outcome.code(),
        Some(1),
        "a failed check, not a config exit: {}",
        outcome.all()
    );
    let report = outcome.stdout();
    let first = report
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(
        first.contains("FAIL") && first.contains("`environment.public_url`"),
        "the configuration comes first: {report}"
    );
    assert!(
        report.contains(".env.production"),
        "the checks that need no configuration still ran: {report}"
    );
}

#[test]
fn the_first_start_says_how_to_create_the_first_admin() {
    let kunci = Kunci::new();
    let server = kunci.serve(&[]);
    let said = server.startup_output.join("\n");
    server.terminate();
    assert!(said.contains("kunci user add NAME --scope admin"), "{said}");
    kunci
        .run_with_input(
            &["user", "add", "root", "--scope", "admin"],
            "root password 1\n",
        )
        .success();
    let server = kunci.serve(&[]);
    let said = server.startup_output.join("\n");
    server.terminate();
    assert!(!said.contains("no administrator yet"), "{said}");
}

#[test]
fn in_development_the_public_url_follows_a_changed_bind() {
    use std::io::BufRead as _;
    let kunci = Kunci::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kunci"))
        .arg("--root")
        .arg(kunci.root.path())
        .arg("serve")
        .env_remove("KUNCI_ENV")
        .env_remove("KUNCI_MASTER_KEY")
        .env("KUNCI__ENVIRONMENT__BIND", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut said = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let done = line.contains("is serving on");
        said.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let said = said.join("\n");
    assert!(
        said.contains(&format!("open http://127.0.0.1:{port}")),
        "the address it listens on, not the default's: {said}"
    );
    assert!(said.contains("follows `environment.bind`"), "{said}");
}

#[test]
fn an_unreachable_redis_is_said_at_start_without_its_password() {
    let kunci = Kunci::new().var("KUNCI__DATA__REDIS_URL", "redis://:CANARYpw@127.0.0.1:1/0");
    let server = kunci.serve(&[]);
    let said = server.startup_output.join("\n");
    server.terminate();
    assert!(said.contains("Redis is unreachable"), "{said}");
    assert!(said.contains("rate limits fall back"), "{said}");
    assert!(!said.contains("CANARYpw"), "{said}");
}

#[test]
fn user_list_shows_a_locked_name_with_when_it_unlocks() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    kunci
        .run_with_input(&["user", "add", "alice"], "alice passphrase\n")
        .success();
    let server = kunci.serve(&[]);
    kunci::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    for _ in 0..5 {
        client
            .post(server.url("/api/v1/auth/login_web"))
            .json(&json!({"username": "alice", "password": "wrong"}))
            .header("x-forwarded-for", "198.51.100.7")
            .send()
            .unwrap();
    }
    server.terminate();
    let list = kunci.run(&["user", "list"]).success().stdout();
    let line = list.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(line.contains("locked until 20"), "{list}");
    let unlocked = kunci.run(&["user", "unlock", "alice"]).success().stdout();
    assert!(unlocked.contains("is unlocked"), "{unlocked}");
    let list = kunci.run(&["user", "list"]).success().stdout();
    assert!(!list.contains("locked until"), "{list}");
}

#[test]
fn env_encrypt_warns_about_names_kunci_would_refuse() {
    let (kunci, _) = project_with_only_base();
    kunci.write(
        ".env.staging",
        "KUNCI__LOGGER__LEVEL=warn\nSTRIPE_KEY=sk_live_CANARYvalue\nKUNCI__SECURTY__LOCKOUT_HOURS=2\n",
    );
    let outcome = kunci.run(&["env", "encrypt", "staging"]);
    outcome.success();
    let said = outcome.stderr();
    assert!(
        said.contains("warning: STRIPE_KEY is not a configuration key"),
        "{said}"
    );
    assert!(
        said.contains("KUNCI__SECURTY__LOCKOUT_HOURS is not a configuration key"),
        "{said}"
    );
    assert!(!said.contains("KUNCI__LOGGER__LEVEL is not"), "{said}");
    assert!(!said.contains("CANARY"), "never a value: {said}");
}

#[test]
fn restore_and_rollback_refuse_while_the_server_runs() {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    let backup = kunci.path("db.kbk");
    kunci
        .run(&["backup", "create", "--out", backup.to_str().unwrap()])
        .success();
    let server = kunci.serve(&[]);
    let restore = kunci.run(&["backup", "restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(restore.code(), Some(1), "{}", restore.all());
    assert!(
        restore
            .stderr()
            .contains("`kunci serve` runs on this project"),
        "{}",
        restore.all()
    );
    let rollback = kunci.run(&["db", "rollback"]);
    assert_eq!(rollback.code(), Some(1), "{}", rollback.all());
    assert!(
        rollback.stderr().contains("--i-know-the-server-is-running"),
        "{}",
        rollback.all()
    );
    server.terminate();
    // Stopped: both go ahead.
    kunci
        .run(&["backup", "restore", backup.to_str().unwrap(), "--force"])
        .success();
    kunci.run(&["db", "rollback"]).success();
}

#[tokio::test]
async fn every_audited_admin_action_names_its_kid_and_ip_whoever_acts() {
    use kunci_domain::clock::Clock as _;
    let app = TestApp::builder().google_upstream().spawn().await.unwrap();
    app.add_accounts(&[("root", true), ("alice", false)]).await;
    let key = |n: u32| format!("AIzaSyTest{n:029}");
    // Cookie: create a key.
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let created = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": key(1), "upstream": "google"}),
            true,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    // Bearer: disable it.
    let bearer = format!("Bearer {}", app.access_token("root", "audit-0001").await);
    let patched = app
        .client
        .patch(app.url(&format!("/api/v1/admin/api-keys/{id}")))
        .header("authorization", &bearer)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    // Signature: delete it, and end alice's sessions.
    let secret = app
        .clients
        .add(
            &kunci_domain::audit::Actor::cli(),
            "deploy",
            kunci_domain::session::Scope::Admin,
        )
        .await
        .unwrap();
    for (method, path) in [
        ("DELETE", format!("/api/v1/admin/api-keys/{id}")),
        (
            "POST",
            "/api/v1/admin/accounts/alice/sessions/revoke_all".to_owned(),
        ),
    ] {
        let timestamp = app.clock.now_unix().to_string();
        let nonce = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            uuid::Uuid::new_v4().as_bytes(),
        );
        let canonical =
            kunci_crypto::signed_request::canonical(method, &path, &timestamp, &nonce, b"");
        let signature = kunci_crypto::signed_request::sign(secret.expose().as_bytes(), &canonical);
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .header("x-kunci-client", "deploy")
            .header("x-kunci-timestamp", timestamp)
            .header("x-kunci-nonce", nonce)
            .header("x-kunci-signature", signature)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
    }
    let entries = app.audit.page(0, 1000).await.unwrap();
    let admin: Vec<_> = entries
        .iter()
        .filter(|e| e.record.action.starts_with("admin."))
        .collect();
    let actions: Vec<&str> = admin.iter().map(|e| e.record.action.as_str()).collect();
    for expected in [
        "admin.api_key.created",
        "admin.api_key.updated",
        "admin.api_key.deleted",
        "admin.sessions.revoked",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    for entry in admin {
        assert!(
            entry.record.kid.is_some(),
            "{} has no kid",
            entry.record.action
        );
        assert!(
            entry.ip_hash().is_some(),
            "{} has no IP hash",
            entry.record.action
        );
    }
}
