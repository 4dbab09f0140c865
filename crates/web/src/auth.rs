//! The page middleware: every page and API call is judged by the server session and the
//! signed token (SPEC §4).
//!
//! 1. The token is verified against the key ring and compared with the server session.
//! 2. A session that is still valid gets a fresh token, silently, when the token is missing,
//!    expired, signed by a key that is no longer active, or disagrees with the session: the
//!    session is the source of truth.
//! 3. A browser asking for a page with neither gets a browser id, a `basic` session, a token
//!    and `kunci_boot`, and one redirect to the same URL with `_mk=1`.
//! 4. A request that already carries `_mk=1` and still has no session refused our cookies: it
//!    goes to `/forbidden`, never into a second redirect.
//! 5. API requests (`/api/…`, or asking for JSON) never redirect: 401 problem+json.
//!
//! A token that still verifies but whose session is gone tells a logged-in user whose session
//! ended (idle or absolute timeout, logout elsewhere): pages go to `/login?next=…`, API calls
//! get 401 `session_expired`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kunci_crypto::keyring::Kid;
use kunci_crypto::token::{self, AuthClaims, Verified};
use kunci_crypto::{csrf, keyring::KeyRing};
use kunci_domain::session::{Lookup, Scope, SessionId, SessionRecord};

use crate::cookies::{Name, RequestCookies};
use crate::error::ApiError;
pub use crate::principal::{Principal, RequestKind, Via};
use crate::state::AppState;

/// Who is making the request, for handlers and scope checks.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub session_id: SessionId,
    pub session: SessionRecord,
    /// The key that verified (or just signed) this request's token: what the audit log records.
    pub kid: Kid,
    /// The session's CSRF token, for forms.
    pub csrf_token: String,
}

impl AuthContext {
    pub fn has(&self, scope: Scope) -> bool {
        self.session.has(scope)
    }
}

/// A handler that needs the cookie session takes `AuthContext` as an extractor: a request
/// authenticated otherwise (a bearer token, a signature) has none and is answered 401 like
/// any request without a session — never the framework's "missing extension" 500.
impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(ApiError::Unauthenticated)
    }
}

/// The token of `Authorization: Bearer <token>`, if that is the scheme.
fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// An access token, verified (signature, times, issuer, audience, lifetime) and naming an
/// account that exists and may log in. A token seen before is answered from memory; a new one
/// costs one look at the account, so a token minted with a leaked key for an invented or
/// deleted account is refused.
async fn verified_token(
    state: &AppState,
    token: &str,
) -> Result<kunci_crypto::jwt::Verified, ApiError> {
    let ring = state.keys().ring();
    let now = state.clock().now_unix();
    let refused = |err: kunci_crypto::jwt::JwtError| match err {
        kunci_crypto::jwt::JwtError::Expired => ApiError::TokenExpired,
        err => {
            tracing::info!(reason = %err, "bearer token refused");
            ApiError::InvalidToken
        }
    };
    if let Some(known) = state.bearer_cache().cached(&ring, token, now) {
        return known.map_err(refused);
    }
    let settings = state.settings();
    let expected = kunci_crypto::jwt::Expected {
        iss: &settings.jwt_issuer,
        aud: &settings.jwt_audience,
        lifetime_secs: settings.token_lifetime_secs,
    };
    let verified = kunci_crypto::jwt::verify(&ring, token, now, expected).map_err(refused)?;
    match state.accounts().active_by_id(&verified.claims.sub).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::info!("bearer token of no account (or a disabled one) refused");
            return Err(ApiError::InvalidToken);
        }
        Err(kunci_domain::accounts::AccountError::Store(err)) => return Err(err.into()),
        Err(err) => return Err(ApiError::Internal(Box::new(err))),
    }
    state.bearer_cache().remember(token, &verified, now);
    Ok(verified)
}

