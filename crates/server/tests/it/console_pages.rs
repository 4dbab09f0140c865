//! The console's pages for signing keys, service clients, the audit log and the overview:
//! each change is the same change as the CLI's, audited with the administrator as the actor;
//! destructive ones ask first; secrets are shown once; filters and exports agree.

use kunci_crypto::keyring::{KeyPurpose, KeyState};
use serde_json::json;

use crate::helpers::{Browser, TestApp};
use crate::pool::field;

async fn admin(app: &TestApp) -> (Browser, String) {
    app.add_accounts(&[("root", true), ("alice", false)]).await;
    let mut root = Browser::logged_in(&app.url(""), "root").await;
    let page = root.open("/admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = field(&page.body, "csrf_token");
    (root, token)
}

/// The actions `user:root` is recorded doing, oldest first.
async fn done_by_root(app: &TestApp) -> Vec<String> {
    app.audit
        .page(0, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.actor.starts_with("user:root") && e.record.outcome == "allowed")
        .map(|e| format!("{} {}", e.record.action, e.record.target))
        .collect()
}

#[tokio::test]
async fn signing_keys_rotate_and_retire_from_the_page() {
    let app = TestApp::spawn().await;
    let (mut root, token) = admin(&app).await;
    let mut alice = Browser::logged_in(&app.url(""), "alice").await;
    assert_eq!(
        alice.open("/admin/signing-keys").await.location(),
        Some("/forbidden")
    );
    let old = app
        .keys
        .ring()
        .active(KeyPurpose::Cookie)
        .unwrap()
        .kid
        .clone();
    let page = root.open("/admin/signing-keys").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(old.as_str()) && page.body.contains(">active<"));

    let rotated = root
        .post_form(
            "/admin/signing-keys/rotate",
            &[("csrf_token", &token), ("purpose", "cookie")],
        )
        .await;
    assert_eq!(
        rotated.location(),
        Some("/admin/signing-keys?notice=rotated_cookie")
    );
    app.keys.reload().await.unwrap();
    let new = app
        .keys
        .ring()
        .active(KeyPurpose::Cookie)
        .unwrap()
        .kid
        .clone();
    assert_ne!(new, old);
    let bad = root
        .post_form(
            "/admin/signing-keys/rotate",
            &[("csrf_token", &token), ("purpose", "rsa")],
        )
        .await;
    assert_eq!(bad.status, 400);

    // An active key cannot be retired; the old one asks first and says what it ends.
    let active = root
        .open(&format!("/admin/signing-keys/{new}/retire"))
        .await;
    assert_eq!(
        active.location(),
        Some("/admin/signing-keys?notice=not_verify")
    );
    let confirm = root
        .open(&format!("/admin/signing-keys/{old}/retire"))
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("What retiring ends"),
        "{}",
        confirm.body
    );
    assert!(
        confirm
            .body
            .contains("Signed-in browsers keep their sessions")
    );
    let unconfirmed = root
        .post_form(
            &format!("/admin/signing-keys/{old}/retire"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(
        unconfirmed.location(),
        Some(format!("/admin/signing-keys/{old}/retire").as_str())
    );
    let retired = root
        .post_form(
            &format!("/admin/signing-keys/{old}/retire"),
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        retired.location(),
        Some("/admin/signing-keys?notice=retired")
    );
    app.keys.reload().await.unwrap();
    let state = app.keys.keys().iter().find(|k| k.kid == old).unwrap().state;
    assert_eq!(state, KeyState::Retired);
    let traversal = root.open("/admin/signing-keys/..%2F..%2Fetc/retire").await;
    assert_eq!(traversal.status, 404);
    // The session survives the retirement of the key that signed its token.
    assert_eq!(root.open("/admin/signing-keys").await.status, 200);

    let done = done_by_root(&app).await;
    assert!(
        done.iter()
            .any(|d| d.starts_with("signing_key.rotated cookie")),
        "{done:?}"
    );
    assert!(
        done.contains(&format!("signing_key.retired {old}")),
        "{done:?}"
    );
}

#[tokio::test]
async fn a_client_s_secret_is_shown_once_and_revoking_asks_first() {
    let app = TestApp::spawn().await;
    let (mut root, token) = admin(&app).await;
    let added = root
        .post_form(
            "/admin/clients",
            &[("csrf_token", &token), ("name", "deploy"), ("admin", "yes")],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.headers["cache-control"], "no-store");
    let secret = added
        .body
        .split("id=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the secret on the page")
        .to_owned();
    assert!(secret.starts_with("kcs_") && secret.len() > 40, "{secret}");
    let listed = root.open("/admin/clients").await;
    assert!(listed.body.contains(">deploy<") && listed.body.contains(">administrator<"));
    assert!(!listed.body.contains(&secret), "never shown again");

    let taken = root
        .post_form(
            "/admin/clients",
            &[("csrf_token", &token), ("name", "deploy")],
        )
        .await;
    assert_eq!(taken.status, 409);
    assert!(taken.body.contains("value=\"deploy\"") && !taken.body.contains("kcs_"));
    let bad = root
        .post_form(
            "/admin/clients",
            &[("csrf_token", &token), ("name", "<script>x")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("value=\"&lt;script&gt;x\""),
        "escaped, kept"
    );

    let confirm = root.open("/admin/clients/deploy/revoke").await;
    assert!(
        confirm.body.contains("What revoking does"),
        "{}",
        confirm.body
    );
    let unconfirmed = root
        .post_form("/admin/clients/deploy/revoke", &[("csrf_token", &token)])
        .await;
    assert_eq!(unconfirmed.location(), Some("/admin/clients/deploy/revoke"));
    let revoked = root
        .post_form(
            "/admin/clients/deploy/revoke",
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(revoked.location(), Some("/admin/clients?notice=revoked"));
    let again = root.open("/admin/clients/deploy/revoke").await;
    assert_eq!(again.location(), Some("/admin/clients?notice=not_active"));
    assert_eq!(root.open("/admin/clients/nobody/revoke").await.status, 404);
    let stored = app.clients.list().await.unwrap();
    assert!(stored.iter().all(|c| c.revoked_at.is_some()));
    let done = done_by_root(&app).await;
    assert!(
        done.contains(&"service_client.created deploy (admin)".to_owned()),
        "{done:?}"
    );
    assert!(
        done.contains(&"service_client.revoked deploy".to_owned()),
        "{done:?}"
    );
}

#[tokio::test]
async fn the_audit_log_filters_pages_exports_and_verifies() {
    let app = TestApp::spawn().await;
    let (mut root, token) = admin(&app).await;
    for n in 0..60 {
        app.audit
            .record(kunci_domain::audit::AuditEvent::new(
                "cli",
                "account.unlocked",
                format!("name{n:02}"),
            ))
            .await
            .unwrap();
    }
    app.client
        .post(app.url("/api/v1/auth/login_web"))
        .json(&json!({"username": "alice", "password": "wrong"}))
        .send()
        .await
        .unwrap();

    let page = root.open("/admin/audit").await;
    assert_eq!(page.status, 200);
    let newest = page
        .body
        .find("account.login")
        .expect("the refused sign-in");
    assert!(newest < page.body.find("name59").unwrap(), "newest first");
    assert!(!page.body.contains(">name09<"), "fifty to a page");
    let older = root.open("/admin/audit?before=20").await;
    assert!(older.body.contains(">name09<") && !older.body.contains(">name30<"));

    let denied = root.open("/admin/audit?outcome=denied").await;
    assert!(denied.body.contains("account.login") && !denied.body.contains("name1"));
    let by_cli = root.open("/admin/audit?actor=cli&action=account.").await;
    assert!(by_cli.body.contains(">name59<") && !by_cli.body.contains("account.login"));
    for bad in [
        "action=account",
        "outcome=maybe",
        "from=2026-02-30",
        "actor=%00",
    ] {
        let refused = root.open(&format!("/admin/audit?{bad}")).await;
        assert_eq!(refused.status, 400, "{bad}");
        assert!(refused.body.contains("role=\"alert\""), "{bad}");
    }

    let ndjson = root
        .open("/admin/audit/export.ndjson?actor=cli&action=account.unlocked")
        .await;
    assert_eq!(ndjson.headers["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = ndjson
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 60);
    assert!(lines.iter().all(|l| l["actor"] == "cli"));
    assert_eq!(lines[0]["target"], "name59");
    let csv = root.open("/admin/audit/export.csv?outcome=denied").await;
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        rows[0],
        "seq,at,actor,action,target,outcome,kid,ip_hash,prev,mac"
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1].contains(",account.login,") && rows[1].contains(",denied,"));
    assert_eq!(root.open("/admin/audit/export.xml").await.status, 404);

    let verified = root
        .post_form("/admin/audit/verify", &[("csrf_token", &token)])
        .await;
    assert_eq!(verified.status, 200);
    assert!(
        verified.body.contains("The chain is intact"),
        "{}",
        verified.body
    );
}

#[tokio::test]
async fn the_overview_counts_and_charts_the_day() {
    let app = TestApp::spawn().await;
    let (mut root, _) = admin(&app).await;
    for password in ["wrong", "wrong again", "alice pass"] {
        app.client
            .post(app.url("/api/v1/auth/login_web"))
            .json(&json!({"username": "alice", "password": password}))
            .send()
            .await
            .unwrap();
    }
    let page = root.open("/admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<svg") && page.body.contains("Sign-ins per hour"));
    assert!(page.body.contains("aria-current=\"page\">Overview<"));
    // Root's own sign-in and alice's: two succeeded, two refused, all in the current hour.
    let logins = page.body.split("id=\"logins\"").nth(1).unwrap();
    let logins = logins.split("id=\"requests\"").next().unwrap();
    let table = logins.split("<tbody>").last().unwrap();
    let last_row = table.split("<tr>").last().unwrap();
    assert!(last_row.contains("<td>2</td><td>2</td>"), "{last_row}");
    assert!(
        page.body
            .contains("<span class=\"number\">2</span> accounts")
    );
    assert!(page.body.contains(">answers<"), "{}", page.body);
    assert!(page.body.contains("Sign-ins per hour (UTC): 4"));
    // The doctor's checks that need no request to the deployment, in the page's words.
    assert!(
        page.body.contains("The active cookie key is 0 days old.")
            && page.body.contains("The active jwt key is 0 days old.")
            && page
                .body
                .contains("Administrators who sign in with a password alone: root."),
        "{}",
        page.body
    );
    // Every request so far, this one not yet; no upstream was called.
    let requests = page
        .body
        .split("Requests per hour (UTC), every instance: ")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse::<u32>().ok())
        .expect("the requests chart");
    assert!(requests >= 5, "{requests}");
    assert!(
        page.body
            .contains("Upstream calls per hour (UTC)</strong>: nothing in this period.")
    );
}

