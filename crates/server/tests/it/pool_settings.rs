//! The settings page's API-key section: an administrator adds, tests, disables and deletes
//! keys through its forms (CSRF-checked, keys shown masked), others are refused; and the same
//! page driven in a real Chromium.

use kunci_domain::apikeys::KeyStatus;

use crate::helpers::TestApp;
use crate::helpers::fake_google::{Behaviour, FakeGoogle};
use crate::pool::{app_with, field, key, status_of, user};

#[tokio::test]
async fn the_settings_page_manages_keys_for_admins_only() {
    let google = FakeGoogle::start().await;
    let app = app_with(&google, None).await;
    let mut alice = user(&app, "alice").await;
    let denied = alice.open("/admin/keys").await;
    assert_eq!(
        (denied.status, denied.location()),
        (303, Some("/forbidden"))
    );

    let mut root = user(&app, "root").await;
    let page = root.open("/admin/keys").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<option value=\"google\">"),
        "{}",
        page.body
    );
    assert!(page.body.contains("type=\"password\""));
    let token = field(&page.body, "csrf_token");

    let secret = key(77);
    let no_token = root
        .post_form("/admin/keys", &[("key", &secret), ("upstream", "google")])
        .await;
    assert_eq!(no_token.status, 403);
    let added = root
        .post_form(
            "/admin/keys",
            &[
                ("csrf_token", &token),
                ("key", &secret),
                ("upstream", "google"),
                ("priority", "2"),
                ("quota_group", "<script>alert(1)</script>"),
                ("daily_budget", "50"),
            ],
        )
        .await;
    assert_eq!(
        (added.status, added.location()),
        (303, Some("/admin/keys?notice=added"))
    );
    let page = root.open("/admin/keys?notice=added").await;
    assert!(page.body.contains("The key was added."));
    assert!(
        page.body.contains(&format!("AIza…{}", &secret[35..])),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&secret[4..]), "the key is never shown");
    assert!(!page.body.contains("<script>alert(1)</script>"), "escaped");
    assert!(page.body.contains("(0&#x2f;50 today)"));

    let again = root
        .post_form(
            "/admin/keys",
            &[
                ("csrf_token", &token),
                ("key", &secret),
                ("upstream", "google"),
            ],
        )
        .await;
    assert_eq!(again.location(), Some("/admin/keys?notice=duplicate"));
    let bad = root
        .post_form(
            "/admin/keys",
            &[
                ("csrf_token", &token),
                ("key", "nope"),
                ("upstream", "google"),
            ],
        )
        .await;
    assert_eq!(
        bad.location(),
        Some("/admin/keys?notice=bad_format&upstream=google")
    );
    let refused = root.open(bad.location().unwrap()).await;
    assert!(
        refused.body.contains("class=\"error\"")
            && refused
                .body
                .contains("“AIza” followed by 35 letters, digits, - or _ (39 characters in all)"),
        "a refusal looks like one and says what a key looks like: {}",
        refused.body
    );
    let added = root.open("/admin/keys?notice=added").await;
    assert!(added.body.contains("class=\"notice\""));
    let nowhere = root
        .open("/admin/keys?notice=bad_format&upstream=%3Cb%3E")
        .await;
    assert!(!nowhere.body.contains("A key of this upstream is"));
    let page = root.open("/admin/keys?notice=%3Cb%3E").await;
    assert!(!page.body.contains("<b>"), "unknown notices show nothing");

    let id = app.pool.store().list(None).await.unwrap()[0].id.clone();
    let disabled = root
        .post_form(
            &format!("/admin/keys/{id}/status"),
            &[("csrf_token", &token), ("status", "disabled")],
        )
        .await;
    assert_eq!(disabled.location(), Some("/admin/keys?notice=updated"));
    assert_eq!(status_of(&app, &id).await, KeyStatus::Disabled);
    // Deleting needs the confirmation ticked.
    let unconfirmed = root
        .post_form(
            &format!("/admin/keys/{id}/delete"),
            &[("csrf_token", &token)],
        )
        .await;
    let expected = format!("/admin/keys/{id}?notice=confirm_delete");
    assert_eq!(unconfirmed.location(), Some(expected.as_str()));
    assert_eq!(app.pool.store().list(None).await.unwrap().len(), 1);
    let deleted = root
        .post_form(
            &format!("/admin/keys/{id}/delete"),
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.location(), Some("/admin/keys?notice=deleted"));
    assert!(app.pool.store().list(None).await.unwrap().is_empty());
}

