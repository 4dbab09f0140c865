//! `GET /metrics`: Prometheus text that a strict reader accepts, counters that move when logins
//! happen, and access only for loopback clients or the configured token.

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::{Browser, TestApp};

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Reads the exposition format strictly: every line is a comment (`# HELP`/`# TYPE`), blank, or
/// `name{label="value",…} number`. Panics on anything else.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "bad comment: {line}"
            );
            if let Some(kind) = comment.strip_prefix("TYPE ") {
                let kind = kind.split_whitespace().nth(1).unwrap_or_default();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "bad type: {line}"
                );
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).expect(line);
        let name = &line[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad name: {line}"
        );
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut key = String::new();
            let mut value = String::new();
            let mut in_value = false;
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match (in_value, c) {
                    (false, '}') => {
                        end = Some(i);
                        break;
                    }
                    (false, '=') => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        in_value = true;
                    }
                    (false, ',') => {}
                    (false, c) => key.push(c),
                    (true, '\\') => value.push(chars.next().expect(line).1),
                    (true, '"') => {
                        labels.insert(std::mem::take(&mut key), std::mem::take(&mut value));
                        in_value = false;
                    }
                    (true, c) => value.push(c),
                }
            }
            let end = end.unwrap_or_else(|| panic!("unclosed labels: {line}"));
            rest = &body[end + 1..];
        }
        let value = rest.trim().split(' ').next().unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let answer = app.get("/metrics").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&answer.text().await.unwrap())
}

#[tokio::test]
async fn metrics_parse_and_move_when_logins_happen() {
    let app = TestApp::builder()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__CX", "cx-metrics")
        .spawn()
        .await
        .unwrap();
    app.add_accounts(&[("alice", false)]).await;
    let before = scrape(&app).await;
    // Other tests in this process count into the same recorder: compare, never equate.
    let ok = |s: &[Sample]| {
        value(
            s,
            "kunci_logins_total",
            &[("flow", "web"), ("outcome", "ok")],
        )
    };
    let bad = |s: &[Sample]| {
        value(
            s,
            "kunci_logins_total",
            &[("flow", "web"), ("outcome", "invalid")],
        )
    };
    for _ in 0..2 {
        let mut alice = Browser::logged_in(&app.url(""), "alice").await;
        // Her token cookie is verified on the next call: a verification by kid.
        assert_eq!(alice.api("/api/v1/me").await.status, 200);
    }
    let mut wrong = Browser::new(&app.url(""));
    let refused = wrong
        .post_json(
            "/api/v1/auth/login_web",
            &json!({"username": "alice", "password": "not it"}),
            false,
        )
        .await;
    assert_eq!(refused.status, 401);
    let after = scrape(&app).await;
    assert!(
        ok(&after) >= ok(&before) + 2.0,
        "{} → {}",
        ok(&before),
        ok(&after)
    );
    assert!(bad(&after) >= bad(&before) + 1.0);
    let route = [("route", "/api/v1/auth/login_web"), ("method", "POST")];
    assert!(value(&after, "kunci_http_requests_total", &route) >= 3.0);
    assert!(
        after.iter().any(
            |(n, l, _)| n == "kunci_http_request_duration_seconds_bucket"
                && l.get("route").map(String::as_str) == Some("/api/v1/auth/login_web")
                && l.contains_key("le")
        ),
        "latency histogram by route"
    );
    assert!(
        after.iter().all(|(_, l, _)| l
            .get("route")
            .is_none_or(|r| r == "unmatched" || r.starts_with('/'))),
        "routes are templates"
    );
    assert!(
        after.iter().any(|(n, l, _)| n == "kunci_api_keys"
            && l.get("upstream").map(String::as_str) == Some("google")),
        "pool gauges for each configured upstream"
    );
    assert!(
        after
            .iter()
            .any(|(n, _, _)| n == "kunci_key_verifications_total")
    );
}

#[tokio::test]
async fn metrics_are_for_loopback_or_the_token_only() {
    let app = TestApp::spawn().await;
    let proxied = app
        .client
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(
        proxied.status(),
        404,
        "a request through a proxy is not local"
    );

    let token = "metrics-token-0123456789";
    let guarded = TestApp::builder()
        .var("KUNCI__METRICS__TOKEN", token)
        .spawn()
        .await
        .unwrap();
    let bare = guarded.get("/metrics").await;
    assert_eq!(
        bare.status(),
        404,
        "with a token, loopback alone is not enough"
    );
    for wrong in ["Bearer nope", &format!("Bearer {token}x"), token] {
        let answer = guarded
            .client
            .get(guarded.url("/metrics"))
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{wrong}");
    }
    let right = guarded
        .client
        .get(guarded.url("/metrics"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(!right.text().await.unwrap().contains(token));
}
