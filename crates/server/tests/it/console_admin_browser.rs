//! The administrators' pages in a real Chromium: rotate a signing key and retire the old one,
//! add a service client (from the keyboard alone) and revoke it, filter the audit log and
//! follow its export link; screenshots of each page go to `docs/console/`.

use kunci_crypto::keyring::{KeyPurpose, KeyState};

use crate::console_browser::{shots, sign_in};
use crate::helpers::TestApp;
use crate::helpers::webdriver::WebDriver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_rotates_keys_manages_clients_and_reads_the_audit_log() {
    let Some(browser) = WebDriver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.add_accounts(&[("root", true), ("alice", false)]).await;
    browser.resize(1280, 900).await;
    sign_in(&browser, &app, "alice", "wrong").await;
    sign_in(&browser, &app, "root", "root pass").await;
    let dir = shots();

    // Signing keys: rotate the session key, then retire the previous one after confirming.
    let old = app
        .keys
        .ring()
        .active(KeyPurpose::Cookie)
        .unwrap()
        .kid
        .clone();
    browser.goto(&app.url("/admin/signing-keys")).await;
    browser
        .click_to_load("form[action='/admin/signing-keys/rotate'] button")
        .await;
    browser.wait_for_url("notice=rotated_cookie").await;
    assert!(browser.text(".notice").await.contains("rotated"));
    browser
        .screenshot(&dir.join("flow-signing-rotated-en.png"))
        .await;
    browser
        .click_to_load(&format!("a[href='/admin/signing-keys/{old}/retire']"))
        .await;
    assert!(
        browser
            .text(".confirm")
            .await
            .contains("Signed-in browsers keep their sessions")
    );
    browser
        .screenshot(&dir.join("flow-signing-retire-en.png"))
        .await;
    browser.click("input[name=confirm]").await;
    browser.click_to_load(".confirm button[type=submit]").await;
    browser.wait_for_url("notice=retired").await;
    app.keys.reload().await.unwrap();
    let state = app.keys.keys().iter().find(|k| k.kid == old).unwrap().state;
    assert_eq!(state, KeyState::Retired);
    // Still signed in: the retired key's token was replaced silently.
    assert_eq!(browser.text("h1").await, "Signing keys");

    // Service clients: add one from the keyboard alone; its secret is on the answer only.
    browser.goto(&app.url("/admin/clients")).await;
    browser
        .script("document.querySelector('input[name=name]').focus(); return true;")
        .await;
    browser
        .keys_to_load("deploy\u{E004} \u{E004}\u{E007}")
        .await;
    let secret = browser.text("#secret").await;
    assert!(secret.starts_with("kcs_"), "{secret}");
    browser
        .screenshot(&dir.join("flow-client-added-en.png"))
        .await;
    browser.goto(&app.url("/admin/clients")).await;
    assert!(!browser.source().await.contains(&secret), "shown once");
    browser
        .click_to_load("a[href='/admin/clients/deploy/revoke']")
        .await;
    browser.click("input[name=confirm]").await;
    browser.click_to_load(".confirm button[type=submit]").await;
    browser.wait_for_url("notice=revoked").await;
    assert!(browser.text("tbody").await.contains("revoked"));
    let stored = app.clients.list().await.unwrap();
    assert!(stored[0].revoked_at.is_some() && stored[0].scopes.len() == 2);

    // The audit log: what root just did, filtered by outcome, and the export of that view.
    browser.goto(&app.url("/admin/audit")).await;
    for action in [
        "service_client.revoked",
        "signing_key.retired",
        "signing_key.rotated",
    ] {
        assert!(browser.text("tbody").await.contains(action), "{action}");
    }
    browser.screenshot(&dir.join("flow-audit-en.png")).await;
    browser
        .script("document.querySelector('select[name=outcome]').value = 'denied'; return true;")
        .await;
    browser
        .click_to_load("form.filters button[type=submit]")
        .await;
    assert!(browser.current_url().await.contains("outcome=denied"));
    let rows = browser.count("tbody tr").await;
    assert_eq!(rows, 1, "alice's refused sign-in only");
    assert!(browser.text("tbody").await.contains("account.login"));
    let export = browser
        .attribute("a[href^='/admin/audit/export.csv']", "href")
        .await
        .unwrap();
    assert_eq!(export, "/admin/audit/export.csv?outcome=denied");
    browser
        .click_to_load("form[action='/admin/audit/verify'] button")
        .await;
    assert!(
        browser
            .text(".notice")
            .await
            .contains("The chain is intact")
    );

    // The overview, in both languages.
    browser.goto(&app.url("/lang/en?next=/admin")).await;
    browser.screenshot(&dir.join("flow-overview-en.png")).await;
    browser.color_scheme(true).await;
    browser.goto(&app.url("/lang/id?next=/admin")).await;
    assert_eq!(browser.text("h1").await, "Ringkasan");
    browser
        .screenshot(&dir.join("flow-overview-id-dark.png"))
        .await;
    browser.color_scheme(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_imports_keys_from_a_file() {
    let Some(browser) = WebDriver::start().await else {
        return;
    };
    let google = crate::helpers::fake_google::FakeGoogle::start().await;
    let app = crate::pool::app_with(&google, None).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("keys.txt");
    let keys = [crate::pool::key(1), crate::pool::key(2)];
    std::fs::write(&file, format!("{}\nnot a key\n{}\n", keys[0], keys[1])).unwrap();
    browser.resize(1280, 900).await;
    sign_in(&browser, &app, "root", "root pass").await;
    browser.goto(&app.url("/admin/keys")).await;
    browser.choose_file("input[name=file]", &file).await;
    browser
        .click_to_load("form[action='/admin/keys/import'] button[type=submit]")
        .await;
    assert_eq!(browser.text("h1").await, "Import keys from a file");
    assert!(
        browser
            .text("[role=status]")
            .await
            .contains("2 keys were added to google")
    );
    assert_eq!(browser.count("tbody tr").await, 3);
    let page = browser.source().await;
    assert!(
        !page.contains(&keys[0]) && !page.contains(&keys[1]),
        "no key shown"
    );
    browser
        .screenshot(&shots().join("flow-import-en.png"))
        .await;
    assert_eq!(app.pool.list(None).await.unwrap().len(), 2);
}
