//! kunci's cookies: names, flags, reading and writing.
//!
//! | cookie | holds | flags |
//! |---|---|---|
//! | `kunci_session` | the random session id | HttpOnly, SameSite=Lax |
//! | `kunci_auth` | the signed token (`kid | uid | sub | iat | exp | scope`) | HttpOnly, SameSite=Lax |
//! | `kunci_uid` | the browser's id (UUID v4), kept for a year | HttpOnly, SameSite=Lax |
//! | `kunci_boot` | `1`: the bootstrap redirect happened | HttpOnly, SameSite=Lax, browser session |
//! | `kunci_csrf` | the CSRF token, for the page's JavaScript | SameSite=Lax, **not** HttpOnly |
//! | `kunci_device` | proof of an earlier login from this browser (lockout budget) | HttpOnly, SameSite=Strict, 180 days |
//! | `kunci_lang` | the language the visitor chose (`en`, `id`) | HttpOnly, SameSite=Lax, a year |
//!
//! All have `Path=/` and no `Domain`. In staging and production (HTTPS) they are `Secure` and
//! their names carry the `__Host-` prefix, which browsers only accept under exactly those
//! conditions, so a subdomain or an HTTP page can never plant or overwrite them.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

pub use crate::settings::CookieSettings;

/// Which cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Session,
    Auth,
    Uid,
    Boot,
    Csrf,
    Device,
    Lang,
}

impl Name {
    fn base(self) -> &'static str {
        match self {
            Self::Session => "kunci_session",
            Self::Auth => "kunci_auth",
            Self::Uid => "kunci_uid",
            Self::Boot => "kunci_boot",
            Self::Csrf => "kunci_csrf",
            Self::Device => "kunci_device",
            Self::Lang => "kunci_lang",
        }
    }
}

impl CookieSettings {
    /// The name as sent: `__Host-kunci_session` when secure.
    pub fn name(&self, name: Name) -> String {
        if self.secure {
            format!("__Host-{}", name.base())
        } else {
            name.base().to_owned()
        }
    }

    /// A `Set-Cookie` value.
    pub fn set(&self, name: Name, value: &str) -> HeaderValue {
        let max_age = match name {
            Name::Session | Name::Auth => Some(self.session_max_age_secs),
            Name::Uid | Name::Lang => Some(365 * 86_400),
            Name::Device => Some(DEVICE_MAX_AGE_SECS),
            Name::Boot | Name::Csrf => None,
        };
        let mut cookie = Cookie::build((self.name(name), value.to_owned()))
            .path("/")
            .secure(self.secure)
            .http_only(name != Name::Csrf)
            .same_site(same_site(name));
        if let Some(secs) = max_age {
            cookie = cookie.max_age(time::Duration::seconds(secs));
        }
        header_value(&cookie.build())
    }

    /// A `Set-Cookie` value that removes the cookie.
    pub fn clear(&self, name: Name) -> HeaderValue {
        let cookie = Cookie::build((self.name(name), ""))
            .path("/")
            .secure(self.secure)
            .http_only(name != Name::Csrf)
            .same_site(same_site(name))
            .max_age(time::Duration::ZERO)
            .build();
        header_value(&cookie)
    }
}

/// How long a device cookie is honoured (and kept by the browser).
pub const DEVICE_MAX_AGE_SECS: i64 = 180 * 86_400;

/// The device cookie is only ever needed on this site's own login requests.
fn same_site(name: Name) -> SameSite {
    if name == Name::Device {
        SameSite::Strict
    } else {
        SameSite::Lax
    }
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // Names are fixed and values are base64url, UUIDs or tokens: always valid header bytes.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The kunci cookies a request carries. A cookie given twice (a planted duplicate) counts as
/// absent: kunci never guesses which one is genuine.
#[derive(Debug, Default, Clone)]
pub struct RequestCookies {
    pub session: Option<String>,
    pub auth: Option<String>,
    pub uid: Option<String>,
    pub boot: bool,
    pub device: Option<String>,
    pub lang: Option<String>,
}

impl RequestCookies {
    pub fn from_headers(headers: &HeaderMap, settings: &CookieSettings) -> Self {
        let mut found: Vec<(Name, String)> = Vec::new();
        let mut duplicated: Vec<Name> = Vec::new();
        let names = [
            Name::Session,
            Name::Auth,
            Name::Uid,
            Name::Boot,
            Name::Device,
            Name::Lang,
        ];
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(text).flatten() {
                let Some(name) = names.iter().find(|n| settings.name(**n) == cookie.name()) else {
                    continue;
                };
                if found.iter().any(|(n, _)| n == name) {
                    duplicated.push(*name);
                }
                found.push((*name, cookie.value().to_owned()));
            }
        }
        let get = |name: Name| {
            if duplicated.contains(&name) {
                return None;
            }
            found
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        Self {
            session: get(Name::Session),
            auth: get(Name::Auth),
            uid: get(Name::Uid),
            boot: get(Name::Boot).is_some(),
            device: get(Name::Device),
            lang: get(Name::Lang),
        }
    }

    /// Whether the browser sent any kunci cookie at all.
    pub fn any(&self) -> bool {
        self.session.is_some() || self.auth.is_some() || self.uid.is_some() || self.boot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secure: bool) -> CookieSettings {
        CookieSettings {
            secure,
            session_max_age_secs: 43_200,
        }
    }

    #[test]
    fn secure_deployments_use_host_prefixed_secure_cookies() {
        let set = settings(true).set(Name::Session, "abc");
        let text = set.to_str().unwrap();
        assert!(text.starts_with("__Host-kunci_session=abc"), "{text}");
        for part in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=43200",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        assert!(!text.contains("Domain"));
    }

    #[test]
    fn the_csrf_cookie_is_readable_by_scripts() {
        let text = settings(false)
            .set(Name::Csrf, "t")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            !text.contains("HttpOnly") && !text.contains("Secure"),
            "{text}"
        );
    }

    #[test]
    fn duplicated_cookies_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("kunci_session=a; kunci_uid=u"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("kunci_session=b; other=x"),
        );
        let cookies = RequestCookies::from_headers(&headers, &settings(false));
        assert_eq!(cookies.session, None);
        assert_eq!(cookies.uid.as_deref(), Some("u"));
    }

    #[test]
    fn unprefixed_names_are_not_read_when_secure() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("kunci_session=planted"),
        );
        assert_eq!(
            RequestCookies::from_headers(&headers, &settings(true)).session,
            None
        );
    }
}
