//! Logging in and out with cookies (SPEC §5): the JSON flow `POST /api/v1/auth/login_web`,
//! the HTML form `POST /login`, `logout`, `logout_all` and `GET /api/v1/me`.
//!
//! Both login flows check the password the same way (one Argon2id verification whatever the
//! name, one answer for every kind of wrong), replace the browser's session with a new one (a
//! new id: no session fixation) and set the cookies. No token ever appears in a body.

use axum::body::Bytes;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kunci_crypto::SecretString;
use kunci_crypto::csrf;
use kunci_crypto::jwt::{self, Claims};
use kunci_domain::accounts::{Account, AccountError, normalize_username};
use kunci_domain::audit::Outcome;
use kunci_domain::lockout::LockoutError;
use kunci_domain::refresh::{MintError, Minter, Minting, Pair, RefreshError};
use kunci_domain::session::SessionId;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{AuthContext, Principal, Via, issue, see_other};
use crate::cookies::{DEVICE_MAX_AGE_SECS, Name, RequestCookies};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::net::ClientAddr;
use crate::pages::{LoginError, is_local_path, login_page};
use crate::state::AppState;

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// A login attempt's outcome.
struct LoggedIn {
    account: Account,
    /// A fresh device cookie for the browser (web flows).
    device_cookie: Option<HeaderValue>,
}

/// The lockout key's name: the normalised account name, or (for a name that cannot exist) a
/// bounded lowercase copy, counted all the same.
fn lockout_name(username: &str) -> String {
    normalize_username(username).unwrap_or_else(|| {
        username
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect()
    })
}

/// The device this browser proves it is, for this name, if its cookie is valid and recent.
fn known_device(state: &AppState, cookies: Option<&RequestCookies>, name: &str) -> Option<String> {
    let cookie = cookies?.device.as_deref()?;
    let device = kunci_crypto::device::verify(&state.keys().ring(), cookie)?;
    let fresh = state.clock().now_unix() - device.issued_at < DEVICE_MAX_AGE_SECS;
    (fresh && device.name == name).then_some(device.id)
}

/// A new device cookie for `name`.
fn device_cookie(state: &AppState, name: &str) -> Option<HeaderValue> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).ok()?;
    let device = kunci_crypto::device::Device {
        name: name.to_owned(),
        id: id.iter().map(|b| format!("{b:02x}")).collect(),
        issued_at: state.clock().now_unix(),
    };
    let value = kunci_crypto::device::issue(&state.keys().ring(), &device)?;
    Some(state.settings().cookies.set(Name::Device, &value))
}

fn lockout_error(err: LockoutError) -> ApiError {
    match err {
        LockoutError::Locked { retry_after } => ApiError::AccountLocked { retry_after },
        // Five attempts of this name are being checked at this moment (possibly the owner's
        // own, from several devices): not a lock, try again in a second.
        LockoutError::Busy => ApiError::RateLimited { retry_after: 1 },
        other => {
            tracing::error!(error = %other, "lockout store unavailable");
            ApiError::StoreUnavailable
        }
    }
}

/// Checks the password and records the attempt: the lockout first (a locked name or device is
/// refused before any hashing), then one Argon2id verification, then the audit entry. An
/// attempt that succeeded but cannot be audited is refused. `cookies` are given by the
/// browser flows, which use and renew device cookies.
async fn attempt(
    state: &AppState,
    username: &str,
    password: &SecretString,
    addr: ClientAddr,
    flow: &'static str,
    cookies: Option<&RequestCookies>,
) -> Result<LoggedIn, ApiError> {
    let result = check_password(state, username, password, addr, flow, cookies).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(ApiError::InvalidCredentials) => "invalid",
        Err(ApiError::AccountLocked { .. }) => "locked",
        Err(ApiError::PasswordTooLong) => "too_long",
        Err(ApiError::StoreUnavailable) => "unavailable",
        Err(_) => "error",
    };
    metrics::counter!("kunci_logins_total", "flow" => flow, "outcome" => outcome).increment(1);
    result
}

