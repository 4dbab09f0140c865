//! The canary scan: pool keys go in through the command line and the admin API, are used,
//! rejected, tested and listed by a real `kunci serve` logging at debug level, and afterwards
//! the distinctive part of each key appears nowhere kunci wrote: not in a response, not in its
//! output or log, not in the audit export, not in any file under the project folder (the
//! SQLite database and its journal included).

use serde_json::json;

use crate::helpers::fake_google::{Behaviour, FakeGoogle};
use crate::helpers::{Browser, Kunci};

/// What a key is recognised by once its public `AIzaSy` prefix is dropped.
fn tail(key: &str) -> &str {
    &key[6..]
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_keys_appear_nowhere_in_clear() {
    let google = FakeGoogle::start().await;
    let key = |tag: &str| format!("AIzaSyCANARY{tag}{}", "7".repeat(39 - 12 - tag.len()));
    let (cli_key, api_key, bad_key) = (key("cli"), key("api"), key("bad"));
    google.behave(&cli_key, Behaviour::Ok);
    google.behave(&api_key, Behaviour::PerMinute);
    google.behave(&bad_key, Behaviour::Invalid);
    let kunci = Kunci::new()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__BASE_URL", &google.url)
        .var("KUNCI__UPSTREAM__GOOGLE__CX", &google.cx)
        .var("KUNCI__LOGGER__LEVEL", "debug");
    let mut printed = String::new();
    printed += &kunci.run(&["db", "migrate"]).success().all();
    printed += &kunci
        .run_with_input(
            &["user", "add", "root", "--scope", "admin"],
            "root password 1\n",
        )
        .success()
        .all();
    printed += &kunci
        .run_with_input(&["apikey", "add", "google"], &format!("{cli_key}\n"))
        .success()
        .all();
    let import = kunci.path("keys.txt");
    std::fs::write(
        &import,
        format!("# one bad key\n{bad_key}\nnot-a-key-{bad_key}\n"),
    )
    .unwrap();
    printed += &kunci
        .run(&[
            "apikey",
            "import",
            "google",
            import.to_str().unwrap(),
            "--priority",
            "9",
        ])
        .all();
    std::fs::remove_file(&import).unwrap();

    let server = kunci.serve(&[]);
    let mut responses = String::new();
    let mut root = Browser::new(&server.url(""));
    let login = root
        .post_json(
            "/api/v1/auth/login_web",
            &json!({"username": "root", "password": "root password 1"}),
            false,
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let created = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": api_key, "upstream": "google", "priority": 5}),
            true,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    responses += &created.body;
    let duplicate = root
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"key": api_key, "upstream": "google"}),
            true,
        )
        .await;
    assert_eq!(duplicate.status, 409);
    responses += &duplicate.body;
    // The bad key is tried first and set aside, the throttled one next, the CLI key serves.
    let searched = root.api("/api/v1/search?q=canary").await;
    assert_eq!(searched.status, 200, "{}", searched.body);
    responses += &searched.body;
    let listed = root.api("/api/v1/admin/api-keys").await;
    responses += &listed.body;
    let listing = listed.json();
    let statuses: Vec<&str> = listing["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"invalid") && statuses.contains(&"cooling"),
        "{statuses:?}"
    );
    for key in listed.json()["keys"].as_array().unwrap() {
        let tested = root
            .post_json(
                &format!(
                    "/api/v1/admin/api-keys/{}/test",
                    key["id"].as_str().unwrap()
                ),
                &json!({}),
                true,
            )
            .await;
        responses += &tested.body;
    }
    let page = root.open("/admin/keys").await;
    assert_eq!(page.status, 200);
    responses += &page.body;
    let (_, after) = server.terminate();

    printed += &kunci.run(&["apikey", "list"]).success().all();
    let audit = kunci.run(&["audit", "export"]).success().stdout();
    let mut files = Vec::new();
    files_under(kunci.root.path(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "db")),
        "the database is among the files scanned: {files:?}"
    );
    let log = after.join("\n");
    assert!(
        log.contains("upstream answered"),
        "debug logging ran: {log}"
    );
    for key in [&cli_key, &api_key, &bad_key] {
        let canary = tail(key);
        assert!(!responses.contains(canary), "a response holds {canary}");
        assert!(!printed.contains(canary), "the CLI printed {canary}");
        assert!(!log.contains(canary), "the log holds {canary}");
        assert!(!audit.contains(canary), "the audit log holds {canary}");
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{} holds {canary} in clear",
                file.display()
            );
        }
    }
    assert!(google.calls(&cli_key) >= 2, "the keys really were used");
}
