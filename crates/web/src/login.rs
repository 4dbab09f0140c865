//! Logging in and out with cookies (SPEC §5): the JSON flow `POST /api/v1/auth/login_web`,
//! the HTML form `POST /login`, `logout`, `logout_all` and `GET /api/v1/me`. The app flow
//! (tokens) is `mobile.rs`.
//!
//! Every flow checks the password through the domain's login service (lockout, one Argon2id
//! verification whatever the name, audit); this file adds what is the web's: the device
//! cookie, the new session in place of the browser's (a new id: no session fixation) and the
//! cookies. No token ever appears in a body.

use axum::body::Bytes;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kunci_crypto::SecretString;
use kunci_crypto::csrf;
use kunci_domain::accounts::Account;
use kunci_domain::login::{Flow, LoginError, PasswordAttempt, lockout_name};
use kunci_domain::session::SessionId;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{AuthContext, Principal, Via, issue, see_other};
use crate::cookies::{DEVICE_MAX_AGE_SECS, Name, RequestCookies};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::limits::FormLimited;
use crate::net::ClientAddr;
use crate::pages::{LoginForm, LoginProblem, is_local_path, login_page};
use crate::state::AppState;

/// A browser login.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Credentials {
    username: String,
    /// At most 256 bytes.
    password: String,
}

/// A login attempt's outcome.
pub(crate) struct LoggedIn {
    pub(crate) account: Account,
    /// A fresh device cookie for the browser (web flows).
    device_cookie: Option<HeaderValue>,
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

/// Checks the password through the login service and counts the outcome. `cookies` are given
/// by the browser flows, which use and renew device cookies.
pub(crate) async fn attempt(
    state: &AppState,
    username: &str,
    password: &SecretString,
    addr: ClientAddr,
    flow: Flow,
    cookies: Option<&RequestCookies>,
) -> Result<LoggedIn, LoginError> {
    let device = known_device(state, cookies, &lockout_name(username));
    let result = state
        .login()
        .with_password(PasswordAttempt {
            username,
            password,
            device: device.as_deref(),
            flow,
            ip: addr.0,
        })
        .await;
    let outcome = result.as_ref().map_or_else(LoginError::label, |_| "ok");
    metrics::counter!("kunci_logins_total", "flow" => flow.as_str(), "outcome" => outcome)
        .increment(1);
    let authenticated = result?;
    let device_cookie = cookies.and_then(|_| device_cookie(state, &authenticated.account.username));
    Ok(LoggedIn {
        account: authenticated.account,
        device_cookie,
    })
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
        .await?;
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
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "logged in; kunci_session, kunci_auth and kunci_csrf set"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 413, response = inline(crate::error::problems::TooLarge)),
        (status = 429, response = inline(crate::error::problems::Limited)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
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
        Flow::Web,
        Some(&cookies),
    )
    .await
    {
        Ok(logged_in) => logged_in,
        Err(err) => return ApiError::from(err).into_response(),
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
pub(crate) struct LoginFields {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: the HTML form (its CSRF token was checked by the session middleware).
#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler: one extractor per argument"
)]
pub(crate) async fn login_form(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    addr: ClientAddr,
    headers: HeaderMap,
    limited: Option<Extension<FormLimited>>,
    lang: PageLang,
    Form(form): Form<LoginFields>,
) -> Response {
    let next = if is_local_path(&form.next) {
        form.next.as_str()
    } else {
        "/"
    };
    // Every refusal comes back as the form with a message, under the status and
    // `Retry-After` the API would answer, with the name as typed (never the password).
    let refused = |problem: LoginProblem, refusal: ApiError| {
        let shown = LoginForm {
            next,
            username: form.username.trim(),
            expired: false,
            reset: false,
            problem: Some(problem),
        };
        let mut page = login_page(&state, &nonce, &auth, &lang, shown);
        *page.status_mut() = refusal.status();
        if let Some(secs) = refusal.retry_after() {
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        page
    };
    if let Some(Extension(FormLimited { retry_after })) = limited {
        return refused(LoginProblem::TooMany, ApiError::RateLimited { retry_after });
    }
    let password = SecretString::new(form.password.clone());
    let cookies = RequestCookies::from_headers(&headers, &state.settings().cookies);
    let logged_in = match attempt(
        &state,
        &form.username,
        &password,
        addr,
        Flow::Form,
        Some(&cookies),
    )
    .await
    {
        Ok(logged_in) => logged_in,
        Err(err) => {
            let problem = match &err {
                LoginError::InvalidCredentials => LoginProblem::InvalidCredentials,
                LoginError::PasswordTooLong => LoginProblem::PasswordTooLong,
                LoginError::Locked { .. } => LoginProblem::Locked,
                LoginError::Busy => LoginProblem::Busy,
                LoginError::Unavailable | LoginError::Failed => LoginProblem::Unavailable,
            };
            return refused(problem, ApiError::from(err));
        }
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
    Ok(state.sessions().destroy(&auth.session_id).await?)
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
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    who: Principal,
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
                .map_err(ApiError::from)
        }
        (Via::Cookie, Some(Extension(auth))) => end_session(&state, &auth).await,
        (Via::Cookie, None) => Err(ApiError::Unauthenticated),
        // A service client has no login to end.
        (Via::Signature { .. }, _) => Err(ApiError::InsufficientScope),
    };
    match ended {
        Ok(()) => with_cookies(Json(json!({ "ok": true })).into_response(), cleared(&state)),
        Err(err) => err.into_response(),
    }
}

/// `POST /logout`: the form version; back to the home page (a new anonymous session).
pub(crate) async fn logout_form(State(state): State<AppState>, auth: AuthContext) -> Response {
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
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn logout_all(State(state): State<AppState>, who: Principal) -> Response {
    let sub = match (&who.via, who.account()) {
        (Via::Signature { .. }, _) => return ApiError::InsufficientScope.into_response(),
        (_, Some(sub)) => sub,
        (_, None) => return ApiError::Unauthenticated.into_response(),
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
        (status = 401, response = inline(crate::error::problems::Unauthenticated))
    ),
    security(("cookie" = []), ("bearer" = []), ("signature" = []))
)]
pub(crate) async fn me(who: Principal) -> Response {
    let Some(sub) = who.sub.as_deref() else {
        return ApiError::Unauthenticated.into_response();
    };
    Json(json!({
        "sub": sub,
        "username": who.username,
        "scopes": who.scopes,
        "auth": who.via.as_str(),
    }))
    .into_response()
}
