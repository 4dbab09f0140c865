//! Importing keys from an uploaded file on `/admin/keys`: a report by line that never shows a
//! key, each key audited as if added alone, the upload's CSRF token checked like any form's,
//! and bad uploads refused whole.

use crate::helpers::Browser;
use crate::helpers::fake_google::FakeGoogle;
use crate::pool::{app_with, field, key};

/// A `multipart/form-data` body of text fields and one file, as a browser sends it.
fn upload(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----kunci-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"keys.txt\"\r\n\
             Content-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn send(
    root: &mut Browser,
    fields: &[(&str, &str)],
    file: &[u8],
) -> crate::helpers::browser::Page {
    let (kind, body) = upload(fields, file);
    root.send(
        reqwest::Method::POST,
        "/admin/keys/import",
        "text/html",
        &[],
        Some((&kind, body)),
    )
    .await
}

#[tokio::test]
async fn an_uploaded_file_is_imported_line_by_line() {
    let google = FakeGoogle::start().await;
    let app = app_with(&google, None).await;
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let page = root.open("/admin/keys").await;
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    let token = field(&page.body, "csrf_token");
    let file = format!(
        "# the team's keys\n{}\n\n{}\nnot-a-key\n{}\n",
        key(1),
        key(2),
        key(1)
    );
    let fields = [
        ("csrf_token", token.as_str()),
        ("upstream", "google"),
        ("priority", "3"),
    ];
    let report = send(&mut root, &fields, file.as_bytes()).await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(report.headers["cache-control"], "no-store");
    assert!(
        report.body.contains("2 keys were added to google"),
        "{}",
        report.body
    );
    assert!(
        report
            .body
            .contains("One line holds a key that is in the pool already")
    );
    assert!(
        report
            .body
            .contains("One line is not a key of this upstream")
    );
    for line in ["<td>2</td>", "<td>4</td>", "<td>5</td>", "<td>6</td>"] {
        assert!(report.body.contains(line), "line {line} reported");
    }
    assert!(!report.body.contains(&key(1)) && !report.body.contains("not-a-key"));
    let keys = app.pool.list(None).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.priority == 3));
    let audited = app.audit.page(0, 500).await.unwrap();
    let created = audited
        .iter()
        .filter(|e| {
            e.record.action == "admin.api_key.created"
                && e.record.actor.starts_with("user:root")
                && e.record.outcome == "allowed"
        })
        .count();
    assert_eq!(created, 2, "each key audited as if added alone");

    // The token is checked in an upload as in any form.
    let forged = send(&mut root, &[("upstream", "google")], file.as_bytes()).await;
    assert_eq!(forged.status, 403);
    let wrong = send(
        &mut root,
        &[("csrf_token", "v1.ck_x.forged"), ("upstream", "google")],
        b"x",
    )
    .await;
    assert_eq!(wrong.status, 403);
}

#[tokio::test]
async fn a_bad_upload_is_refused_whole() {
    let google = FakeGoogle::start().await;
    let app = app_with(&google, None).await;
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let token = field(&root.open("/admin/keys").await.body, "csrf_token");
    let good = key(7);
    for (fields, file, says) in [
        (
            vec![("upstream", "nowhere")],
            good.as_bytes().to_vec(),
            "Choose one of the upstreams",
        ),
        (
            vec![("upstream", "google"), ("priority", "high")],
            good.as_bytes().to_vec(),
            "whole number",
        ),
        (
            vec![("upstream", "google")],
            vec![0xff, 0xfe, 0x00, 0x41],
            "Choose a text file",
        ),
        (
            vec![("upstream", "google")],
            b"# only a comment\n\n".to_vec(),
            "holds no key",
        ),
        (
            vec![("upstream", "google")],
            "x\n".repeat(10_001).into_bytes(),
            "more than 10,000 lines",
        ),
    ] {
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend(fields);
        let refused = send(&mut root, &all, &file).await;
        assert_eq!(refused.status, 400, "{says}: {}", refused.body);
        assert!(refused.body.contains(says), "{says}: {}", refused.body);
    }
    assert!(
        app.pool.list(None).await.unwrap().is_empty(),
        "nothing added"
    );
    // Over the body limit: refused before anything is read.
    let huge = vec![b'a'; 2 * 1024 * 1024];
    let too_big = send(
        &mut root,
        &[("csrf_token", &token), ("upstream", "google")],
        &huge,
    )
    .await;
    assert_eq!(too_big.status, 413);
}
