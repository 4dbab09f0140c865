//! The account's second factors over JSON (SPEC §12): enrol an authenticator app, confirm it
//! with a code the test computes as the app would, get recovery codes once.

use kunci_crypto::totp::{TotpSecret, base32_decode, code_at};
use kunci_domain::clock::Clock as _;
use serde_json::json;

use crate::helpers::{Browser, TestApp};

#[tokio::test]
async fn an_account_enrols_an_authenticator_app_and_gets_recovery_codes_once() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let mut alice = Browser::logged_in(&app.url(""), "alice").await;
    let before = alice.api("/api/v1/me/mfa").await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(
        before.json(),
        json!({"totp": false, "passkeys": [], "recovery_codes_left": 0})
    );
    let forged = alice
        .post_json("/api/v1/me/mfa/totp", &json!({}), false)
        .await;
    assert_eq!(forged.status, 403, "cookies need the CSRF token");

    let started = alice
        .post_json("/api/v1/me/mfa/totp", &json!({}), true)
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.headers["cache-control"], "no-store");
    let body = started.json();
    let secret_text = body["secret"].as_str().unwrap();
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(":alice?secret="),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret_text}&")));
    let secret = TotpSecret::from_bytes(&base32_decode(secret_text).unwrap()).unwrap();
    assert!(
        !alice.api("/api/v1/me/mfa").await.json()["totp"]
            .as_bool()
            .unwrap(),
        "pending"
    );

    let wrong = alice
        .post_json(
            "/api/v1/me/mfa/totp/confirm",
            &json!({"code": "000000"}),
            true,
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["error"], "invalid_request");
    let code = code_at(&secret, app.clock.now_unix());
    let confirmed = alice
        .post_json("/api/v1/me/mfa/totp/confirm", &json!({"code": code}), true)
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.headers["cache-control"], "no-store");
    let codes = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 11));
    let after = alice.api("/api/v1/me/mfa").await.json();
    assert_eq!(
        after,
        json!({"totp": true, "passkeys": [], "recovery_codes_left": 10})
    );
    let again = alice
        .post_json("/api/v1/me/mfa/totp", &json!({}), true)
        .await;
    assert_eq!(again.status, 400, "one app at a time: remove it first");

    // An app's bearer token speaks for the account too; a service client has none.
    let token = app.access_token("alice", "phone-app-01").await;
    let by_app = app
        .client
        .get(app.url("/api/v1/me/mfa"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_app.status(), 200);
    let audited = app.audit.page(0, 200).await.unwrap();
    assert!(
        audited
            .iter()
            .any(|e| e.record.action == "account.second_factor_added"
                && e.record.outcome == "allowed"),
        "enrolment is audited"
    );
}
