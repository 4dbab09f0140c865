//! Every route of the route table, asked in every way a caller authenticates (none, cookie,
//! bearer, signature): no answer is a 5xx, and every refusal is in the contract — problem+json
//! for the API, the HTML error page for pages — never a framework's own text.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::signed_request;
use kunci_domain::clock::Clock as _;

use crate::helpers::{Browser, TestApp};

/// `(path, methods)` of every `.route(…)` in the web crate's route table.
fn routes() -> Vec<(String, Vec<&'static str>)> {
    let table = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/src/router.rs"));
    let mut found = Vec::new();
    for (at, _) in table.match_indices(".route(") {
        let call = &table[at + ".route(".len()..];
        let mut depth = 1;
        let end = call
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(call.len(), |(i, _)| i);
        let call = &call[..end];
        let Some(path) = call.split('"').nth(1) else {
            continue;
        };
        let methods: Vec<&'static str> = ["get", "post", "patch", "delete", "any"]
            .into_iter()
            .filter(|m| call.contains(&format!("{m}(")))
            .collect();
        found.push((path.to_owned(), methods));
    }
    found
}

/// A concrete path for a route template.
fn concrete(template: &str) -> String {
    template
        .replace("/static/{name}", "/static/kunci.js")
        .replace("{name}", "alice")
        .replace("{id}", "x")
        .replace("{upstream}", "google")
        .replace("{*path}", "v1/models")
}

/// One way of authenticating a request.
enum Way {
    Nobody,
    Cookie(String, String),
    Bearer(String),
    Signature(String),
}

impl Way {
    fn label(&self) -> &'static str {
        match self {
            Self::Nobody => "none",
            Self::Cookie(..) => "cookie",
            Self::Bearer(_) => "bearer",
            Self::Signature(_) => "signature",
        }
    }
}

fn sign(
    app: &TestApp,
    secret: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<(String, String)> {
    let timestamp = app.clock.now_unix().to_string();
    let nonce = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    let canonical = signed_request::canonical(method, path, &timestamp, &nonce, body);
    vec![
        ("x-kunci-client".to_owned(), "sweeper".to_owned()),
        ("x-kunci-timestamp".to_owned(), timestamp),
        ("x-kunci-nonce".to_owned(), nonce),
        (
            "x-kunci-signature".to_owned(),
            signed_request::sign(secret.as_bytes(), &canonical),
        ),
    ]
}

#[tokio::test]
async fn no_route_answers_outside_the_contract_whoever_asks() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("root", true), ("alice", false)]).await;
    let browser = Browser::logged_in(&app.url(""), "root").await;
    let cookie = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let csrf = browser.cookies["kunci_csrf"].clone();
    let token = app.access_token("root", "sweep-0001").await;
    let secret = app
        .clients
        .add(
            &kunci_domain::audit::Actor::cli(),
            "sweeper",
            kunci_domain::session::Scope::Admin,
        )
        .await
        .unwrap()
        .expose()
        .to_owned();
    let ways = [
        Way::Nobody,
        Way::Cookie(cookie, csrf),
        Way::Bearer(token),
        Way::Signature(secret),
    ];
    let table = routes();
    assert!(table.len() >= 35, "the route reader lost routes: {table:?}");
    let mut asked = 0;
    for (template, methods) in &table {
        // Logging out is asked last, so the other answers come from a live session.
        if template.contains("logout") {
            continue;
        }
        asked += sweep(&app, template, methods, &ways).await;
    }
    for (template, methods) in table.iter().filter(|(t, _)| t.contains("logout")) {
        asked += sweep(&app, template, methods, &ways).await;
    }
    assert!(asked > 150, "only {asked} requests made");
}

/// Asks `template` with every method and way; the number of requests made.
async fn sweep(app: &TestApp, template: &str, methods: &[&str], ways: &[Way]) -> usize {
    let path = concrete(template);
    let methods: Vec<&str> = methods
        .iter()
        .flat_map(|m| match *m {
            "any" => vec!["GET", "POST", "DELETE"],
            "get" => vec!["GET"],
            "post" => vec!["POST"],
            "patch" => vec!["PATCH"],
            _ => vec!["DELETE"],
        })
        .collect();
    let mut asked = 0;
    for method in methods {
        for accept in ["application/json", "text/html"] {
            for way in ways {
                let body: &[u8] = if method == "GET" { b"" } else { b"{}" };
                let mut request = app
                    .client
                    .request(method.parse().unwrap(), app.url(&path))
                    .header("accept", accept);
                if method != "GET" {
                    request = request
                        .header("content-type", "application/json")
                        .body(body.to_vec());
                }
                match way {
                    Way::Nobody => {}
                    Way::Cookie(cookie, csrf) => {
                        request = request
                            .header("cookie", cookie)
                            .header("x-csrf-token", csrf);
                    }
                    Way::Bearer(token) => {
                        request = request.header("authorization", format!("Bearer {token}"));
                    }
                    Way::Signature(secret) => {
                        for (name, value) in sign(app, secret, method, &path, body) {
                            request = request.header(name, value);
                        }
                    }
                }
                let response = request.send().await.unwrap();
                asked += 1;
                let status = response.status().as_u16();
                let kind = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let text = response.text().await.unwrap_or_default();
                let what = format!("{method} {path} ({}, {accept})", way.label());
                assert!(status < 500, "{what}: {status} {text}");
                if status >= 400 {
                    assert!(
                        kind == "application/problem+json" || kind.starts_with("text/html"),
                        "{what}: {status} answered `{kind}`: {text}"
                    );
                }
            }
        }
    }
    asked
}
