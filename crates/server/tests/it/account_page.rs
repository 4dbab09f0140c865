//! `/account`: a user sees where they are signed in, ends one session or every other one, and
//! changes their password (which needs the current one and ends the other sessions).

use serde_json::json;

use crate::helpers::{Browser, TestApp};
use crate::pool::field;

async fn account(browser: &mut Browser) -> (String, String) {
    let page = browser.open("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = field(&page.body, "csrf_token");
    (page.body, token)
}

/// The ids of the "End" forms on the page: every entry but the current one.
fn ended_by_forms(html: &str) -> Vec<String> {
    html.split("action=\"/account/sessions/")
        .skip(1)
        .filter_map(|rest| rest.split_once("/end\"").map(|(id, _)| id.to_owned()))
        .collect()
}

async fn still_signed_in(browser: &mut Browser) -> bool {
    browser.api("/api/v1/me").await.status == 200
}

#[tokio::test]
async fn a_user_sees_and_ends_their_sessions() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false), ("bob", false)]).await;
    let mut visitor = Browser::new(&app.url(""));
    visitor.arrive("/").await;
    let refused = visitor.open("/account").await;
    assert_eq!(refused.status, 303);
    assert_eq!(refused.location(), Some("/login?next=/account"));

    let mut here = Browser::logged_in(&app.url(""), "alice").await;
    let mut laptop = Browser::logged_in(&app.url(""), "alice").await;
    let mut phone = Browser::logged_in(&app.url(""), "alice").await;
    let app_token = app.access_token("alice", "mobile-0001").await;
    let mut bob = Browser::logged_in(&app.url(""), "bob").await;

    let (html, token) = account(&mut here).await;
    assert!(html.contains("App (mobile-0001)"), "{html}");
    assert_eq!(html.matches("this one").count(), 1, "{html}");
    let others = ended_by_forms(&html);
    assert_eq!(
        others.len(),
        3,
        "two other browsers and the app: {others:?}"
    );

    // Ending one: a browser session of someone else cannot be named.
    let (bob_html, _) = account(&mut bob).await;
    assert!(ended_by_forms(&bob_html).is_empty());
    let laptop_entry = others
        .iter()
        .find(|id| id.starts_with("s_"))
        .unwrap()
        .clone();
    let ended = here
        .post_form(
            &format!("/account/sessions/{laptop_entry}/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(
        (ended.status, ended.location()),
        (303, Some("/account?notice=ended"))
    );
    let signed_in = [
        still_signed_in(&mut laptop).await,
        still_signed_in(&mut phone).await,
    ];
    assert_eq!(
        signed_in.iter().filter(|s| **s).count(),
        1,
        "exactly one browser ended"
    );
    let not_his = bob
        .post_form(
            &format!("/account/sessions/{}/end", others[0]),
            &[("csrf_token", &field(&bob_html, "csrf_token"))],
        )
        .await;
    assert_eq!(not_his.status, 404);

    // Without the CSRF token nothing happens.
    let forged = here.post_form("/account/sessions/end-others", &[]).await;
    assert_eq!(forged.status, 403);
    assert!(still_signed_in(&mut phone).await || still_signed_in(&mut laptop).await);

    // "This wasn't me": everything but this browser ends, the app too.
    let page = here.open("/account?notice=ended").await;
    assert!(page.body.contains("That session has ended."));
    let all = here
        .post_form("/account/sessions/end-others", &[("csrf_token", &token)])
        .await;
    assert_eq!(all.location(), Some("/account?notice=others_ended"));
    assert!(!still_signed_in(&mut laptop).await && !still_signed_in(&mut phone).await);
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "the app login ended too");
    assert!(still_signed_in(&mut here).await);
    assert!(still_signed_in(&mut bob).await, "nobody else's");
    let audited = app.audit.page(0, 100).await.unwrap();
    assert!(
        audited
            .iter()
            .any(|e| e.record.action == "account.sessions_revoked" && e.record.kid.is_some())
    );
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let mut here = Browser::logged_in(&app.url(""), "alice").await;
    let mut other = Browser::logged_in(&app.url(""), "alice").await;
    let (_, token) = account(&mut here).await;
    let new = "a much longer passphrase";
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        [("current", current), ("new", new), ("confirm", confirm)]
    };
    for (fields, problem) in [
        (change("alice pass", new, "another passphrase!"), "mismatch"),
        (change("alice pass", "short", "short"), "short"),
        (change("wrong pass", new, new), "wrong"),
    ] {
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend(fields);
        let refused = here.post_form("/account/password", &form).await;
        let expected = format!("/account?password={problem}");
        assert_eq!(refused.location(), Some(expected.as_str()));
    }
    let page = here.open("/account?password=short").await;
    assert!(
        page.body
            .contains("The new password needs at least 12 characters."),
        "{}",
        page.body
    );
    assert!(page.body.contains("aria-invalid=\"true\""));
    assert!(still_signed_in(&mut other).await, "nothing changed yet");

    let mut form = vec![("csrf_token", token.as_str())];
    form.extend(change("alice pass", new, new));
    let changed = here.post_form("/account/password", &form).await;
    assert_eq!(changed.location(), Some("/account?notice=password_changed"));
    assert!(still_signed_in(&mut here).await);
    assert!(
        !still_signed_in(&mut other).await,
        "the other session ended"
    );
    let login = |password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/login_web"))
                .json(&json!({"username": "alice", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(login("alice pass").await, 401);
    assert_eq!(login(new).await, 200);
    let audited = app.audit.page(0, 100).await.unwrap();
    let change = audited
        .iter()
        .find(|e| e.record.action == "account.password_changed")
        .expect("audited");
    assert!(
        change.record.actor.starts_with("user:alice"),
        "{:?}",
        change.record
    );
    assert!(change.record.kid.is_some() && change.record.ip.is_some());
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_lockout() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let mut here = Browser::logged_in(&app.url(""), "alice").await;
    let (_, token) = account(&mut here).await;
    let new = "a much longer passphrase";
    let mut answers = Vec::new();
    for _ in 0..6 {
        let page = here
            .post_form(
                "/account/password",
                &[
                    ("csrf_token", &token),
                    ("current", "guess"),
                    ("new", new),
                    ("confirm", new),
                ],
            )
            .await;
        answers.push(page.location().unwrap_or_default().to_owned());
    }
    assert_eq!(answers[..5], ["/account?password=wrong"; 5]);
    assert_eq!(answers[5], "/account?password=locked");
    let right = here
        .post_form(
            "/account/password",
            &[
                ("csrf_token", &token),
                ("current", "alice pass"),
                ("new", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(
        right.location(),
        Some("/account?password=locked"),
        "locked means locked"
    );
}

#[tokio::test]
async fn the_account_page_is_in_indonesian_too() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let mut here = Browser::logged_in(&app.url(""), "alice").await;
    here.open("/lang/id?next=/account").await;
    let page = here.open("/account").await;
    assert!(page.body.contains("<html lang=\"id\">"));
    for text in [
        "Akun saya",
        "Tempat Anda masuk",
        "Ganti kata sandi",
        "yang ini",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
}