#[tokio::test]
async fn the_old_settings_address_moves_to_the_console() {
    let app = TestApp::spawn().await;
    let mut visitor = Browser::new(&app.url(""));
    let moved = visitor.open("/settings?notice=added").await;
    assert_eq!(moved.status, 308);
    assert_eq!(moved.location(), Some("/admin/keys?notice=added"));
    let key = visitor.open("/settings/keys/key_ab12").await;
    assert_eq!(key.location(), Some("/admin/keys/key_ab12"));
}

#[tokio::test]
async fn an_account_s_page_ends_its_sessions_and_changes_its_access() {
    let app = TestApp::spawn().await;
    let (mut root, token) = admin(&app).await;
    let mut alice = Browser::logged_in(&app.url(""), "alice").await;
    let bearer = app.access_token("alice", "phone-app-01").await;
    let page = root.open("/admin/accounts/alice").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("phone-app-01") && page.body.contains("Browser"),
        "{}",
        page.body
    );
    let session = page
        .body
        .split("/sessions/s_")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a browser session to end")
        .to_owned();
    let ended = root
        .post_form(
            &format!("/admin/accounts/alice/sessions/s_{session}/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(ended.location(), Some("/admin/accounts/alice?notice=ended"));
    assert_ne!(alice.open("/account").await.status, 200, "signed out");
    let gone = root
        .post_form(
            &format!("/admin/accounts/alice/sessions/s_{session}/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(gone.status, 404);

    // Access: made administrator, then taken away, which ends the app login too.
    let made = root
        .post_form(
            "/admin/accounts/alice/access",
            &[("csrf_token", &token), ("admin", "yes")],
        )
        .await;
    assert_eq!(
        made.location(),
        Some("/admin/accounts/alice?notice=made_admin")
    );
    let taken = root
        .post_form(
            "/admin/accounts/alice/access",
            &[("csrf_token", &token), ("admin", "no")],
        )
        .await;
    assert_eq!(
        taken.location(),
        Some("/admin/accounts/alice?notice=made_user")
    );
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "the app login ended with the access");
    let myself = root
        .post_form(
            "/admin/accounts/root/access",
            &[("csrf_token", &token), ("admin", "no")],
        )
        .await;
    assert_eq!(
        myself.location(),
        Some("/admin/accounts/root?notice=not_yourself")
    );
    assert_eq!(root.open("/admin/accounts/nobody").await.status, 404);

    let done = done_by_root(&app).await;
    assert!(
        done.contains(&format!("admin.session.revoked alice s_{session}")),
        "{done:?}"
    );
    assert!(
        done.contains(&"account.scopes_changed alice: user".to_owned()),
        "{done:?}"
    );
}

/// The link on a reset-link answer.
fn reset_link(body: &str) -> String {
    body.split("id=\"reset-link\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("a reset link on the page")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn a_reset_link_sets_a_password_once_within_the_hour() {
    let app = TestApp::spawn().await;
    let (mut root, token) = admin(&app).await;
    let mut alice = Browser::logged_in(&app.url(""), "alice").await;
    let made = root
        .post_form(
            "/admin/accounts/alice/reset-link",
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(made.headers["cache-control"], "no-store");
    let link = reset_link(&made.body);
    let path = link[link.find("/reset?").expect("the reset page")..].to_owned();
    assert!(path.starts_with("/reset?token=krt_"), "{path}");
    assert!(
        !root
            .open("/admin/accounts/alice")
            .await
            .body
            .contains(&path),
        "shown once"
    );

    let mut visitor = Browser::new(&app.url(""));
    let form = visitor.arrive(&path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("For the account alice"));
    let csrf = field(&form.body, "csrf_token");
    let reset_token = path.trim_start_matches("/reset?token=").to_owned();
    let send = |new: &'static str, confirm: &'static str| {
        [
            ("csrf_token", csrf.clone()),
            ("token", reset_token.clone()),
            ("new", new.to_owned()),
            ("confirm", confirm.to_owned()),
        ]
    };
    for (new, confirm, status) in [
        ("short", "short", 400),
        ("a long new passphrase", "a different one", 400),
    ] {
        let fields = send(new, confirm);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(visitor.post_form("/reset", &pairs).await.status, status);
    }
    let fields = send("a long new passphrase", "a long new passphrase");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let set = visitor.post_form("/reset", &pairs).await;
    assert_eq!(set.location(), Some("/login?reset=1"), "{}", set.body);
    assert_ne!(
        alice.open("/account").await.status,
        200,
        "the old sessions ended"
    );
    let login = |password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login_web"))
            .json(&json!({"username": "alice", "password": password}))
            .send()
    };
    assert_eq!(login("a long new passphrase").await.unwrap().status(), 200);
    assert_eq!(login("alice pass").await.unwrap().status(), 401);
    let again = visitor.post_form("/reset", &pairs).await;
    assert_eq!(again.status, 404, "once");
    assert!(again.body.contains("This link does not work"));

    // A newer link replaces the older; an hour ends both; a token of no shape is no link.
    let first = reset_link(
        &root
            .post_form(
                "/admin/accounts/alice/reset-link",
                &[("csrf_token", &token)],
            )
            .await
            .body,
    );
    let second = reset_link(
        &root
            .post_form(
                "/admin/accounts/alice/reset-link",
                &[("csrf_token", &token)],
            )
            .await
            .body,
    );
    let open = |link: &str| link[link.find("/reset?").unwrap()..].to_owned();
    assert_eq!(visitor.open(&open(&first)).await.status, 404);
    assert_eq!(visitor.open(&open(&second)).await.status, 200);
    app.clock.advance(time::Duration::seconds(3601));
    let mut later = Browser::new(&app.url(""));
    assert_eq!(later.arrive(&open(&second)).await.status, 404);
    for bad in ["/reset", "/reset?token=../../etc", "/reset?token=krt_%00"] {
        assert_eq!(later.open(bad).await.status, 404, "{bad}");
    }
    let done = done_by_root(&app).await;
    assert!(
        done.contains(&"account.reset_link_created alice".to_owned()),
        "{done:?}"
    );
}

#[tokio::test]
async fn the_lockouts_page_lists_locks_and_lifts_them() {
    let app = TestApp::spawn().await;
    let (mut root, token) = admin(&app).await;
    let empty = root.open("/admin/lockouts").await;
    assert!(empty.body.contains("Nothing is locked."), "{}", empty.body);
    for name in ["alice", "mallory-guess"] {
        for _ in 0..5 {
            app.client
                .post(app.url("/api/v1/auth/login_web"))
                .json(&json!({"username": name, "password": "wrong"}))
                .send()
                .await
                .unwrap();
        }
    }
    let page = root.open("/admin/lockouts").await;
    assert!(
        page.body.contains("href=\"/admin/accounts/alice\""),
        "{}",
        page.body
    );
    assert!(page.body.contains(
        "<code>mallory-guess</code> <span class=\"badge status-invalid\">no such account"
    ));
    let unlocked = root
        .post_form(
            "/admin/lockouts/unlock",
            &[
                ("csrf_token", &token),
                ("kind", "name"),
                ("subject", "mallory-guess"),
            ],
        )
        .await;
    assert_eq!(unlocked.location(), Some("/admin/lockouts?notice=unlocked"));
    let again = root
        .post_form(
            "/admin/lockouts/unlock",
            &[
                ("csrf_token", &token),
                ("kind", "name"),
                ("subject", "mallory-guess"),
            ],
        )
        .await;
    assert_eq!(again.location(), Some("/admin/lockouts?notice=not_locked"));
    let bad = root
        .post_form(
            "/admin/lockouts/unlock",
            &[
                ("csrf_token", &token),
                ("kind", "everything"),
                ("subject", "x"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    let left = root.open("/admin/lockouts").await;
    assert!(!left.body.contains("mallory-guess") && left.body.contains("/admin/accounts/alice"));
    let done = done_by_root(&app).await;
    assert!(
        done.contains(&"account.unlocked mallory-guess".to_owned()),
        "{done:?}"
    );
}
