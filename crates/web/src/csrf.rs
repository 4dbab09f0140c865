//! Cross-site request forgery, in two layers (SPEC §7).
//!
//! 1. [`refuse_cross_site`], on every request: an unsafe request (POST, PUT, PATCH, DELETE) a
//!    browser marks as coming from another site (`Sec-Fetch-Site: cross-site`/`same-site`, or
//!    an `Origin` that is not this site's) is refused with 403 `csrf_failed`, unless the origin
//!    is in the CORS allow-list. Bearer and signed service requests carry no ambient
//!    credentials and are exempt. This also covers the login endpoints, which have no session
//!    yet (login CSRF).
//! 2. [`check_token`], in the session middleware: a cookie-authenticated unsafe request must
//!    carry the session's CSRF token, in `X-CSRF-Token` or the form field `csrf_token`.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kunci_crypto::csrf;
use kunci_crypto::keyring::KeyRing;

use crate::error::ApiError;
use crate::state::AppState;

/// The largest form body read to find `csrf_token`.
const FORM_LIMIT: usize = 64 * 1024;
/// The largest upload (`multipart/form-data`) read to find it: the routes' own body limit.
const UPLOAD_LIMIT: usize = 1024 * 1024;

pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the request authenticates by bearer token or signature (no cookies involved).
pub(crate) fn carries_own_credentials(headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    bearer || headers.contains_key("x-kunci-signature")
}

/// An origin as (scheme, host, port): lowercased, the default port filled in. `None` for
/// anything that is not `http(s)://host[:port]` (`null`, paths, user info).
fn parse_origin(text: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '\\']) {
        return None;
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            let port = match after {
                "" => default,
                port => port.strip_prefix(':')?.parse().ok()?,
            };
            (format!("[{}]", host.to_ascii_lowercase()), port)
        }
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host.to_ascii_lowercase(), port.parse().ok()?),
            None => (rest.to_ascii_lowercase(), default),
        },
    };
    (!host.is_empty() && !host.contains(':') || host.starts_with('['))
        .then_some((scheme, host, port))
}

fn same(a: &str, b: &str) -> bool {
    matches!((parse_origin(a), parse_origin(b)), (Some(a), Some(b)) if a == b)
}

/// Whether `origin` is this site: `environment.public_url`'s scheme, host and port. In
/// development and test, also the host the browser addressed (`Host`) — localhost and
/// 127.0.0.1 are both in use there. Never in staging or production, where a client on a
/// direct connection controls both headers.
fn is_own_origin(
    origin: &str,
    headers: &HeaderMap,
    settings: &crate::settings::WebSettings,
) -> bool {
    if same(origin, &settings.public_origin) {
        return true;
    }
    if settings.environment.is_deployed() {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    host.is_some_and(|host| {
        same(origin, &format!("http://{host}")) || same(origin, &format!("https://{host}"))
    })
}

/// Whether the request comes from a page of another site that is not allowed. Both signals
/// must agree: an `Origin`, when present, must be this site or an allowed CORS origin whatever
/// `Sec-Fetch-Site` says, and a `Sec-Fetch-Site` that says another site is refused unless the
/// `Origin` is an allowed CORS origin.
pub(crate) fn is_forged(headers: &HeaderMap, settings: &crate::settings::WebSettings) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let allowed = |o: &str| settings.cors_origins.iter().any(|a| same(a, o));
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin_ok = origin.map(|o| is_own_origin(o, headers, settings) || allowed(o));
    match (site, origin) {
        (Some("same-origin" | "none") | None, _) => origin_ok == Some(false),
        // A sibling subdomain is another party as far as this site is concerned.
        (Some(_), Some(origin)) => !allowed(origin),
        (Some(_), None) => true,
    }
}

/// Layer 1: refuses cross-site unsafe requests before anything else looks at them.
pub(crate) async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    // Violation reports are sent by the browser itself, carry nothing and change nothing.
    let exempt = request.uri().path() == "/csp-report";
    if is_unsafe(request.method())
        && !exempt
        && !carries_own_credentials(headers)
        && is_forged(headers, state.settings())
    {
        tracing::info!(
            origin = ?headers.get(header::ORIGIN),
            site = ?headers.get("sec-fetch-site"),
            "cross-site request refused"
        );
        return ApiError::CsrfFailed.into_response();
    }
    next.run(request).await
}