/// A bearer request is judged by its token alone: its cookies never grant anything.
async fn authenticate_bearer(state: &AppState, mut request: Request, next: Next) -> Response {
    let Some(token) = bearer_token(&request) else {
        return ApiError::InvalidToken.into_response();
    };
    if RequestKind::of(&request) == RequestKind::Page {
        // Pages are for browsers with cookies; tokens authenticate API calls.
        return ApiError::Unauthenticated.into_response();
    }
    let verified = match verified_token(state, token).await {
        Ok(verified) => verified,
        Err(err) => return err.into_response(),
    };
    let claims = verified.claims;
    let revocations = state.revocations();
    if revocations.is_family_revoked(&claims.sid) || revocations.is_account_disabled(&claims.sub) {
        tracing::info!("bearer token of a revoked login or disabled account refused");
        return ApiError::InvalidToken.into_response();
    }
    state.keys().record_verification(&verified.kid);
    metrics::counter!("kunci_key_verifications_total", "kid" => verified.kid.to_string())
        .increment(1);
    let scopes = claims
        .scope
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let ip = crate::net::client_address(&request, &state.settings().trusted_proxies);
    request.extensions_mut().insert(Principal {
        sub: Some(claims.sub),
        username: Some(claims.preferred_username),
        scopes,
        kid: verified.kid.to_string(),
        via: Via::Bearer {
            family: claims.sid,
            jti: claims.jti,
        },
        ip,
    });
    next.run(request).await
}

pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // Exactly one mechanism per request: a signature first (its cookies and any
    // `Authorization` grant nothing), then a bearer token, then cookies.
    if crate::signed::is_signed(request.headers()) {
        return crate::signed::authenticate(&state, request, next).await;
    }
    if request.headers().contains_key(header::AUTHORIZATION) {
        return authenticate_bearer(&state, request, next).await;
    }
    let kind = RequestKind::of(&request);
    let cookies = RequestCookies::from_headers(request.headers(), &state.settings().cookies);
    let ring = state.keys().ring();
    let verified = cookies
        .auth
        .as_deref()
        .and_then(|t| token::verify(&ring, t).ok());
    let session = match cookies.session.as_deref().and_then(SessionId::parse) {
        Some(id) => match state.sessions().find(&id).await {
            Ok(Lookup::Live(record))
                if record
                    .sub
                    .as_deref()
                    .is_some_and(|sub| state.revocations().is_account_disabled(sub)) =>
            {
                // A disabled account's sessions end at their next request, on every instance.
                if let Err(err) = state.sessions().destroy(&id).await {
                    tracing::warn!(error = %err, "could not end a disabled account's session");
                }
                None
            }
            Ok(Lookup::Live(record)) => Some((id, record)),
            Ok(Lookup::Missing) => None,
            Err(err) => {
                // Fail closed: an unreadable session is neither "logged out" nor "let in".
                tracing::error!(error = %err, "session store unavailable");
                return ApiError::StoreUnavailable.into_response();
            }
        },
        None => None,
    };
    let Some((id, record)) = session else {
        let ip = crate::net::client_address(&request, &state.settings().trusted_proxies);
        let (uri, method) = (request.uri().clone(), request.method().clone());
        let asked = Asked {
            uri: &uri,
            method: &method,
            ip,
        };
        return without_session(&state, &asked, kind, &cookies, verified.as_ref()).await;
    };

    let now = state.clock().now_unix();
    let current = verified.filter(|v| v.claims.exp > now && mirrors(&v.claims, &id, &record));
    if let Some(v) = &current {
        state.keys().record_verification(&v.kid);
        metrics::counter!("kunci_key_verifications_total", "kid" => v.kid.to_string()).increment(1);
    }
    let refreshed = match &current {
        Some(v) if v.key_active => None,
        _ => match issue(&state, &ring, &id, &record) {
            Ok(issued) => Some(issued),
            Err(response) => return *response,
        },
    };
    let kid = match (&refreshed, &current) {
        (Some((_, kid)), _) | (None, Some(Verified { kid, .. })) => kid.clone(),
        (None, None) => unreachable_kid(),
    };
    if crate::csrf::is_unsafe(request.method()) {
        request = match crate::csrf::check_token(request, &ring, &record.csrf).await {
            Ok(request) => request,
            Err(refused) => return refused,
        };
    }
    let Ok(csrf_token) = csrf::issue(&ring, &record.csrf) else {
        return ApiError::Internal("no active cookie key".into()).into_response();
    };
    let ip = crate::net::client_address(&request, &state.settings().trusted_proxies);
    request.extensions_mut().insert(Principal {
        sub: record.sub.clone(),
        username: record.data.get(kunci_domain::session::USERNAME).cloned(),
        scopes: record.scopes.clone(),
        kid: kid.to_string(),
        via: Via::Cookie,
        ip,
    });
    request.extensions_mut().insert(AuthContext {
        session_id: id,
        session: record,
        kid,
        csrf_token: csrf_token.clone(),
    });
    let mut response = next.run(request).await;
    if let Some((token, _)) = refreshed {
        let cookies = &state.settings().cookies;
        let headers = response.headers_mut();
        headers.append(header::SET_COOKIE, cookies.set(Name::Auth, &token));
        headers.append(header::SET_COOKIE, cookies.set(Name::Csrf, &csrf_token));
    }
    response
}

