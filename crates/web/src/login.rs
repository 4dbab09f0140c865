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
use kunci_domain::accounts::{Account, AccountError};
use kunci_domain::audit::Outcome;
use kunci_domain::session::{SessionId, USERNAME};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{AuthContext, issue, see_other};
use crate::cookies::{Name, RequestCookies};
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

/// Checks the password and records the attempt. An attempt that succeeded but cannot be
/// audited is refused.
async fn attempt(
    state: &AppState,
    username: &str,
    password: &SecretString,
    addr: ClientAddr,
    flow: &str,
) -> Result<Account, ApiError> {
    let accounts = state.accounts();
    match accounts.authenticate(username, password).await {
        Ok(account) => {
            if let Err(err) = accounts
                .audit_login(username, Outcome::Allowed, addr.0, flow)
                .await
            {
                tracing::error!(error = %err, "login refused: it cannot be audited");
                return Err(ApiError::StoreUnavailable);
            }
            Ok(account)
        }
        Err(AccountError::InvalidCredentials) => {
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
    let account = match attempt(&state, &credentials.username, &password, addr, "web").await {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    let cookies = RequestCookies::from_headers(&headers, &state.settings().cookies);
    match start_session(&state, &cookies, &account).await {
        Ok(set) => with_cookies(
            Json(json!({
                "sub": account.id,
                "username": account.username,
                "scopes": account.session_scopes(),
            }))
            .into_response(),
            set,
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
    let account = match attempt(&state, &form.username, &password, addr, "form").await {
        Ok(account) => account,
        Err(ApiError::InvalidCredentials) => {
            return failed(LoginError::InvalidCredentials, StatusCode::UNAUTHORIZED);
        }
        Err(ApiError::PasswordTooLong) => {
            return failed(LoginError::PasswordTooLong, StatusCode::BAD_REQUEST);
        }
        Err(err) => return err.into_response(),
    };
    let cookies = RequestCookies::from_headers(&headers, &state.settings().cookies);
    match start_session(&state, &cookies, &account).await {
        Ok(set) => with_cookies(see_other(next), set),
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

/// `POST /api/v1/auth/logout`: ends this session.
pub(crate) async fn logout(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthContext>,
) -> Response {
    match end_session(&state, &auth).await {
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

/// `POST /api/v1/auth/logout_all`: ends every session of the account, this one included.
pub(crate) async fn logout_all(
    State(state): State<AppState>,
    Extension(auth): Extension<AuthContext>,
) -> Response {
    let Some(sub) = auth.session.sub.as_deref() else {
        return ApiError::Unauthenticated.into_response();
    };
    match state.sessions().destroy_account(sub).await {
        Ok(ended) => with_cookies(
            Json(json!({ "ok": true, "sessions_ended": ended })).into_response(),
            cleared(&state),
        ),
        Err(err) => {
            tracing::error!(error = %err, "session store unavailable at logout_all");
            ApiError::StoreUnavailable.into_response()
        }
    }
}

/// `GET /api/v1/me`: who is logged in, and by which mechanism.
pub(crate) async fn me(Extension(auth): Extension<AuthContext>) -> Response {
    let session = &auth.session;
    let Some(sub) = session.sub.as_deref() else {
        return ApiError::Unauthenticated.into_response();
    };
    Json(json!({
        "sub": sub,
        "username": session.data.get(USERNAME),
        "scopes": session.scopes,
        "auth": "cookie",
    }))
    .into_response()
}
