//! Logging in from the site's own apps (SPEC §5): `POST /api/v1/auth/login_mobile` gives an
//! access token (a JWT signed by the ring's `jwt` key) and a refresh token bound to the app
//! instance's `client_id`; `POST /api/v1/auth/refresh` rotates the pair (reuse detection and
//! the grace window are the domain's `refresh.rs`). Token answers are never cached.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kunci_crypto::SecretString;
use kunci_crypto::jwt::{self, Claims};
use kunci_domain::login::Flow;
use kunci_domain::refresh::{MintError, Minter, Minting, Pair, RefreshError};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::login::attempt;
use crate::net::ClientAddr;
use crate::state::AppState;

/// An app login.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct MobileCredentials {
    username: String,
    password: String,
    /// The installation's id: 8 to 128 of letters, digits, `-`, `_`, `.`.
    client_id: String,
}

/// A refresh.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RefreshRequest {
    /// `krt_…`, used once.
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
            .active_by_id(minting.account_id)
            .await
            .map_err(|e| MintError::Failed(e.to_string()))?
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

/// `POST /api/v1/auth/login_mobile` `{"username","password","client_id"}`: an access token
/// (JWT) and a refresh token bound to the app instance `client_id`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login_mobile",
    tag = "auth",
    summary = "App login: an access JWT and a rotating refresh token",
    request_body(content = MobileCredentials, content_type = "application/json"),
    responses(
        (status = 200, description = "{access_token, token_type, expires_in, refresh_token}"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 413, response = inline(crate::error::problems::TooLarge)),
        (status = 429, response = inline(crate::error::problems::Limited)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    )
)]
pub(crate) async fn login_mobile(
    State(state): State<AppState>,
    addr: ClientAddr,
    body: Bytes,
) -> Response {
    let Ok(login) = serde_json::from_slice::<MobileCredentials>(&body) else {
        return ApiError::InvalidRequest(
            "expected {\"username\": …, \"password\": …, \"client_id\": …}",
        )
        .into_response();
    };
    if !kunci_domain::refresh::is_client_id(&login.client_id) {
        return ApiError::from(RefreshError::BadClientId).into_response();
    }
    let password = SecretString::new(login.password);
    let account = match attempt(&state, &login.username, &password, addr, Flow::Mobile, None).await
    {
        Ok(logged_in) => logged_in.account,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let opened = state
        .refresh()
        .open(&account.id, &login.client_id, &AccessTokens(&state))
        .await;
    match opened {
        Ok(pair) => token_response(&pair),
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// `POST /api/v1/auth/refresh` `{"refresh_token","client_id"}`: a new pair; the token used is
/// dead.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    summary = "A new token pair for a refresh token (the old one dies)",
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "{access_token, token_type, expires_in, refresh_token}"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    )
)]
pub(crate) async fn refresh(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<RefreshRequest>(&body) else {
        return ApiError::InvalidRequest("expected {\"refresh_token\": …, \"client_id\": …}")
            .into_response();
    };
    if !kunci_domain::refresh::is_client_id(&request.client_id) {
        return ApiError::from(RefreshError::BadClientId).into_response();
    }
    let token = SecretString::new(request.refresh_token);
    let refreshed = state
        .refresh()
        .refresh(&token, &request.client_id, &AccessTokens(&state))
        .await;
    match refreshed {
        Ok(pair) => token_response(&pair),
        Err(err) => ApiError::from(err).into_response(),
    }
}
