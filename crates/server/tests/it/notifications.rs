//! Notifications delivered for real: a signed webhook to an HTTP endpoint, e-mail to an SMTP
//! server, retries, a slow receiver that must not slow kunci down, one message per episode.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hmac::{KeyInit as _, Mac as _};
use kunci_crypto::SecretString;
use kunci_crypto::keyring::KeyPurpose;
use kunci_domain::clock::ManualClock;
use kunci_domain::notify::{EpisodeStore, Episodes, EventKind, Notification};
use kunci_store::testing::{TestBackend, TestDatabase};
use kunci_upstream::notify::{DispatchSettings, Dispatcher, EventFilter, WebhookSettings};
use serde_json::Value;
use time::macros::datetime;

use crate::helpers::TestApp;
use crate::helpers::sinks::{Delivery, GATE, SmtpSink, WebhookSink};

const SECRET: &str = "webhook-secret-for-tests-0123";

/// Checks `X-Kunci-Signature` the way a receiver would, from the documented format alone.
fn verify_signature(delivery: &Delivery, secret: &str) {
    let header = delivery.headers["x-kunci-signature"].to_str().unwrap();
    let fields: std::collections::HashMap<&str, &str> = header
        .split(',')
        .map(|f| f.split_once('=').unwrap())
        .collect();
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(fields["t"].as_bytes());
    mac.update(b".");
    mac.update(&delivery.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(fields["v1"], expected, "signature of {header}");
    assert_eq!(fields["kid"].len(), 8, "the secret's key id");
}

async fn app_with_webhook(sink: &WebhookSink, retries: &str) -> TestApp {
    TestApp::builder()
        .var("KUNCI__NOTIFICATION__WEBHOOK_URL", &sink.url)
        .var("KUNCI__NOTIFICATION__WEBHOOK_SECRET", SECRET)
        .var("KUNCI__NOTIFICATION__WEBHOOK_RETRIES", retries)
        .spawn()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rotation_reaches_the_webhook_signed() {
    let mut sink = WebhookSink::start().await;
    let app = app_with_webhook(&sink, "0").await;
    let kid = app.keys.rotate(KeyPurpose::Cookie).await.unwrap();
    let delivery = sink.next().await;
    verify_signature(&delivery, SECRET);
    assert_eq!(delivery.headers["x-kunci-event"], "signing_key_rotated");
    assert_eq!(delivery.headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(body["kind"], "signing_key_rotated");
    assert_eq!(body["subject"], kid.as_str());
    assert_eq!(body["details"]["purpose"], "cookie");
    assert_eq!(
        body["at"], "2026-11-23T09:00:00Z",
        "the application's clock"
    );
    assert!(!String::from_utf8_lossy(&delivery.body).contains(SECRET));
    let audited = app.audit.page(0, 10).await.unwrap();
    let last = audited.last().unwrap();
    assert_eq!(
        (last.record.action.as_str(), last.record.actor.as_str()),
        ("signing_key.rotated", "system")
    );
    assert!(
        last.record.target.ends_with(kid.as_str()),
        "{}",
        last.record.target
    );
}

#[tokio::test]
async fn a_slow_webhook_never_delays_the_action_that_triggered_it() {
    let mut sink = WebhookSink::start().await;
    let held = sink.gate.clone().acquire_many_owned(GATE).await.unwrap();
    let app = app_with_webhook(&sink, "0").await;
    // The receiver holds every delivery; if sending were inline, this would never return.
    let rotated =
        tokio::time::timeout(Duration::from_secs(3), app.keys.rotate(KeyPurpose::Jwt)).await;
    assert!(rotated.is_ok(), "the rotation waited for the webhook");
    let delivery = sink.next().await;
    assert_eq!(delivery.headers["x-kunci-event"], "signing_key_rotated");
    let answer = tokio::time::timeout(Duration::from_secs(3), app.get("/healthz")).await;
    assert_eq!(
        answer.unwrap().status(),
        200,
        "requests are served meanwhile"
    );
    drop(held);
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_the_same_id() {
    let mut sink = WebhookSink::start().await;
    sink.status.store(503, Ordering::SeqCst);
    let app = app_with_webhook(&sink, "1").await;
    app.keys.rotate(KeyPurpose::Cookie).await.unwrap();
    let first = sink.next().await;
    let second = sink.next().await;
    let id = |d: &Delivery| serde_json::from_slice::<Value>(&d.body).unwrap()["id"].clone();
    assert_eq!(id(&first), id(&second), "receivers can drop duplicates");
    assert!(
        sink.nothing_more(Duration::from_millis(2500)).await,
        "one retry only"
    );
}

#[tokio::test]
async fn mail_reaches_the_smtp_server() {
    let mut smtp = SmtpSink::start().await;
    let app = TestApp::builder()
        .var(
            "KUNCI__NOTIFICATION__SMTP_URL",
            &format!("smtp://127.0.0.1:{}", smtp.port),
        )
        .var("KUNCI__NOTIFICATION__SMTP_FROM", "kunci@example.test")
        .var(
            "KUNCI__NOTIFICATION__SMTP_TO",
            "ops@example.test, security@example.test",
        )
        .var("KUNCI__NOTIFICATION__SMTP_EVENTS", "signing_key_rotated")
        .spawn()
        .await
        .unwrap();
    let kid = app.keys.rotate(KeyPurpose::Jwt).await.unwrap();
    let mail = smtp.next().await;
    assert_eq!(mail.from, "<kunci@example.test>");
    assert_eq!(mail.to, ["<ops@example.test>", "<security@example.test>"]);
    assert!(
        mail.data
            .contains("Subject: [kunci] a signing key was rotated"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains(kid.as_str()), "{}", mail.data);
}

#[tokio::test]
async fn an_episode_notifies_once_when_it_starts_and_once_when_it_ends() {
    kunci::install_crypto_provider();
    let mut sink = WebhookSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::new(TestBackend::Sqlite, dir.path())
        .await
        .unwrap()
        .connect()
        .await;
    database.migrate().await.unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let dispatcher = Arc::new(
        Dispatcher::start(
            DispatchSettings {
                log: EventFilter::all(),
                webhook: Some(WebhookSettings {
                    url: SecretString::new(sink.url.clone()),
                    secret: SecretString::new(SECRET.to_owned()),
                    events: EventFilter::all(),
                    timeout: Duration::from_secs(5),
                    retries: 0,
                }),
                smtp: None,
                backoff: Duration::from_millis(10),
            },
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let store: Arc<dyn EpisodeStore> = Arc::new(database.clone());
    // Two instances sharing the database.
    let one = Episodes::new(store.clone(), dispatcher.clone(), Arc::new(clock.clone()));
    let two = Episodes::new(store, dispatcher.clone(), Arc::new(clock.clone()));
    let exhausted = || Notification::new(EventKind::ApiKeysExhausted, 0, "google_cse");
    let recovered = || Notification::new(EventKind::ApiKeysRecovered, 0, "google_cse");

    two.end("pool:google_cse", recovered()).await;
    for _ in 0..3 {
        one.begin("pool:google_cse", exhausted()).await;
        two.begin("pool:google_cse", exhausted()).await;
    }
    one.end("pool:google_cse", recovered()).await;
    two.end("pool:google_cse", recovered()).await;
    dispatcher.finish(Duration::from_secs(5)).await;

    let kinds: Vec<String> = std::iter::from_fn(|| sink.deliveries.try_recv().ok())
        .map(|d| d.headers["x-kunci-event"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["api_keys_exhausted", "api_keys_recovered"]);
}

#[tokio::test]
async fn a_webhook_without_a_secret_is_refused_at_start() {
    let input = kunci::config::LoadInput {
        root: tempfile::tempdir().unwrap().path().to_path_buf(),
        environment: kunci_domain::environment::Environment::Test,
        variables: vec![(
            "KUNCI__NOTIFICATION__WEBHOOK_URL".to_owned(),
            "https://hooks.example.test/T0K3N".to_owned(),
        )],
        encrypted: None,
    };
    let err = kunci::config::load(&input).unwrap_err().to_string();
    assert!(err.contains("webhook_secret"), "{err}");
    assert!(!err.contains("T0K3N"), "{err}");
}

#[tokio::test]
async fn mail_speaks_the_deployment_s_language() {
    let mut smtp = SmtpSink::start().await;
    let app = TestApp::builder()
        .var(
            "KUNCI__NOTIFICATION__SMTP_URL",
            &format!("smtp://127.0.0.1:{}", smtp.port),
        )
        .var("KUNCI__NOTIFICATION__SMTP_FROM", "kunci@example.test")
        .var("KUNCI__NOTIFICATION__SMTP_TO", "ops@example.test")
        .var("KUNCI__NOTIFICATION__SMTP_EVENTS", "signing_key_rotated")
        .var("KUNCI__ENVIRONMENT__DEFAULT_LANGUAGE", "id")
        .spawn()
        .await
        .unwrap();
    let kid = app.keys.rotate(KeyPurpose::Jwt).await.unwrap();
    let mail = smtp.next().await;
    assert!(
        mail.data
            .contains("Subject: [kunci] sebuah kunci penanda tangan dirotasi"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("Peristiwa: signing_key_rotated"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("pukul"),
        "the time as the pages show it: {}",
        mail.data
    );
    assert!(
        mail.data.contains(&format!("Tentang: {kid}")),
        "{}",
        mail.data
    );
}