/// A kid for the impossible case where neither a current nor a refreshed token exists.
fn unreachable_kid() -> Kid {
    Kid::parse("none").unwrap_or_else(|| unreachable!("\"none\" is a valid kid"))
}

/// Whether the token says what the session says.
fn mirrors(claims: &AuthClaims, id: &SessionId, record: &SessionRecord) -> bool {
    claims.uid == record.uid
        && claims.session == id.tag()
        && claims.sub == record.sub.clone().unwrap_or_default()
        && claims
            .scope
            .iter()
            .map(String::as_str)
            .eq(record.scopes.iter().map(|s| s.as_str()))
}

/// A fresh token for the session, signed with the active key.
pub(crate) fn issue(
    state: &AppState,
    ring: &KeyRing,
    id: &SessionId,
    record: &SessionRecord,
) -> Result<(String, Kid), Box<Response>> {
    let now = state.clock().now_unix();
    let claims = AuthClaims {
        uid: record.uid.clone(),
        session: id.tag(),
        sub: record.sub.clone().unwrap_or_default(),
        iat: now,
        exp: now + state.settings().token_lifetime_secs,
        scope: record
            .scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    };
    let token = token::sign(ring, &claims)
        .map_err(|err| Box::new(ApiError::Internal(Box::new(err)).into_response()))?;
    let kid = token::verify(ring, &token)
        .map(|v| v.kid)
        .map_err(|err| Box::new(ApiError::Internal(Box::new(err)).into_response()))?;
    Ok((token, kid))
}

/// What a request without a session asked for, and from where.
struct Asked<'a> {
    uri: &'a Uri,
    method: &'a Method,
    /// The client address (behind trusted proxies); `None` without a peer address.
    ip: Option<std::net::IpAddr>,
}

async fn without_session(
    state: &AppState,
    asked: &Asked<'_>,
    kind: RequestKind,
    cookies: &RequestCookies,
    verified: Option<&Verified>,
) -> Response {
    let settings = &state.settings().cookies;
    let was_logged_in = verified.is_some_and(|v| !v.claims.sub.is_empty());
    let (uri, method) = (asked.uri, asked.method);
    let navigating = matches!(*method, Method::GET | Method::HEAD);
    let mut response = match kind {
        RequestKind::Api => if was_logged_in {
            ApiError::SessionExpired
        } else {
            ApiError::Unauthenticated
        }
        .into_response(),
        RequestKind::Page if was_logged_in => see_other(&format!("{}&expired=1", login_url(uri))),
        RequestKind::Page if has_mk(uri) || !navigating => see_other("/forbidden"),
        RequestKind::Page => {
            if let Some(refused) = over_bootstrap_budget(state, asked.ip).await {
                return refused;
            }
            return bootstrap(state, uri, cookies).await;
        }
    };
    if cookies.session.is_some() || cookies.auth.is_some() {
        let headers = response.headers_mut();
        headers.append(header::SET_COOKIE, settings.clear(Name::Session));
        headers.append(header::SET_COOKIE, settings.clear(Name::Auth));
    }
    response
}

