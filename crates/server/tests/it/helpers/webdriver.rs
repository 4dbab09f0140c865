//! A real browser driven through WebDriver: Debian's ChromeDriver and Chromium, headless, spoken
//! to in the W3C protocol over loopback. Enough of the protocol to fill in forms, click, read
//! the page and run a line of script. `scripts/services.sh` installs both.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session; the driver and browser end with it.
pub struct WebDriver {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl WebDriver {
    /// Starts ChromeDriver and a headless Chromium; `None` (after saying so) when they are not
    /// installed outside CI.
    pub async fn start() -> Option<Self> {
        kunci::install_crypto_provider();
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            assert!(
                !kunci_store::testing::in_ci(),
                "{CHROMEDRIVER} or {CHROMIUM} is missing, but CI=true: scripts/services.sh installs them"
            );
            kunci_store::testing::skip(
                "ChromeDriver is not installed (scripts/services.sh installs it)",
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(status) = http.get(format!("{base}/status")).send().await
                && let Ok(body) = status.json::<Value>().await
                && body["value"]["ready"] == true
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not come up");
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Some(Self {
            driver,
            base,
            session,
            http,
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver JSON");
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!("webdriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        let Some(id) = found[ELEMENT].as_str() else {
            panic!(
                "no element {css}: {found}; the page is\n{}",
                self.source().await
            );
        };
        Element(id.to_owned())
    }

    /// How many elements match a CSS selector.
    pub async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Chooses the file at `path` in the file input `css`.
    pub async fn choose_file(&self, css: &str, path: &Path) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({"text": path.display().to_string()})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks something that loads a new page (a form's button, a link) and waits until the
    /// new page has loaded: the old document is marked first, so a click that is still on its
    /// way is never mistaken for its result.
    pub async fn click_to_load(&self, css: &str) {
        self.script("window.__kunciOldPage = true; return true;")
            .await;
        self.click(css).await;
        self.wait_for_load(css).await;
    }

    /// Types keys that end in loading a new page (Enter on a form) and waits for it, as
    /// [`Self::click_to_load`] does.
    pub async fn keys_to_load(&self, text: &str) {
        self.script("window.__kunciOldPage = true; return true;")
            .await;
        self.keys(text).await;
        self.wait_for_load("the keys").await;
    }

    async fn wait_for_load(&self, what: &str) {
        for _ in 0..200 {
            let loaded = self
                .script(
                    "return window.__kunciOldPage === undefined \
                     && document.readyState === 'complete';",
                )
                .await;
            if loaded == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what} loaded no new page");
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// The text of the first element matching a CSS selector.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/text", element.0),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Forgets every cookie of the current site (a new visitor).
    pub async fn clear_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Types `text` into whatever has the focus, as a keyboard does (WebDriver key codes such
    /// as `\u{E004}` Tab and `\u{E007}` Enter included).
    pub async fn keys(&self, text: &str) {
        let strokes: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let key = c.to_string();
                [
                    json!({"type": "keyDown", "value": key}),
                    json!({"type": "keyUp", "value": key}),
                ]
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": strokes}]})),
        )
        .await;
    }

    /// Waits until the address holds `part` (a page the keyboard submitted).
    pub async fn wait_for_url(&self, part: &str) {
        for _ in 0..200 {
            if self.current_url().await.contains(part)
                && self.script("return document.readyState;").await == "complete"
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "never reached a page with {part}: {}",
            self.current_url().await
        );
    }

    /// Sizes the window (CSS pixels), for the phone-sized and the desktop look.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Makes the page see `prefers-color-scheme: dark` (or light) through the DevTools protocol.
    pub async fn color_scheme(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": value}]},
            })),
        )
        .await;
    }

    /// A PNG of the whole page (not only the viewport), written to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let shot = self
            .call(
                reqwest::Method::POST,
                "/goog/cdp/execute",
                Some(json!({
                    "cmd": "Page.captureScreenshot",
                    "params": {"format": "png", "captureBeyondViewport": true},
                })),
            )
            .await;
        let encoded = shot["data"].clone();
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a screenshot"))
            .expect("base64 PNG");
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Runs a script that ends by calling its last argument with the result (a promise's value,
    /// say) and returns that result.
    pub async fn script_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        // Ending the session closes Chromium; the driver is then killed.
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::thread::spawn(move || {
            let _ = reqwest::blocking::Client::new().delete(url).send();
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
