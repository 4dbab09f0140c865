//! The pages in English and Indonesian: the `kunci_lang` cookie, then `Accept-Language`, then
//! `environment.default_language`; the switcher every page links to.

use reqwest::Method;

use crate::helpers::{Browser, TestApp};

const HTML: &str = "text/html,application/xhtml+xml";

async fn login_page(
    browser: &mut Browser,
    accept_language: Option<&str>,
) -> crate::helpers::browser::Page {
    let extra: Vec<(&str, &str)> = accept_language
        .map(|value| vec![("accept-language", value)])
        .unwrap_or_default();
    browser
        .send(Method::GET, "/login", HTML, &extra, None)
        .await
}

fn shows(page: &crate::helpers::browser::Page, lang: &str, heading: &str) {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("<html lang=\"{lang}\">")),
        "{}",
        page.body
    );
    assert!(page.body.contains(heading), "{}", page.body);
    assert_eq!(page.headers["content-language"], lang);
}

#[tokio::test]
async fn the_cookie_then_the_browser_then_the_default_chooses_the_language() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    shows(
        &login_page(&mut browser, None).await,
        "en",
        "<h1>Sign in</h1>",
    );
    shows(
        &login_page(&mut browser, Some("fr-FR, id;q=0.8, en;q=0.5")).await,
        "id",
        "<h1>Masuk</h1>",
    );
    assert!(
        login_page(&mut browser, Some("id"))
            .await
            .body
            .contains("Nama pengguna"),
        "the form's labels too"
    );

    // The switcher: a plain link that keeps the choice and comes back.
    let switched = browser
        .open("/lang/id?next=%2Flogin%3Fnext%3D%2Fadmin%2Fkeys")
        .await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.location(), Some("/login?next=/admin/keys"));
    assert_eq!(
        switched.set.get("kunci_lang").map(String::as_str),
        Some("id")
    );
    shows(
        &login_page(&mut browser, Some("en-US,en")).await,
        "id",
        "<h1>Masuk</h1>",
    );
    let back = browser.open("/lang/en?next=/login").await;
    assert_eq!(back.set.get("kunci_lang").map(String::as_str), Some("en"));
    shows(
        &login_page(&mut browser, Some("id")).await,
        "en",
        "<h1>Sign in</h1>",
    );
}

#[tokio::test]
async fn the_switcher_goes_only_to_local_pages_and_knows_only_our_languages() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "%2F%2Fevil.example",
        "/caf%C3%A9",
    ] {
        let page = browser.open(&format!("/lang/id?next={next}")).await;
        assert_eq!((page.status, page.location()), (303, Some("/")), "{next}");
    }
    for code in ["fr", "ID", "en-US", "x"] {
        let page = browser.open(&format!("/lang/{code}")).await;
        assert_eq!(page.status, 404, "{code}");
        assert!(page.set.is_empty(), "no cookie for {code}");
    }
}

#[tokio::test]
async fn a_deployment_may_default_to_indonesian() {
    let app = TestApp::builder()
        .var("KUNCI__ENVIRONMENT__DEFAULT_LANGUAGE", "id")
        .spawn()
        .await
        .unwrap();
    let mut browser = Browser::new(&app.url(""));
    browser.arrive("/").await;
    shows(
        &login_page(&mut browser, None).await,
        "id",
        "<h1>Masuk</h1>",
    );
    shows(
        &login_page(&mut browser, Some("de")).await,
        "id",
        "<h1>Masuk</h1>",
    );
    shows(
        &login_page(&mut browser, Some("en-GB")).await,
        "en",
        "<h1>Sign in</h1>",
    );
}

#[tokio::test]
async fn an_api_problem_is_titled_in_the_clients_language_and_keeps_its_code() {
    let app = TestApp::spawn().await;
    let problem = |accept_language: Option<&'static str>| {
        let mut request = app.client.get(app.url("/api/v1/me"));
        if let Some(value) = accept_language {
            request = request.header("accept-language", value);
        }
        async move {
            let answer = request.send().await.unwrap();
            let lang = answer.headers()["content-language"]
                .to_str()
                .unwrap()
                .to_owned();
            let body: serde_json::Value = answer.json().await.unwrap();
            (lang, body)
        }
    };
    let (lang, english) = problem(None).await;
    assert_eq!(lang, "en");
    assert_eq!(english["title"], "Authentication is required.");
    let (lang, indonesian) = problem(Some("id-ID,id;q=0.9")).await;
    assert_eq!(lang, "id");
    assert_eq!(indonesian["title"], "Autentikasi diperlukan.");
    for field in ["type", "status", "error"] {
        assert_eq!(indonesian[field], english[field], "{field} stays");
    }
    assert_eq!(indonesian["error"], "unauthenticated");
}

#[tokio::test]
async fn pages_link_bundled_assets_that_browsers_may_keep_for_a_year() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.url(""));
    let page = browser.arrive("/").await;
    let link = |attribute: &str, ext: &str| {
        let start = page
            .body
            .find(&format!("{attribute}=\"/static/kunci."))
            .unwrap_or_else(|| panic!("{attribute} of the .{ext}: {}", page.body));
        let rest = &page.body[start + attribute.len() + 2..];
        rest[..rest.find('"').unwrap()].to_owned()
    };
    for (path, ext, content_type) in [
        (link("href", "css"), "css", "text/css; charset=utf-8"),
        (link("src", "js"), "js", "text/javascript; charset=utf-8"),
    ] {
        let name = path.trim_start_matches("/static/");
        let hash = name
            .trim_start_matches("kunci.")
            .trim_end_matches(&format!(".{ext}"));
        assert!(
            hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
        let asset = app.get(&path).await;
        assert_eq!(asset.status(), 200);
        assert_eq!(asset.headers()["content-type"], content_type);
        assert_eq!(
            asset.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let body = asset.text().await.unwrap();
        let plain = app
            .get(&format!("/static/kunci.{ext}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            body.len() < plain.len(),
            "{name} is smaller than its source"
        );
        assert!(
            !body.contains("/*") && !body.contains("\n//"),
            "no comments in {name}"
        );
    }
    assert_eq!(
        app.get("/static/kunci.0123456789ab.css").await.status(),
        404
    );
}