/// The browser's id from `kunci_uid` when it is a well-formed UUID v4, else a new one.
pub(crate) fn browser_id(cookies: &RequestCookies) -> String {
    cookies
        .uid
        .as_deref()
        .and_then(|u| uuid::Uuid::parse_str(u).ok())
        .filter(|u| u.get_version_num() == 4 && u.hyphenated().to_string().len() == 36)
        .unwrap_or_else(uuid::Uuid::new_v4)
        .hyphenated()
        .to_string()
}

/// Each new browser stores a session, so one address gets a budget of them per minute
/// (`security.new_browsers_per_minute`): a flood of cookie-less visits cannot fill the store.
async fn over_bootstrap_budget(state: &AppState, ip: Option<std::net::IpAddr>) -> Option<Response> {
    let ip = ip?;
    let rate = state.settings().limits.bootstrap;
    match state
        .limiter()
        .check(&format!("bootstrap:{ip}"), rate)
        .await
    {
        kunci_domain::ratelimit::Decision::Allow => None,
        kunci_domain::ratelimit::Decision::Deny { retry_after_ms } => {
            let retry_after = crate::limits::refused("bootstrap", retry_after_ms);
            Some(ApiError::RateLimited { retry_after }.into_response())
        }
    }
}

/// Step 3: a new browser gets its cookies and one redirect.
async fn bootstrap(state: &AppState, uri: &Uri, cookies: &RequestCookies) -> Response {
    let uid = browser_id(cookies);
    let (id, record) = match state.sessions().start(&uid).await {
        Ok(started) => started,
        Err(err) => {
            tracing::error!(error = %err, "session store unavailable");
            return ApiError::StoreUnavailable.into_response();
        }
    };
    let ring = state.keys().ring();
    let (token, _) = match issue(state, &ring, &id, &record) {
        Ok(issued) => issued,
        Err(response) => return *response,
    };
    let Ok(csrf_token) = csrf::issue(&ring, &record.csrf) else {
        return ApiError::Internal("no active cookie key".into()).into_response();
    };
    let settings = &state.settings().cookies;
    let mut response = see_other(&with_mk(uri));
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, settings.set(Name::Uid, &uid));
    headers.append(header::SET_COOKIE, settings.set(Name::Session, id.expose()));
    headers.append(header::SET_COOKIE, settings.set(Name::Auth, &token));
    headers.append(header::SET_COOKIE, settings.set(Name::Boot, "1"));
    headers.append(header::SET_COOKIE, settings.set(Name::Csrf, &csrf_token));
    response
}

/// A 303 to a local path. `location` is always built from the request's own path and query
/// (or a fixed path), never from a header, so it cannot point elsewhere.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn has_mk(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|p| p == "_mk=1"))
}

fn with_mk(uri: &Uri) -> String {
    match uri.query() {
        Some(q) if !q.is_empty() => format!("{}?{q}&_mk=1", uri.path()),
        _ => format!("{}?_mk=1", uri.path()),
    }
}

/// The path and query without kunci's `_mk`.
fn local_target(uri: &Uri) -> String {
    let query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && *p != "_mk=1")
        .collect();
    if query.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), query.join("&"))
    }
}

/// `/login?next=<the page asked for>`.
pub(crate) fn login_url(uri: &Uri) -> String {
    format!("/login?next={}", percent_encode(&local_target(uri)))
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `/`.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mk_is_added_once_and_removed_from_next() {
        let uri: Uri = "/reports?year=2026".parse().unwrap();
        assert_eq!(with_mk(&uri), "/reports?year=2026&_mk=1");
        assert!(has_mk(&with_mk(&uri).parse().unwrap()));
        assert!(!has_mk(&"/x?a_mk=1".parse().unwrap()));
        assert_eq!(
            login_url(&"/reports?year=2026&_mk=1".parse().unwrap()),
            "/login?next=/reports%3Fyear%3D2026"
        );
        assert_eq!(login_url(&"/?_mk=1".parse().unwrap()), "/login?next=/");
    }
}
