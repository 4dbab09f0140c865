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
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method, url).header(ACCEPT, accept);
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