/// Layer 2: the session's token must come with the request. Reads (and gives back) a form
/// body — urlencoded, or an upload's `multipart/form-data` — to find `csrf_token`.
pub(crate) async fn check_token(
    request: Request,
    ring: &KeyRing,
    secret: &str,
) -> Result<Request, Response> {
    if let Some(token) = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return if csrf::verify(ring, secret, token) {
            Ok(request)
        } else {
            Err(ApiError::CsrfFailed.into_response())
        };
    }
    let kind = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let multipart = kind.starts_with("multipart/form-data");
    if !kind.starts_with("application/x-www-form-urlencoded") && !multipart {
        return Err(ApiError::CsrfFailed.into_response());
    }
    let (parts, body) = request.into_parts();
    let limit = if multipart { UPLOAD_LIMIT } else { FORM_LIMIT };
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge.into_response())?;
    let token = if multipart {
        multipart_field(&parts.headers, bytes.clone(), "csrf_token").await
    } else {
        form_field(&bytes, "csrf_token")
    };
    match token {
        Some(token) if csrf::verify(ring, secret, &token) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(ApiError::CsrfFailed.into_response()),
    }
}

/// The first value of `name` in a `multipart/form-data` body (an upload form), if it is text of
/// at most a token's length.
async fn multipart_field(headers: &HeaderMap, body: Bytes, name: &str) -> Option<String> {
    use axum::extract::FromRequest as _;
    let mut request = Request::new(Body::from(body));
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, kind.clone());
    }
    let mut form = axum::extract::Multipart::from_request(request, &())
        .await
        .ok()?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok().filter(|t| t.len() <= 512);
        }
    }
    None
}

