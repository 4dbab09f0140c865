//! `/admin/accounts`: an administrator finds, adds, disables and enables accounts and lifts a
//! lockout, each audited as the CLI's change; others are refused, forms need their CSRF token.

use serde_json::json;

use crate::helpers::{Browser, TestApp};
use crate::pool::field;

async fn web_login(app: &TestApp, name: &str, password: &str) -> u16 {
    app.client
        .post(app.url("/api/v1/auth/login_web"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_administrator_manages_accounts_from_the_page() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("root", true), ("alice", false), ("mallory", false)])
        .await;
    let mut alice = Browser::logged_in(&app.url(""), "alice").await;
    assert_eq!(
        alice.open("/admin/accounts").await.location(),
        Some("/forbidden")
    );

    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let page = root.open("/admin/accounts").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("3 accounts"), "{}", page.body);
    let token = field(&page.body, "csrf_token");
    let found = root.open("/admin/accounts?q=ALI").await;
    assert!(found.body.contains(">alice<") && !found.body.contains(">mallory<"));
    assert!(found.body.contains("One account"));

    // Adding: a refusal keeps the name as typed, never the password.
    let taken = root
        .post_form(
            "/admin/accounts",
            &[
                ("csrf_token", &token),
                ("name", "alice"),
                ("password", "a long enough passphrase"),
            ],
        )
        .await;
    assert_eq!(taken.status, 409);
    assert!(
        taken
            .body
            .contains("An account of that name exists already.")
    );
    assert!(taken.body.contains("value=\"alice\""));
    assert!(!taken.body.contains("a long enough passphrase"));
    let short = root
        .post_form(
            "/admin/accounts",
            &[
                ("csrf_token", &token),
                ("name", "carol"),
                ("password", "short"),
                ("admin", "yes"),
            ],
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(short.body.contains("at least 12 characters"));
    assert!(short.body.contains("value=\"carol\"") && short.body.contains(" checked"));
    let added = root
        .post_form(
            "/admin/accounts",
            &[
                ("csrf_token", &token),
                ("name", "carol"),
                ("password", "a long enough passphrase"),
            ],
        )
        .await;
    assert_eq!(added.location(), Some("/admin/accounts?notice=added"));
    assert_eq!(
        web_login(&app, "carol", "a long enough passphrase").await,
        200
    );
    let forged = root
        .post_form(
            "/admin/accounts",
            &[("name", "dave"), ("password", "a long enough passphrase")],
        )
        .await;
    assert_eq!(forged.status, 403);

    // Disabling refuses the sign-in; enabling gives it back.
    let off = root
        .post_form(
            "/admin/accounts/carol/disabled",
            &[("csrf_token", &token), ("disabled", "yes")],
        )
        .await;
    assert_eq!(off.location(), Some("/admin/accounts?notice=disabled"));
    assert_eq!(
        web_login(&app, "carol", "a long enough passphrase").await,
        401
    );
    assert!(
        root.open("/admin/accounts?q=carol")
            .await
            .body
            .contains(">disabled<")
    );
    root.post_form(
        "/admin/accounts/carol/disabled",
        &[("csrf_token", &token), ("disabled", "no")],
    )
    .await;
    assert_eq!(
        web_login(&app, "carol", "a long enough passphrase").await,
        200
    );

    let audited = app.audit.page(0, 200).await.unwrap();
    for action in ["account.created", "account.disabled", "account.enabled"] {
        let entry = audited
            .iter()
            .find(|e| e.record.action == action && e.record.actor.starts_with("user:root"))
            .unwrap_or_else(|| panic!("{action} by root"));
        assert!(
            entry.record.kid.is_some() && entry.record.ip.is_some(),
            "{action}"
        );
    }
}

#[tokio::test]
async fn a_locked_name_shows_as_locked_and_the_page_lifts_the_lock() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("root", true), ("mallory", false)])
        .await;
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let token = field(&root.open("/admin/accounts").await.body, "csrf_token");
    // A locked name shows locked, and the page lifts the lock.
    let myself = root
        .post_form(
            "/admin/accounts/ROOT/disabled",
            &[("csrf_token", &token), ("disabled", "yes")],
        )
        .await;
    assert_eq!(
        myself.location(),
        Some("/admin/accounts?notice=not_yourself")
    );
    assert_eq!(web_login(&app, "root", "root pass").await, 200);
    let nobody = root
        .post_form(
            "/admin/accounts/nobody/disabled",
            &[("csrf_token", &token), ("disabled", "yes")],
        )
        .await;
    assert_eq!(nobody.status, 404);
    for _ in 0..5 {
        web_login(&app, "mallory", "wrong").await;
    }
    let listed = root.open("/admin/accounts?q=mallory").await;
    assert!(listed.body.contains("locked until"), "{}", listed.body);
    let unlocked = root
        .post_form("/admin/accounts/mallory/unlock", &[("csrf_token", &token)])
        .await;
    assert_eq!(unlocked.location(), Some("/admin/accounts?notice=unlocked"));
    assert_eq!(web_login(&app, "mallory", "mallory pass").await, 200);
    let again = root
        .post_form("/admin/accounts/mallory/unlock", &[("csrf_token", &token)])
        .await;
    assert_eq!(again.location(), Some("/admin/accounts?notice=not_locked"));

    let audited = app.audit.page(0, 200).await.unwrap();
    let entry = audited
        .iter()
        .find(|e| e.record.action == "account.unlocked" && e.record.actor.starts_with("user:root"))
        .expect("the unlock, by root");
    assert!(entry.record.kid.is_some() && entry.record.ip.is_some());
}

#[tokio::test]
async fn the_list_comes_in_pages_of_fifty() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("root", true)]).await;
    for n in 0..60 {
        app.accounts
            .add(
                &kunci_domain::audit::Actor::cli(),
                &format!("user{n:02}"),
                &kunci_crypto::SecretString::new("a long enough passphrase"),
                false,
            )
            .await
            .unwrap();
    }
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let first = root.open("/admin/accounts").await;
    assert!(first.body.contains("Page 1 of 2") && first.body.contains("rel=\"next\""));
    assert_eq!(first.body.matches("/disabled\"").count(), 50);
    let second = root.open("/admin/accounts?page=2").await;
    assert_eq!(second.body.matches("/disabled\"").count(), 11);
    let token = field(&first.body, "csrf_token");
    let bad = root
        .post_form(
            "/admin/accounts",
            &[
                ("csrf_token", &token),
                ("name", "Bad Name!"),
                ("password", "a long enough passphrase"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("A name is 1 to 64 characters"));
    let beyond = root.open("/admin/accounts?page=99").await;
    assert!(beyond.body.contains("Page 2 of 2"));
    let hostile = root.open("/admin/accounts?q=%3Cscript%3E&page=-1").await;
    assert!(
        hostile.status == 200 || hostile.status == 400,
        "{}",
        hostile.status
    );
    assert!(!hostile.body.contains("<script>"));
}
