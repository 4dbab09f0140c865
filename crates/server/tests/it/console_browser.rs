//! The pages in a real Chromium: the language switcher changes every visible string, the
//! password form works from the keyboard alone, and screenshots of each page (both languages,
//! light and dark, desktop and phone width) are written to `docs/console/` for the user guide.

use std::path::{Path, PathBuf};

use kunci_crypto::SecretString;
use kunci_domain::audit::Actor;

use crate::helpers::TestApp;
use crate::helpers::fake_google::FakeGoogle;
use crate::helpers::webdriver::WebDriver;
use crate::pool::{app_with, key};

pub(crate) async fn sign_in(browser: &WebDriver, app: &TestApp, name: &str, password: &str) {
    browser.clear_cookies().await;
    browser.goto(&app.url("/login")).await;
    browser.type_into("input[name=username]", name).await;
    browser.type_into("input[name=password]", password).await;
    browser
        .click_to_load("form[action='/login'] button[type=submit]")
        .await;
}

/// Adds the serious and critical axe-core violations of the page shown to `found`.
async fn accessible(browser: &WebDriver, axe: Option<&str>, page: &str, found: &mut Vec<String>) {
    if let Some(axe) = axe {
        for v in crate::helpers::axe::violations(browser, axe).await {
            found.push(format!("{page}: {v}"));
        }
    }
}

pub(crate) fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
    std::fs::create_dir_all(&dir).expect("docs/console");
    dir
}