/// Signs in through the login page as a person does.
async fn sign_in(browser: &crate::helpers::webdriver::WebDriver, app: &TestApp, name: &str) {
    browser.clear_cookies().await;
    browser.goto(&app.url("/login")).await;
    browser.type_into("input[name=username]", name).await;
    browser
        .type_into("input[name=password]", &format!("{name} pass"))
        .await;
    browser
        .click_to_load("form[action='/login'] button[type=submit]")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_page_works_in_a_real_browser() {
    let Some(browser) = crate::helpers::webdriver::WebDriver::start().await else {
        return;
    };
    let google = FakeGoogle::start().await;
    let secret = key(7);
    google.behave(&secret, Behaviour::Ok);
    let app = app_with(&google, None).await;

    sign_in(&browser, &app, "alice").await;
    browser.goto(&app.url("/admin/keys")).await;
    assert_eq!(
        browser.text("h1").await,
        "Forbidden",
        "not for a user without admin"
    );

    sign_in(&browser, &app, "root").await;
    browser.goto(&app.url("/admin/keys")).await;
    assert_eq!(browser.text("h1").await, "API keys");
    assert_eq!(
        browser
            .attribute("input[name=key]", "type")
            .await
            .as_deref(),
        Some("password")
    );
    browser.type_into("input[name=key]", &secret).await;
    browser.type_into("input[name=priority]", "3").await;
    browser
        .click_to_load("form[action='/admin/keys'] button[type=submit]")
        .await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with("/admin/keys?notice=added"),
        "{}: {}",
        browser.current_url().await,
        browser.source().await
    );
    assert_eq!(browser.text(".notice").await, "The key was added.");
    let page = browser.source().await;
    assert!(
        page.contains(&format!("AIza…{}", &secret[35..])),
        "masked key listed"
    );
    assert!(!page.contains(&secret[4..]), "the key is never on the page");
    assert_eq!(browser.count(".status-active").await, 1);

    browser
        .click_to_load("form[action$='/status'] button")
        .await;
    assert_eq!(browser.text(".notice").await, "The key was updated.");
    assert_eq!(browser.count(".status-disabled").await, 1);

    browser.click_to_load("form[action$='/test'] button").await;
    assert_eq!(
        browser.text(".notice").await,
        "Test: the upstream answered; the key works."
    );
    assert_eq!(google.calls(&secret), 1, "the test made one real call");
    assert_eq!(
        browser.count(".status-disabled").await,
        1,
        "a good test does not enable a disabled key"
    );
    browser
        .click_to_load("form[action$='/status'] button")
        .await;
    assert_eq!(browser.count(".status-active").await, 1);

    // On the key's page, a form whose CSRF token was tampered with is refused, and nothing
    // changes.
    browser.click_to_load("a.button-link").await;
    browser
        .script(
            "document.querySelectorAll('input[name=csrf_token]')\
             .forEach(function (i) { i.value = 'forged'; }); return true;",
        )
        .await;
    browser.click("input[name=confirm]").await;
    browser
        .click_to_load("form[action$='/delete'] button")
        .await;
    assert_eq!(app.pool.store().list(None).await.unwrap().len(), 1);
    browser.goto(&app.url("/admin/keys")).await;
    browser.click_to_load("a.button-link").await;
    assert!(browser.text("h1").await.starts_with("Key AIza"));
    browser.click("input[name=confirm]").await;
    browser
        .click_to_load("form[action$='/delete'] button")
        .await;
    assert_eq!(browser.text(".notice").await, "The key was deleted.");
    assert!(browser.source().await.contains("The pool is empty."));
    assert!(app.pool.store().list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn without_an_upstream_the_page_names_the_key_that_configures_one() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("root", true)]).await;
    let mut root = crate::helpers::Browser::logged_in(&app.url(""), "root").await;
    let page = root.open("/admin/keys").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("[upstream.&lt;name&gt;]"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("[upstreams]"), "{}", page.body);
}

#[tokio::test]
async fn a_key_page_changes_priority_group_and_budget() {
    let google = FakeGoogle::start().await;
    let app = app_with(&google, None).await;
    let mut root = user(&app, "root").await;
    let token = field(&root.open("/admin/keys").await.body, "csrf_token");
    let added = root
        .post_form(
            "/admin/keys",
            &[
                ("csrf_token", &token),
                ("key", &key(78)),
                ("upstream", "google"),
                ("daily_budget", "50"),
            ],
        )
        .await;
    assert_eq!(added.location(), Some("/admin/keys?notice=added"));
    let id = app.pool.store().list(None).await.unwrap()[0].id.clone();
    let mut alice = user(&app, "alice").await;
    let denied = alice.open(&format!("/admin/keys/{id}")).await;
    assert_eq!(denied.location(), Some("/forbidden"));
    assert_eq!(root.open("/admin/keys/key_00").await.status, 404);
    // The key's own page changes its settings; an empty group or budget removes it.
    let key_page = root.open(&format!("/admin/keys/{id}")).await;
    assert_eq!(key_page.status, 200);
    assert!(
        key_page.body.contains("value=\"50\""),
        "the budget is shown to change"
    );
    let edited = root
        .post_form(
            &format!("/admin/keys/{id}"),
            &[
                ("csrf_token", &token),
                ("priority", "7"),
                ("quota_group", "project_number:9"),
                ("daily_budget", ""),
            ],
        )
        .await;
    assert_eq!(edited.location(), Some("/admin/keys?notice=updated"));
    let stored = app.pool.store().get(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.priority,
            stored.quota_group.as_deref(),
            stored.daily_budget
        ),
        (7, Some("project_number:9"), None)
    );
    let bad = root
        .post_form(
            &format!("/admin/keys/{id}"),
            &[
                ("csrf_token", &token),
                ("priority", "high"),
                ("daily_budget", "0"),
            ],
        )
        .await;
    let expected = format!("/admin/keys/{id}?notice=bad_input");
    assert_eq!(bad.location(), Some(expected.as_str()));
    assert_eq!(
        app.pool.store().get(&id).await.unwrap().unwrap().priority,
        7
    );
}