/// The first value of `name` in a urlencoded form.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    urlencoded_pairs(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Decodes `a=b&c=d` (with `+` and `%XX`), skipping malformed pairs.
fn urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn decode(part: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = part.get(i + 1..i + 3)?;
                    let text = std::str::from_utf8(hex).ok()?;
                    out.push(u8::from_str_radix(text, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    body.split(|b| *b == b'&')
        .filter_map(|pair| {
            let mut kv = pair.splitn(2, |b| *b == b'=');
            let key = decode(kv.next()?)?;
            let value = decode(kv.next().unwrap_or_default())?;
            Some((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn settings() -> crate::settings::WebSettings {
        crate::settings::WebSettings {
            environment: kunci_domain::environment::Environment::Development,
            serves_https: false,
            cookies: crate::cookies::CookieSettings {
                secure: false,
                session_max_age_secs: 3600,
            },
            token_lifetime_secs: 900,
            trusted_proxies: Vec::new(),
            public_origin: "https://kunci.test".into(),
            cors_origins: vec!["https://app.test".into()],
            jwt_issuer: "https://kunci.test".into(),
            jwt_audience: "kunci".into(),
            limits: crate::settings::Limits {
                api: kunci_domain::ratelimit::Rate::per(100, 1000),
                login: kunci_domain::ratelimit::Rate::per(5, 60_000),
                bootstrap: kunci_domain::ratelimit::Rate::per(60, 60_000),
            },
            metrics_token: None,
            default_language: crate::i18n::Lang::En,
            password_min_length: 12,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn fetch_metadata_and_origin_decide() {
        let s = settings();
        assert!(
            !is_forged(&headers(&[]), &s),
            "no browser signals: not a browser"
        );
        assert!(!is_forged(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &s
        ));
        assert!(!is_forged(&headers(&[("sec-fetch-site", "none")]), &s));
        assert!(is_forged(&headers(&[("sec-fetch-site", "cross-site")]), &s));
        assert!(is_forged(
            &headers(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://evil.kunci.test")
            ]),
            &s
        ));
        assert!(!is_forged(
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://app.test")
            ]),
            &s
        ));
        assert!(!is_forged(
            &headers(&[("origin", "https://kunci.test")]),
            &s
        ));
        assert!(!is_forged(
            &headers(&[
                ("origin", "http://localhost:8080"),
                ("host", "localhost:8080")
            ]),
            &s
        ));
        assert!(is_forged(
            &headers(&[("origin", "https://evil.test"), ("host", "kunci.test")]),
            &s
        ));
        assert!(is_forged(&headers(&[("origin", "null")]), &s));
    }

    #[test]
    fn an_origin_must_agree_whatever_fetch_metadata_says() {
        let s = settings();
        assert!(is_forged(
            &headers(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://evil.test")
            ]),
            &s
        ));
        assert!(!is_forged(
            &headers(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://KUNCI.test:443")
            ]),
            &s
        ));
        assert!(!is_forged(
            &headers(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://app.test")
            ]),
            &s
        ));
        for foreign in [
            "http://kunci.test",
            "https://kunci.test:8443",
            "https://kunci.test.evil.test",
            "https://user@kunci.test",
            "https://kunci.test/path",
            "kunci.test",
        ] {
            assert!(
                is_forged(&headers(&[("origin", foreign)]), &s),
                "{foreign} passed as this site"
            );
        }
    }

    #[test]
    fn the_host_header_vouches_for_no_origin_when_deployed() {
        let mut s = settings();
        s.environment = kunci_domain::environment::Environment::Production;
        assert!(is_forged(
            &headers(&[("origin", "https://evil.test"), ("host", "evil.test")]),
            &s
        ));
        assert!(!is_forged(
            &headers(&[("origin", "https://kunci.test"), ("host", "kunci.test")]),
            &s
        ));
    }

    #[test]
    fn bearer_and_signed_requests_are_exempt() {
        assert!(carries_own_credentials(&headers(&[(
            "authorization",
            "Bearer abc"
        )])));
        assert!(carries_own_credentials(&headers(&[(
            "authorization",
            "bearer abc"
        )])));
        assert!(carries_own_credentials(&headers(&[(
            "x-kunci-signature",
            "x"
        )])));
        assert!(!carries_own_credentials(&headers(&[(
            "authorization",
            "Basic abc"
        )])));
        assert!(!carries_own_credentials(&headers(&[(
            "authorization",
            "Bearer "
        )])));
    }

    #[test]
    fn forms_are_decoded() {
        let body = b"username=al%20ice&csrf_token=v1.ck_x.a%2Bb&x&next=%2Fa+b&bad=%zz";
        assert_eq!(
            form_field(body, "csrf_token").as_deref(),
            Some("v1.ck_x.a+b")
        );
        assert_eq!(form_field(body, "username").as_deref(), Some("al ice"));
        assert_eq!(form_field(body, "next").as_deref(), Some("/a b"));
        assert_eq!(form_field(body, "x").as_deref(), Some(""));
        assert_eq!(form_field(body, "bad"), None);
        assert_eq!(form_field(b"", "csrf_token"), None);
    }

    fn multipart(boundary: &str) -> HeaderMap {
        headers(&[(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )])
    }

    #[tokio::test]
    async fn an_upload_s_token_is_read_from_its_fields_and_hostile_bodies_give_none() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"k.txt\"\r\n\
                    Content-Type: text/plain\r\n\r\nAIza...\r\n--XX\r\n\
                    Content-Disposition: form-data; name=\"csrf_token\"\r\n\r\nv1.ck_x.abc\r\n--XX--\r\n";
        let token = multipart_field(&multipart("XX"), Bytes::from(body), "csrf_token").await;
        assert_eq!(token.as_deref(), Some("v1.ck_x.abc"));
        let long = format!(
            "--XX\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{}\r\n--XX--\r\n",
            "a".repeat(600)
        );
        for (headers, body) in [
            (multipart("YY"), body.to_owned()),
            (multipart("XX"), long),
            (multipart("XX"), "--XX\r\ngarbage".to_owned()),
            (multipart("XX"), String::new()),
            (
                headers(&[("content-type", "multipart/form-data")]),
                body.to_owned(),
            ),
            (HeaderMap::new(), body.to_owned()),
        ] {
            let found = multipart_field(&headers, Bytes::from(body), "csrf_token").await;
            assert_eq!(found, None, "{headers:?}");
        }
    }
}
