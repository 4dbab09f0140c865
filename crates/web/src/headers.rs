//! Security headers that every response carries.
//!
//! HTML responses get their own nonce-based Content-Security-Policy from the page layer; every
//! other response gets the strictest policy, since JSON and plain text never need to run or
//! load anything.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
     magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()";
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";
/// Two years, with subdomains: the value the HSTS preload list asks for.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// A fresh random value per request, for the page's `<script nonce>` and its CSP.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn generate() -> Self {
        let mut bytes = [0u8; 16];
        // Without randomness the nonce would be guessable; fail towards a policy that lets no
        // script run rather than a predictable one.
        if getrandom::fill(&mut bytes).is_err() {
            return Self(String::new());
        }
        Self(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            bytes,
        ))
    }
}

/// The policy for HTML responses: nothing but our own scripts carrying this response's nonce,
/// our own styles, images and connections, forms posting only to us, no framing, no plugins,
/// no `<base>` (OWASP ASVS 5.0 3.4.3; no `unsafe-inline`, no `unsafe-eval`).
fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; \
         report-uri /csp-report"
    )
}

pub(crate) async fn security_headers(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = CspNonce::generate();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html && let Ok(value) = HeaderValue::from_str(&page_csp(&nonce.0)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Answers of a security service are personal: nothing is cached unless a route says so.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.settings().serves_https {
        set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    headers.remove(header::SERVER);
    response
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}