async fn check_password(
    state: &AppState,
    username: &str,
    password: &SecretString,
    addr: ClientAddr,
    flow: &str,
    cookies: Option<&RequestCookies>,
) -> Result<LoggedIn, ApiError> {
    if password.expose().len() > kunci_crypto::password::MAX_PASSWORD_BYTES {
        return Err(ApiError::PasswordTooLong);
    }
    let name = lockout_name(username);
    let device = known_device(state, cookies, &name);
    let ticket = state
        .lockout()
        .check_in(&name, device.as_deref())
        .await
        .map_err(lockout_error)?;
    let accounts = state.accounts();
    match accounts.authenticate(username, password).await {
        Ok(account) => {
            state
                .lockout()
                .succeeded(ticket)
                .await
                .map_err(lockout_error)?;
            if let Err(err) = accounts
                .audit_login(username, Outcome::Allowed, addr.0, flow)
                .await
            {
                tracing::error!(error = %err, "login refused: it cannot be audited");
                return Err(ApiError::StoreUnavailable);
            }
            let device_cookie = cookies.and_then(|_| device_cookie(state, &account.username));
            Ok(LoggedIn {
                account,
                device_cookie,
            })
        }
        Err(AccountError::InvalidCredentials) => {
            state
                .lockout()
                .failed(ticket)
                .await
                .map_err(lockout_error)?;
            if let Err(err) = accounts
                .audit_login(username, Outcome::Denied, addr.0, flow)
                .await
            {
                tracing::error!(error = %err, "a failed login could not be audited");
            }
            Err(ApiError::InvalidCredentials)
        }
        Err(AccountError::PasswordTooLong) => Err(ApiError::PasswordTooLong),
        Err(AccountError::Store(err)) => {
            tracing::error!(error = %err, "account store unavailable");
            Err(ApiError::StoreUnavailable)
        }
        Err(err) => Err(ApiError::Internal(Box::new(err))),
    }
}

/// A logged-in session for `account` in place of the browser's current one, as cookies.
async fn start_session(
    state: &AppState,
    cookies: &RequestCookies,
    account: &Account,
) -> Result<Vec<HeaderValue>, ApiError> {
    let uid = crate::auth::browser_id(cookies);
    let old = cookies.session.as_deref().and_then(SessionId::parse);
    let (id, record) = state
        .sessions()
        .log_in(
            old.as_ref(),
            &uid,
            &account.id,
            &account.username,
            account.session_scopes(),
        )
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "session store unavailable at login");
            ApiError::StoreUnavailable
        })?;
    let ring = state.keys().ring();
    let (token, _) = issue(state, &ring, &id, &record)
        .map_err(|_| ApiError::Internal("the auth token could not be signed".into()))?;
    let csrf_token = csrf::issue(&ring, &record.csrf)
        .map_err(|_| ApiError::Internal("no active cookie key".into()))?;
    let settings = &state.settings().cookies;
    Ok(vec![
        settings.set(Name::Uid, &uid),
        settings.set(Name::Session, id.expose()),
        settings.set(Name::Auth, &token),
        settings.set(Name::Csrf, &csrf_token),
        settings.set(Name::Boot, "1"),
    ])
}

fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /api/v1/auth/login_web` `{"username","password"}`: cookies, no token in the body.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login_web",
    tag = "auth",
    summary = "Browser login: session cookies (HttpOnly), CSRF cookie",
    request_body(content = crate::openapi::Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "logged in; kunci_session, kunci_auth and kunci_csrf set"),
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 413, response = inline(crate::openapi::TooLarge)),
        (status = 429, response = inline(crate::openapi::Limited)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    )
)]
pub(crate) async fn login_web(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(credentials) = serde_json::from_slice::<Credentials>(&body) else {
        return ApiError::InvalidRequest("expected {\"username\": …, \"password\": …}")
            .into_response();
    };
    let password = SecretString::new(credentials.password);
    let cookies = RequestCookies::from_headers(&headers, &state.settings().cookies);
    let logged_in = match attempt(
        &state,
        &credentials.username,
        &password,
        addr,
        "web",
        Some(&cookies),
    )
    .await
    {
        Ok(logged_in) => logged_in,
        Err(err) => return err.into_response(),
    };
    let account = &logged_in.account;
    match start_session(&state, &cookies, account).await {
        Ok(mut set) => with_cookies(
            Json(json!({
                "sub": account.id,
                "username": account.username,
                "scopes": account.session_scopes(),
            }))
            .into_response(),
            {
                set.extend(logged_in.device_cookie);
                set
            },
        ),
        Err(err) => err.into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: the HTML form (its CSRF token was checked by the session middleware).
pub(crate) async fn login_form(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(auth): Extension<AuthContext>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = if is_local_path(&form.next) {
        form.next.as_str()
    } else {
        "/"
    };
    let password = SecretString::new(form.password);
    let failed = |error: LoginError, status: StatusCode| {
        let mut page = login_page(&state, &nonce, &auth, next, false, Some(error));
        *page.status_mut() = status;
        page
    };
    let cookies = RequestCookies::from_headers(&headers, &state.settings().cookies);
    let logged_in = match attempt(
        &state,
        &form.username,
        &password,
        addr,
        "form",
        Some(&cookies),
    )
    .await
    {
        Ok(logged_in) => logged_in,
        Err(ApiError::InvalidCredentials) => {
            return failed(LoginError::InvalidCredentials, StatusCode::UNAUTHORIZED);
        }
        Err(ApiError::PasswordTooLong) => {
            return failed(LoginError::PasswordTooLong, StatusCode::BAD_REQUEST);
        }
        Err(ApiError::AccountLocked { retry_after }) => {
            let mut page = failed(LoginError::Locked, StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            return page;
        }
        Err(err) => return err.into_response(),
    };
    match start_session(&state, &cookies, &logged_in.account).await {
        Ok(mut set) => {
            set.extend(logged_in.device_cookie);
            with_cookies(see_other(next), set)
        }
        Err(err) => err.into_response(),
    }
}

fn cleared(state: &AppState) -> Vec<HeaderValue> {
    let settings = &state.settings().cookies;
    vec![
        settings.clear(Name::Session),
        settings.clear(Name::Auth),
        settings.clear(Name::Csrf),
    ]
}

async fn end_session(state: &AppState, auth: &AuthContext) -> Result<(), ApiError> {
    state
        .sessions()
        .destroy(&auth.session_id)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "session store unavailable at logout");
            ApiError::StoreUnavailable
        })
}

/// `POST /api/v1/auth/logout`: ends this session (cookies) or this app's refresh-token family
/// (bearer; the access token itself runs out within its lifetime).
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    summary = "End this session (or this app login)",
    responses(
        (status = 200, description = "{ok: true}; cookies cleared"),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    auth: Option<Extension<AuthContext>>,
) -> Response {
    let ended = match (&who.via, auth) {
        (Via::Bearer { family, .. }, _) => {
            state.revocations().note_family(family);
            state
                .refresh()
                .revoke(family)
                .await
                .map(drop)
                .map_err(|err| {
                    tracing::error!(error = %err, "refresh store unavailable at logout");
                    ApiError::StoreUnavailable
                })
        }
        (Via::Cookie, Some(Extension(auth))) => end_session(&state, &auth).await,
        (Via::Cookie, None) => Err(ApiError::Unauthenticated),
    };
    match ended {
        Ok(()) => with_cookies(Json(json!({ "ok": true })).into_response(), cleared(&state)),
        Err(err) => err.into_response(),
    }
}

/// `POST /logout`: the form version; back to the home page (a new anonymous session).
pub(crate) async fn logout_form(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthContext>,
) -> Response {
    match end_session(&state, &auth).await {
        Ok(()) => with_cookies(see_other("/"), cleared(&state)),
        Err(err) => err.into_response(),
    }
}

/// `POST /api/v1/auth/logout_all`: ends every session and refresh-token family of the
/// account, this one included ("this wasn't me").
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout_all",
    tag = "auth",
    summary = "End every session and app login of the account",
    responses(
        (status = 200, description = "{ok, sessions_ended, apps_ended}"),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 403, response = inline(crate::openapi::Forbidden)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn logout_all(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Response {
    let Some(sub) = who.sub.as_deref() else {
        return ApiError::Unauthenticated.into_response();
    };
    let sessions = state.sessions().destroy_account(sub).await;
    let families = state.refresh().revoke_account(sub).await;
    if let Err(err) = state.revocations().reload().await {
        tracing::warn!(error = %err, "revocation lists not reloaded; the periodic reload will");
    }
    match (sessions, families) {
        (Ok(sessions), Ok(families)) => with_cookies(
            Json(json!({ "ok": true, "sessions_ended": sessions, "apps_ended": families }))
                .into_response(),
            cleared(&state),
        ),
        (sessions, families) => {
            tracing::error!(sessions = ?sessions.err(), families = ?families.err(), "logout_all incomplete");
            ApiError::StoreUnavailable.into_response()
        }
    }
}

/// `GET /api/v1/me`: who is logged in, and by which mechanism.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "account",
    summary = "Who is calling: sub, username, scopes, how",
    responses(
        (status = 200, description = "the caller"),
        (status = 401, response = inline(crate::openapi::Unauthenticated))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn me(Extension(who): Extension<Principal>) -> Response {
    let Some(sub) = who.sub.as_deref() else {
        return ApiError::Unauthenticated.into_response();
    };
    Json(json!({
        "sub": sub,
        "username": who.username,
        "scopes": who.scopes,
        "auth": match who.via { Via::Cookie => "cookie", Via::Bearer { .. } => "bearer" },
    }))
    .into_response()
}

#[derive(Deserialize)]
struct MobileLogin {
    username: String,
    password: String,
    client_id: String,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
    client_id: String,
}

/// The token response: never cached anywhere.
fn token_response(pair: &Pair) -> Response {
    let mut response = Json(json!({
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
    }))
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Signs access tokens for accounts as they are now: a disabled or deleted account gets none.
struct AccessTokens<'a>(&'a AppState);

#[async_trait::async_trait]
impl Minter for AccessTokens<'_> {
    async fn mint(&self, minting: Minting<'_>) -> Result<(String, i64), MintError> {
        let state = self.0;
        let account = state
            .accounts()
            .store()
            .by_id(minting.account_id)
            .await
            .map_err(|e| MintError::Failed(e.to_string()))?
            .filter(|a| !a.disabled)
            .ok_or(MintError::Refused)?;
        let settings = state.settings();
        let now = state.clock().now_unix();
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(|_| MintError::Failed("random".into()))?;
        let claims = Claims {
            sub: account.id.clone(),
            preferred_username: account.username.clone(),
            iat: now,
            nbf: now,
            exp: now + settings.token_lifetime_secs,
            iss: settings.jwt_issuer.clone(),
            aud: settings.jwt_audience.clone(),
            jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
            scope: account
                .session_scopes()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            sid: minting.family_id.to_owned(),
        };
        let token = jwt::sign(&state.keys().ring(), &claims)
            .map_err(|e| MintError::Failed(e.to_string()))?;
        Ok((token, settings.token_lifetime_secs))
    }
}

fn refresh_error(err: RefreshError) -> ApiError {
    match err {
        RefreshError::InvalidGrant => ApiError::InvalidGrant,
        RefreshError::BadClientId => {
            ApiError::InvalidRequest("`client_id` must be 8 to 128 letters, digits, `-`, `_`, `.`")
        }
        RefreshError::Store(err) => {
            tracing::error!(error = %err, "refresh store unavailable");
            ApiError::StoreUnavailable
        }
        other => ApiError::Internal(Box::new(other)),
    }
}

/// `POST /api/v1/auth/login_mobile` `{"username","password","client_id"}`: an access token
/// (JWT) and a refresh token bound to the app instance `client_id`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login_mobile",
    tag = "auth",
    summary = "App login: an access JWT and a rotating refresh token",
    request_body(content = crate::openapi::MobileCredentials, content_type = "application/json"),
    responses(
        (status = 200, description = "{access_token, token_type, expires_in, refresh_token}"),
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 413, response = inline(crate::openapi::TooLarge)),
        (status = 429, response = inline(crate::openapi::Limited)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    )
)]
pub(crate) async fn login_mobile(
    State(state): State<AppState>,
    addr: ClientAddr,
    body: Bytes,
) -> Response {
    let Ok(login) = serde_json::from_slice::<MobileLogin>(&body) else {
        return ApiError::InvalidRequest(
            "expected {\"username\": …, \"password\": …, \"client_id\": …}",
        )
        .into_response();
    };
    if !kunci_domain::refresh::is_client_id(&login.client_id) {
        return refresh_error(RefreshError::BadClientId).into_response();
    }
    let password = SecretString::new(login.password);
    let account = match attempt(&state, &login.username, &password, addr, "mobile", None).await {
        Ok(logged_in) => logged_in.account,
        Err(err) => return err.into_response(),
    };
    let opened = state
        .refresh()
        .open(&account.id, &login.client_id, &AccessTokens(&state))
        .await;
    match opened {
        Ok(pair) => token_response(&pair),
        Err(err) => refresh_error(err).into_response(),
    }
}

/// `POST /api/v1/auth/refresh` `{"refresh_token","client_id"}`: a new pair; the token used is
/// dead.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    summary = "A new token pair for a refresh token (the old one dies)",
    request_body(content = crate::openapi::RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "{access_token, token_type, expires_in, refresh_token}"),
        (status = 400, response = inline(crate::openapi::InvalidRequest)),
        (status = 401, response = inline(crate::openapi::Unauthenticated)),
        (status = 503, response = inline(crate::openapi::Unavailable))
    )
)]
pub(crate) async fn refresh(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<RefreshRequest>(&body) else {
        return ApiError::InvalidRequest("expected {\"refresh_token\": …, \"client_id\": …}")
            .into_response();
    };
    let token = SecretString::new(request.refresh_token);
    let refreshed = state
        .refresh()
        .refresh(&token, &request.client_id, &AccessTokens(&state))
        .await;
    match refreshed {
        Ok(pair) => token_response(&pair),
        Err(err) => refresh_error(err).into_response(),
    }
}
