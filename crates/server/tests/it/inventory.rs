//! The session inventory: an account sees and ends its own browser sessions and app logins;
//! admins do the same for any account; nobody touches another account's entries.

use serde_json::{Value, json};

use crate::helpers::{Browser, TestApp};

async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false), ("bob", false), ("root", true)])
        .await;
    app
}

async fn browser_of(app: &TestApp, name: &str) -> Browser {
    let mut b = Browser::new(&app.url(""));
    let page = b
        .post_json(
            "/api/v1/auth/login_web",
            &json!({"username": name, "password": format!("{name} pass")}),
            false,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    b
}

async fn app_login(app: &TestApp, name: &str) -> Value {
    app.client
        .post(app.url("/api/v1/auth/login_mobile"))
        .json(&json!({"username": name, "password": format!("{name} pass"), "client_id": "ios-0123456789"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn delete(b: &mut Browser, path: &str) -> u16 {
    let token = b.cookies["kunci_csrf"].clone();
    b.send(
        reqwest::Method::DELETE,
        path,
        "application/json",
        &[("x-csrf-token", &token)],
        None,
    )
    .await
    .status
}

#[tokio::test]
async fn an_account_lists_and_ends_its_own_sessions() {
    let app = app().await;
    let mut laptop = browser_of(&app, "alice").await;
    let mut phone = browser_of(&app, "alice").await;
    let mobile = app_login(&app, "alice").await;
    let mut bob = browser_of(&app, "bob").await;

    let listed = laptop.api("/api/v1/me/sessions").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items.iter().filter(|i| i["kind"] == "browser").count(), 2);
    assert_eq!(items.iter().filter(|i| i["current"] == true).count(), 1);
    for cookie in [
        &laptop.cookies["kunci_session"],
        &phone.cookies["kunci_session"],
    ] {
        assert!(
            !listed.body.contains(cookie.as_str()),
            "session ids are credentials"
        );
    }
    let phone_id = items
        .iter()
        .find(|i| i["kind"] == "browser" && i["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let app_id = items.iter().find(|i| i["kind"] == "app").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(
        delete(&mut bob, &format!("/api/v1/me/sessions/{phone_id}")).await,
        404,
        "not bob's"
    );
    assert_eq!(phone.api("/api/v1/me").await.status, 200);
    assert_eq!(
        delete(&mut laptop, &format!("/api/v1/me/sessions/{phone_id}")).await,
        204
    );
    assert_eq!(phone.api("/api/v1/me").await.status, 401);
    assert_eq!(
        delete(&mut laptop, "/api/v1/me/sessions/s_nothing").await,
        404
    );

    assert_eq!(
        delete(&mut laptop, &format!("/api/v1/me/sessions/{app_id}")).await,
        204
    );
    let refreshed = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": mobile["refresh_token"], "client_id": "ios-0123456789"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 401, "the app's family is revoked");
    assert_eq!(
        laptop.api("/api/v1/me").await.status,
        200,
        "the caller's own session lives on"
    );
}

#[tokio::test]
async fn this_wasnt_me_ends_everything_at_once() {
    let app = app().await;
    let mut laptop = browser_of(&app, "alice").await;
    let mut phone = browser_of(&app, "alice").await;
    app_login(&app, "alice").await;
    let page = laptop
        .post_json("/api/v1/me/sessions/revoke_all", &json!({}), true)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        (
            page.json()["sessions_ended"].as_u64(),
            page.json()["apps_ended"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(phone.api("/api/v1/me").await.status, 401);
    assert_eq!(laptop.api("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn admins_manage_any_account_and_others_may_not() {
    let app = app().await;
    let mut alice = browser_of(&app, "alice").await;
    let mut root = browser_of(&app, "root").await;
    let mut bob = browser_of(&app, "bob").await;

    let refused = bob.api("/api/v1/admin/accounts/alice/sessions").await;
    assert_eq!(
        (refused.status, refused.json()["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let listed = root.api("/api/v1/admin/accounts/alice/sessions").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(
        root.api("/api/v1/admin/accounts/nobody/sessions")
            .await
            .status,
        404
    );

    let page = root
        .post_json(
            "/api/v1/admin/accounts/alice/sessions/revoke_all",
            &json!({}),
            true,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(alice.api("/api/v1/me").await.status, 401);
    let audited = app.audit.page(0, 100).await.unwrap();
    let entry = audited
        .iter()
        .find(|e| e.record.action == "admin.sessions.revoked")
        .unwrap();
    assert_eq!(
        (entry.record.actor.as_str(), entry.record.target.as_str()),
        ("user:root", "alice")
    );
    assert!(
        entry
            .record
            .kid
            .as_deref()
            .is_some_and(|k| k.starts_with("ck_"))
    );
}