/// The page's visible text, a line each, without blank lines.
async fn visible_lines(browser: &WebDriver) -> Vec<String> {
    let text = browser.script("return document.body.innerText;").await;
    text.as_str()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Lines a translation may keep as they are: names, times, masked keys, scope names, symbols.
fn language_neutral(line: &str) -> bool {
    let scopes = line
        .split(", ")
        .all(|word| ["basic", "user", "admin"].contains(&word));
    // "Status" is the Indonesian word too.
    scopes
        || line == "kunci"
        || line == "Status"
        || line.starts_with("administrator")
        || line.starts_with("alice")
        || line == "—"
        || line.contains("UTC")
        // A chart's day ("4 Nov"): most months are abbreviated alike in both.
        || line.split_once(' ').is_some_and(|(day, month)| {
            day.parse::<u8>().is_ok() && month.len() == 3
        })
        || line.contains("AIza")
        || line.starts_with("google")
        || !line.chars().any(char::is_alphabetic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_speak_both_languages_in_a_real_browser() {
    let Some(browser) = WebDriver::start().await else {
        return;
    };
    let google = FakeGoogle::start().await;
    let app = app_with(&google, None).await;
    app.pool
        .add(
            &Actor::cli(),
            "google",
            &SecretString::new(key(3)),
            &kunci_upstream::google::GoogleKeyFormat,
            5,
            Some("project_number:42".to_owned()),
        )
        .await
        .unwrap();
    let id = app.pool.list(None).await.unwrap()[0].id.clone();
    let key_page = format!("/admin/keys/{id}");
    browser.resize(1280, 900).await;
    sign_in(&browser, &app, "root", "root pass").await;
    let dir = shots();
    let axe = crate::helpers::axe::source();
    let mut inaccessible = Vec::new();
    for (path, name) in [
        ("/account", "account"),
        ("/admin/accounts", "accounts"),
        ("/admin/keys", "keys"),
        (key_page.as_str(), "key"),
        ("/admin/accounts/root", "account-admin"),
        ("/admin/signing-keys", "signing-keys"),
        ("/admin/clients", "clients"),
        ("/admin/audit", "audit"),
        ("/admin/lockouts", "lockouts"),
        ("/admin", "overview"),
        ("/reset", "reset-dead"),
        ("/", "home"),
    ] {
        browser
            .goto(&app.url(&format!("/lang/en?next={path}")))
            .await;
        let english = visible_lines(&browser).await;
        accessible(
            &browser,
            axe.as_deref(),
            &format!("{path} (en)"),
            &mut inaccessible,
        )
        .await;
        assert_eq!(
            browser.attribute("html", "lang").await.as_deref(),
            Some("en")
        );
        for dark in [false, true] {
            browser.color_scheme(dark).await;
            let scheme = if dark { "dark" } else { "light" };
            browser
                .screenshot(&dir.join(format!("{name}-en-{scheme}.png")))
                .await;
        }
        // The switcher on the page itself.
        browser.color_scheme(false).await;
        browser.click_to_load("a.lang").await;
        assert!(
            browser.current_url().await.ends_with(path),
            "back on {path}"
        );
        assert_eq!(
            browser.attribute("html", "lang").await.as_deref(),
            Some("id")
        );
        let indonesian = visible_lines(&browser).await;
        accessible(
            &browser,
            axe.as_deref(),
            &format!("{path} (id)"),
            &mut inaccessible,
        )
        .await;
        let unchanged: Vec<&String> = english
            .iter()
            .filter(|line| indonesian.contains(line) && !language_neutral(line))
            .filter(|line| !line.contains("root"))
            .collect();
        assert!(
            unchanged.is_empty(),
            "{path}: not translated: {unchanged:?}"
        );
        for dark in [false, true] {
            browser.color_scheme(dark).await;
            let scheme = if dark { "dark" } else { "light" };
            browser
                .screenshot(&dir.join(format!("{name}-id-{scheme}.png")))
                .await;
        }
        browser.color_scheme(false).await;
    }
    if let Some(axe) = axe.as_deref() {
        // The check itself works: an image without a text alternative is a critical finding.
        browser
            .script(
                "document.querySelector('main').append(document.createElement('img')); return 1;",
            )
            .await;
        let found = crate::helpers::axe::violations(&browser, axe).await;
        assert!(
            found.iter().any(|v| v["id"] == "image-alt"),
            "axe-core found nothing wrong with an image without alt: {found:?}"
        );
    }
    on_a_phone(&browser, &app, &dir).await;
    browser.resize(1280, 900).await;
    for lang in ["en", "id"] {
        let page = format!("/lang/{lang}?next=/login");
        browser.goto(&app.url(&page)).await;
        accessible(&browser, axe.as_deref(), &page, &mut inaccessible).await;
    }
    assert!(
        inaccessible.is_empty(),
        "serious or critical accessibility violations (axe-core):\n{}",
        inaccessible.join("\n")
    );
}

/// A phone's width: nothing wider than the screen but the tables' own scrolling.
async fn on_a_phone(browser: &WebDriver, app: &TestApp, dir: &Path) {
    browser.resize(360, 780).await;
    for (path, name) in [
        ("/account", "account"),
        ("/admin/accounts", "accounts"),
        ("/admin/keys", "keys"),
        ("/admin/audit", "audit"),
        ("/admin", "overview"),
    ] {
        browser
            .goto(&app.url(&format!("/lang/en?next={path}")))
            .await;
        let overflow = browser
            .script("return document.documentElement.scrollWidth > window.innerWidth;")
            .await;
        assert_eq!(overflow, false, "{path} overflows a 360 px screen");
        browser
            .screenshot(&dir.join(format!("{name}-en-phone.png")))
            .await;
    }
    browser.goto(&app.url("/lang/en?next=/login")).await;
    browser.clear_cookies().await;
    browser.goto(&app.url("/login")).await;
    browser.screenshot(&dir.join("login-en-phone.png")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_change_works_from_the_keyboard_alone() {
    let Some(browser) = WebDriver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    sign_in(&browser, &app, "alice", "alice pass").await;
    browser.goto(&app.url("/account")).await;
    // Focus the first field, then Tab from field to field and Enter to submit.
    browser
        .script("document.querySelector('input[name=current]').focus(); return true;")
        .await;
    browser
        .keys("alice pass\u{E004}a much longer passphrase\u{E004}a much longer passphrase\u{E007}")
        .await;
    browser.wait_for_url("notice=password_changed").await;
    assert_eq!(
        browser.text(".notice").await,
        "Your password is changed, and every other session has ended."
    );
    sign_in(&browser, &app, "alice", "a much longer passphrase").await;
    browser.goto(&app.url("/account")).await;
    assert_eq!(browser.text("h1").await, "My account");
}
