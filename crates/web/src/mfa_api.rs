//! The account's own second factors as JSON (SPEC §12), for apps and scripts acting for the
//! account itself (cookie or bearer; a service client has no account): what it has, starting a
//! TOTP enrolment, and confirming it with a code. Secrets and recovery codes are in the answer
//! only, never cached.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kunci_domain::factors::FactorError;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The account of the caller, or the refusal a service client gets.
fn account(who: &Principal) -> Result<&str, ApiError> {
    match (&who.via, who.account()) {
        (crate::auth::Via::Signature { .. }, _) => Err(ApiError::InsufficientScope),
        (_, Some(sub)) => Ok(sub),
        (_, None) => Err(ApiError::Unauthenticated),
    }
}

/// The name an authenticator app shows for this deployment: its public host.
fn issuer(state: &AppState) -> String {
    let origin = &state.settings().public_origin;
    origin
        .split_once("://")
        .map_or(origin.as_str(), |(_, host)| host)
        .to_owned()
}

impl From<FactorError> for ApiError {
    fn from(err: FactorError) -> Self {
        match err {
            FactorError::Enrolled => Self::InvalidRequest(
                "the account has an authenticator app already: remove it first",
            ),
            FactorError::NothingToConfirm => Self::InvalidRequest(
                "no enrolment to confirm: start one with POST /api/v1/me/mfa/totp",
            ),
            FactorError::WrongCode => {
                Self::InvalidRequest("`code` is not the one the authenticator app shows now")
            }
            FactorError::Store(err) => err.into(),
            FactorError::Audit(err) => err.into(),
            err => Self::Internal(Box::new(err)),
        }
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/v1/me/mfa`
#[utoipa::path(
    get,
    path = "/api/v1/me/mfa",
    tag = "account",
    summary = "My second factors",
    responses(
        (status = 200, description = "`{\"totp\":bool,\"passkeys\":[],\"recovery_codes_left\":N}`"),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn mine(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    let factors = state.factors().of(account(&who)?).await?;
    Ok(Json(json!({
        "totp": factors.totp,
        "passkeys": [],
        "recovery_codes_left": factors.recovery_left,
    })))
}

/// `POST /api/v1/me/mfa/totp`: a new secret, pending until a code from it confirms it.
#[utoipa::path(
    post,
    path = "/api/v1/me/mfa/totp",
    tag = "account",
    summary = "Start enrolling an authenticator app",
    responses(
        (status = 200, description = "`{\"secret\":base32,\"otpauth_uri\":…}`, shown this once"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn begin_totp(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Response, ApiError> {
    let sub = account(&who)?;
    let enrolment = state.factors().begin_totp(sub).await?;
    let label = who.username.as_deref().unwrap_or(sub);
    let body = json!({
        "secret": enrolment.secret.to_base32().as_str(),
        "otpauth_uri": enrolment.secret.otpauth_uri(&issuer(&state), label).as_str(),
    });
    Ok(no_store(Json(body).into_response()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ConfirmBody {
    /// The 6-digit code the authenticator app shows.
    code: String,
}

/// `POST /api/v1/me/mfa/totp/confirm`: the enrolment counts; ten recovery codes, shown once.
#[utoipa::path(
    post,
    path = "/api/v1/me/mfa/totp/confirm",
    tag = "account",
    summary = "Confirm the authenticator app with a code",
    request_body = ConfirmBody,
    responses(
        (status = 200, description = "`{\"recovery_codes\":[…10]}`, shown this once"),
        (status = 400, response = inline(crate::error::problems::InvalidRequest)),
        (status = 401, response = inline(crate::error::problems::Unauthenticated)),
        (status = 403, response = inline(crate::error::problems::Forbidden)),
        (status = 503, response = inline(crate::error::problems::Unavailable))
    ),
    security(("cookie" = []), ("bearer" = []))
)]
pub(crate) async fn confirm_totp(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<ConfirmBody>,
) -> Result<Response, ApiError> {
    let sub = account(&who)?;
    let codes = state
        .factors()
        .confirm_totp(&who.actor(), sub, &body.code)
        .await?;
    let codes: Vec<&str> = codes.iter().map(|c| c.expose()).collect();
    Ok(no_store(
        Json(json!({ "recovery_codes": codes })).into_response(),
    ))
}
