//! CORS, HSTS and the CSP report collector, as a browser meets them.

use kunci_domain::environment::Environment;
use serde_json::json;

use crate::helpers::TestApp;

async fn with_cors() -> TestApp {
    TestApp::builder()
        .var(
            "KUNCI__ENVIRONMENT__CORS_ORIGINS",
            "https://app.example.test",
        )
        .spawn()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_allowed_origin_gets_credentials_and_others_get_nothing() {
    let app = with_cors().await;
    let allowed = app
        .client
        .get(app.url("/api/v1/session"))
        .header("origin", "https://app.example.test")
        .send()
        .await
        .unwrap();
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.test");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h.get_all("vary").iter().any(|v| v == "origin"));

    let other = app
        .client
        .get(app.url("/api/v1/session"))
        .header("origin", "https://evil.test")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert!(
        other
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let app = with_cors().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/logout"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "x-csrf-token")
            .send()
    };
    let ok = preflight("https://app.example.test").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.test"
    );
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-csrf-token")
    );
    let refused = preflight("https://evil.test").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // The allowed origin may also send credentialed changes (with the CSRF token).
    let cross = app
        .client
        .post(app.url("/api/v1/auth/login_web"))
        .header("origin", "https://app.example.test")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"username": "x", "password": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 401, "not refused as cross-site");
}

#[tokio::test]
async fn a_wildcard_origin_is_refused_by_the_configuration() {
    let input = kunci::config::LoadInput {
        root: tempfile::tempdir().unwrap().path().to_path_buf(),
        environment: Environment::Test,
        variables: vec![(
            "KUNCI__ENVIRONMENT__CORS_ORIGINS".to_owned(),
            "*".to_owned(),
        )],
        encrypted: None,
    };
    let err = kunci::config::load(&input).unwrap_err().to_string();
    assert!(err.contains("environment.cors_origins"), "{err}");
}

#[tokio::test]
async fn hsts_is_sent_when_the_site_is_https() {
    let app = TestApp::builder()
        .environment(Environment::Staging)
        .spawn()
        .await
        .unwrap();
    let response = app.get("/healthz").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert!(response.headers().get("server").is_none());
}

#[tokio::test]
async fn csp_reports_are_taken_bounded_and_rate_limited() {
    let app = TestApp::spawn().await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/csp-report"))
            .header("content-type", content_type)
            .header("sec-fetch-site", "cross-site")
            .body(body)
            .send()
    };
    let report = json!({"csp-report": {
        "document-uri": "http://127.0.0.1/", "violated-directive": "script-src",
        "blocked-uri": "https://evil.test/x.js"}});
    let ok = send(report.to_string().into_bytes(), "application/csp-report")
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    let modern = json!([{"type": "csp-violation", "body": {"effectiveDirective": "img-src",
        "blockedURL": "data:", "documentURL": "http://127.0.0.1/"}}]);
    assert_eq!(
        send(modern.to_string().into_bytes(), "application/reports+json")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        send(b"not json".to_vec(), "application/csp-report")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        send(vec![b' '; 9 * 1024], "application/csp-report")
            .await
            .unwrap()
            .status(),
        413
    );
    let mut last = 0;
    for _ in 0..30 {
        last = send(report.to_string().into_bytes(), "application/csp-report")
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429, "a flood of reports is cut off");
}

/// A page with one script carrying the response's nonce and one injected without it.
async fn probe_page(
    axum::Extension(nonce): axum::Extension<kunci_web::CspNonce>,
) -> axum::response::Html<String> {
    axum::response::Html(format!(
        "<!doctype html><html><head><script src=\"/static/kunci.js\" nonce=\"{n}\"></script></head>\
         <body><script nonce=\"{n}\">document.documentElement.setAttribute('data-nonced', 'yes')</script>\
         <script>document.documentElement.setAttribute('data-injected', 'yes')</script>\
         <p>probe</p></body></html>",
        n = nonce.0
    ))
}

#[tokio::test]
async fn in_a_real_browser_the_nonced_scripts_run_and_injected_ones_do_not() {
    let app = TestApp::builder()
        .routes(axum::Router::new().route("/csp-probe", axum::routing::get(probe_page)))
        .spawn()
        .await
        .unwrap();
    // A new browser: the bootstrap redirect, then the page.
    let Some(dom) = crate::helpers::chromium::dump_dom(&app.url("/csp-probe")).await else {
        return;
    };
    assert!(dom.contains("probe"), "{dom}");
    assert!(dom.contains("data-kunci=\"ready\""), "kunci.js ran: {dom}");
    assert!(
        dom.contains("data-nonced=\"yes\""),
        "the nonced inline script ran: {dom}"
    );
    let html_tag = dom
        .split('>')
        .find(|t| t.contains("<html"))
        .unwrap_or_default();
    assert!(
        !html_tag.contains("data-injected"),
        "the injected script was blocked: {dom}"
    );

    let Some(home) = crate::helpers::chromium::dump_dom(&app.url("/")).await else {
        return;
    };
    assert!(
        home.contains("data-kunci=\"ready\""),
        "the home page's own script runs: {home}"
    );
}
