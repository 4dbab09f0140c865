//! `/reset?token=…`: where a one-time reset link lands (SPEC §11). A live link shows a form for
//! the new password (twice, at least `security.password_min_length` characters); setting it
//! uses the link up, ends every session and app login of the account (whoever had the old
//! password is signed out), and leads to the sign-in. A dead link — unknown, used, expired —
//! says so, and the same for each, so the page tells nothing about which.
//!
//! The token travels in the query string (the log records only paths) and then in the form's
//! body; a refused password does not use the link up.

use axum::Form;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kunci_crypto::SecretString;
use kunci_domain::reset::ResetError;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthContext, see_other};
use crate::console::Frame;
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::inventory;
use crate::state::AppState;

/// What the form may say is wrong, as catalog messages `reset-error-<code>`.
#[cfg(test)]
pub(crate) const PROBLEMS: [&str; 3] = ["short", "long", "mismatch"];

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    /// The link is live: the form, with the token to send back.
    token: Option<&'a str>,
    name: Option<String>,
    problem: Option<String>,
    min_length: usize,
}

#[derive(Deserialize, Default)]
pub(crate) struct ResetQuery {
    #[serde(default)]
    token: String,
}

fn render(
    state: &AppState,
    (nonce, auth, lang): (&CspNonce, &AuthContext, &PageLang),
    live: Option<(&str, String)>,
    problem: Option<&str>,
) -> Response {
    let dead = live.is_none();
    let (token, name) = live.map_or((None, None), |(t, n)| (Some(t), Some(n)));
    let mut response = state.templates().render(
        "reset.html",
        lang,
        &Page {
            frame: Frame::new(nonce, auth),
            token,
            name,
            problem: problem.map(|p| format!("reset-error-{p}")),
            min_length: state.settings().password_min_length,
        },
    );
    if dead {
        *response.status_mut() = StatusCode::NOT_FOUND;
    } else if problem.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `GET /reset?token=…`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(query): Query<ResetQuery>,
) -> Result<Response, ApiError> {
    let live = match state.resets().account_of(&query.token).await {
        Ok(account) => Some((query.token.as_str(), account.username)),
        Err(ResetError::Invalid) => None,
        Err(err) => return Err(err.into()),
    };
    Ok(render(&state, (&nonce, &auth, &lang), live, None))
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    token: String,
    new: String,
    confirm: String,
}

/// `POST /reset`: the new password.
pub(crate) async fn set(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Form(form): Form<ResetForm>,
) -> Result<Response, ApiError> {
    let frame = (&nonce, &auth, &lang);
    let account = match state.resets().account_of(&form.token).await {
        Ok(account) => account,
        Err(ResetError::Invalid) => return Ok(render(&state, frame, None, None)),
        Err(err) => return Err(err.into()),
    };
    let new = SecretString::new(form.new);
    let problem = if new.expose().chars().count() < state.settings().password_min_length {
        Some("short")
    } else if new.expose().len() > 256 {
        Some("long")
    } else if new.expose() != form.confirm {
        Some("mismatch")
    } else {
        None
    };
    if let Some(problem) = problem {
        let live = Some((form.token.as_str(), account.username));
        return Ok(render(&state, frame, live, Some(problem)));
    }
    match state.resets().redeem(&form.token, &new).await {
        Ok(account) => {
            inventory::end_everything(&state, &account.id).await?;
            Ok(see_other("/login?reset=1"))
        }
        Err(ResetError::Invalid) => Ok(render(&state, frame, None, None)),
        Err(err) => Err(err.into()),
    }
}
