//! The signed-request clients in `examples/signed-request/` against the running application:
//! the shell one (openssl + curl) and the Rust one, each written without kunci's code.

use std::path::PathBuf;
use std::process::Command;

use kunci_domain::clock::Clock as _;

use crate::helpers::TestApp;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/signed-request")
}

/// Runs `command` off the async runtime and returns its exit status and standard output.
async fn output(mut command: Command) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || command.output().expect("run the example"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || !stdout.is_empty(), "{stderr}");
    (out.status.success(), stdout)
}

#[tokio::test]
async fn the_shell_client_signs_requests_kunci_accepts() {
    let app = TestApp::spawn().await;
    let secret = app
        .clients
        .add(
            &kunci_domain::audit::Actor::cli(),
            "billing",
            kunci_domain::session::Scope::User,
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, "{\"amount\": 42, \"note\": \"100% sure\"}").unwrap();
    let mut command = Command::new("bash");
    command
        .arg(examples().join("sign.sh"))
        .arg("POST")
        .arg(app.url("/api/v1/service/ping?account=7&x=%41"))
        .arg(&body)
        .env("KUNCI_CLIENT", "billing")
        .env("KUNCI_SECRET", secret.expose())
        .env("KUNCI_TIMESTAMP", app.clock.now_unix().to_string());
    let (ok, stdout) = output(command).await;
    assert!(ok, "{stdout}");
    let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["client"], "billing", "{stdout}");
    assert_eq!(answer["bytes"], 35);

    // The routes a service calls: who it is, and a search through the key pool.
    let shell = |method: &str, path: &str| {
        let mut command = Command::new("bash");
        command
            .arg(examples().join("sign.sh"))
            .arg(method)
            .arg(app.url(path))
            .env("KUNCI_CLIENT", "billing")
            .env("KUNCI_SECRET", secret.expose())
            .env("KUNCI_TIMESTAMP", app.clock.now_unix().to_string());
        command
    };
    let (ok, stdout) = output(shell("GET", "/api/v1/me")).await;
    assert!(ok, "{stdout}");
    let me: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        me,
        serde_json::json!({"sub": "client:billing", "username": "billing", "scopes": ["basic", "user"], "auth": "signature"})
    );
    let (_, stdout) = output(shell("GET", "/api/v1/search?q=kunci")).await;
    let search: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let refused = search["error"].as_str().unwrap_or_default();
    assert!(
        !["unauthenticated", "bad_signature", "insufficient_scope"].contains(&refused),
        "a signed search gets past authentication to the pool: {stdout}"
    );
}

#[tokio::test]
async fn the_rust_client_signs_requests_kunci_accepts() {
    // Built by `cargo test` (examples are part of the test build), next to the test binary.
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples/signed_request");
    if !binary.exists() {
        assert!(
            !kunci_store::testing::in_ci(),
            "the example was not built: run `cargo test --workspace`"
        );
        kunci_store::testing::skip(
            "the signed_request example is not built (cargo test --workspace builds it)",
        );
        return;
    }
    let app = TestApp::spawn().await;
    let secret = app
        .clients
        .add(
            &kunci_domain::audit::Actor::cli(),
            "reports",
            kunci_domain::session::Scope::User,
        )
        .await
        .unwrap();
    let mut command = Command::new(binary);
    command
        .args(["GET", "/api/v1/me"])
        .env("KUNCI_URL", app.url(""))
        .env("KUNCI_CLIENT", "reports")
        .env("KUNCI_SECRET", secret.expose())
        .env("KUNCI_TIMESTAMP", app.clock.now_unix().to_string());
    let (ok, stdout) = output(command).await;
    assert!(ok, "{stdout}");
    assert!(stdout.starts_with("200 "), "{stdout}");
    assert!(stdout.contains("\"sub\":\"client:reports\""), "{stdout}");
}
