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

use axum::body::{Body, to_bytes};
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

fn same_origin(origin: &str, headers: &HeaderMap, public_origin: &str) -> bool {
    if origin == public_origin {
        return true;
    }
    // The site as the browser addressed it (development on localhost, several host names).
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((host, authority), (Some(host), Some(authority)) if host.eq_ignore_ascii_case(authority))
}

/// Whether the request comes from a page of another site that is not allowed.
pub(crate) fn is_forged(headers: &HeaderMap, settings: &crate::settings::WebSettings) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let allowed = |o: &str| settings.cors_origins.iter().any(|a| a == o);
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match (site, origin) {
        (Some("same-origin" | "none"), _) => false,
        // A sibling subdomain is another party as far as this site is concerned.
        (Some(_), Some(origin)) => !allowed(origin),
        (Some(_), None) => true,
        // Browsers without Fetch Metadata still send Origin on unsafe requests.
        (None, Some(origin)) => {
            !(same_origin(origin, headers, &settings.public_origin) || allowed(origin))
        }
        (None, None) => false,
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
/// body to find `csrf_token`.
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
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::CsrfFailed.into_response());
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| ApiError::PayloadTooLarge.into_response())?;
    let token = form_field(&bytes, "csrf_token");
    match token {
        Some(token) if csrf::verify(ring, secret, &token) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(ApiError::CsrfFailed.into_response()),
    }
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
            },
            metrics_token: None,
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
}
