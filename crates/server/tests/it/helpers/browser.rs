//! A browser as far as cookies go: it keeps what `Set-Cookie` says (and forgets what it
//! clears), sends it back, never follows redirects by itself, and can refuse cookies.

use std::collections::BTreeMap;

use reqwest::header::{ACCEPT, COOKIE, HeaderMap, SET_COOKIE};

pub struct Browser {
    base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub refuses_cookies: bool,
}

pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// The cookies this response set, name → value (empty value: cleared).
    pub set: BTreeMap<String, String>,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    pub fn set_cookie_lines(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: super::client(),
            cookies: BTreeMap::new(),
            refuses_cookies: false,
        }
    }

    /// A browser logged in through `login_web` at `base` as `name` (password `"<name> pass"`,
    /// as [`super::TestApp::add_accounts`] sets it).
    pub async fn logged_in(base: &str, name: &str) -> Self {
        let mut browser = Self::new(base);
        let page = browser
            .post_json(
                "/api/v1/auth/login_web",
                &serde_json::json!({"username": name, "password": format!("{name} pass")}),
                false,
            )
            .await;
        assert_eq!(page.status, 200, "login as {name}: {}", page.body);
        browser
    }

    /// The same browser (its cookies) talking to another address: another instance.
    pub fn with_cookies_of(base: &str, other: &Browser) -> Self {
        Self {
            cookies: other.cookies.clone(),
            ..Self::new(base)
        }
    }

    /// A page navigation: `Accept: text/html`.
    pub async fn open(&mut self, path: &str) -> Page {
        self.request(
            reqwest::Method::GET,
            path,
            "text/html,application/xhtml+xml",
        )
        .await
    }

    /// An API call: `Accept: application/json`.
    pub async fn api(&mut self, path: &str) -> Page {
        self.request(reqwest::Method::GET, path, "application/json")
            .await
    }

    pub async fn request(&mut self, method: reqwest::Method, path: &str, accept: &str) -> Page {
        self.send(method, path, accept, &[], None).await
    }

    /// A JSON `POST` from a script of the page, with the CSRF header when `csrf` is set.
    pub async fn post_json(&mut self, path: &str, body: &serde_json::Value, csrf: bool) -> Page {
        let token = self.cookies.get("kunci_csrf").cloned().unwrap_or_default();
        let headers: Vec<(&str, &str)> = if csrf {
            vec![("x-csrf-token", token.as_str())]
        } else {
            Vec::new()
        };
        let body = serde_json::to_vec(body).unwrap();
        self.send(
            reqwest::Method::POST,
            path,
            "application/json",
            &headers,
            Some(("application/json", body)),
        )
        .await
    }

    /// A form submission (urlencoded).
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            reqwest::Method::POST,
            path,
            "text/html",
            &[],
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
        )
        .await
    }

    /// Any request, with extra headers and a body.
    pub async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        accept: &str,
        extra: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Page {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method, url).header(ACCEPT, accept);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(COOKIE, header.join("; "));
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let mut set = BTreeMap::new();
        for line in headers.get_all(SET_COOKIE) {
            let line = line.to_str().unwrap();
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let cleared = line.contains("Max-Age=0");
            set.insert(
                name.to_owned(),
                if cleared {
                    String::new()
                } else {
                    value.to_owned()
                },
            );
            if !self.refuses_cookies {
                if cleared {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Page {
            status,
            headers,
            body,
            set,
        }
    }

    /// Opens `path`, following kunci's bootstrap redirect once.
    pub async fn arrive(&mut self, path: &str) -> Page {
        let first = self.open(path).await;
        match first.location() {
            Some(location) if first.status == 303 => {
                let location = location.to_owned();
                self.open(&location).await
            }
            _ => first,
        }
    }
}

/// Percent-encodes a form value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
