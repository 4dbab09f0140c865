//! `/account`: a signed-in user's own page (SPEC §11) — the browser sessions and app logins of
//! the account with a way to end each, "this wasn't me" (end every other one), and a password
//! change that needs the current password and ends the other sessions. Changes go through the
//! same services and audit entries as the JSON API; each ends in a redirect with a notice
//! (post/redirect/get).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use kunci_crypto::SecretString;
use kunci_domain::accounts::AccountError;
use kunci_domain::audit::AuditEvent;
use kunci_domain::lockout::LockoutError;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::{Frame, pick};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::inventory;
use crate::state::AppState;

/// The notices a redirect back to the page may ask for (`?notice=…`), as catalog messages
/// `account-notice-<code>`.
pub(crate) const NOTICES: [&str; 4] = ["ended", "others_ended", "password_changed", "failed"];

/// What the password form says is wrong, as catalog messages `account-password-<code>`.
pub(crate) const PASSWORD_PROBLEMS: [&str; 5] = ["wrong", "short", "long", "mismatch", "locked"];

#[derive(Serialize)]
struct Row {
    id: String,
    kind: &'static str,
    client_id: Option<String>,
    created: i64,
    last_seen: i64,
    current: bool,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    /// `account-password-<code>` when the password form was refused.
    password_problem: Option<String>,
    min_length: usize,
    rows: Vec<Row>,
}

/// `GET /account`
pub(crate) async fn page(
    State(state): State<AppState>,
    axum::Extension(nonce): axum::Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let sub = auth.session.sub.clone().ok_or(ApiError::Unauthenticated)?;
    let current = format!("s_{}", auth.session.key);
    let listed = inventory::inventory(&state, &sub, Some(&current)).await?;
    let rows = listed["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| Row {
            id: entry["id"].as_str().unwrap_or_default().to_owned(),
            kind: if entry["kind"] == "app" {
                "app"
            } else {
                "browser"
            },
            client_id: entry["client_id"].as_str().map(str::to_owned),
            created: entry["created_at"].as_i64().unwrap_or_default(),
            last_seen: entry["last_seen"].as_i64().unwrap_or_default(),
            current: entry["current"] == true,
        })
        .collect();
    Ok(state.templates().render(
        "account.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: pick(&query, "notice", &NOTICES, "account-notice-"),
            password_problem: pick(&query, "password", &PASSWORD_PROBLEMS, "account-password-"),
            min_length: state.settings().password_min_length,
            rows,
        },
    ))
}

/// Back to the page with `query` (a fixed code, never text from the request).
fn back(query: &str) -> Response {
    see_other(&format!("/account?{query}"))
}

/// `POST /account/sessions/{id}/end`: ends one of the account's sessions or app logins.
pub(crate) async fn end_one(
    State(state): State<AppState>,
    auth: AuthContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sub = auth.session.sub.clone().ok_or(ApiError::Unauthenticated)?;
    if inventory::end(&state, &sub, &id).await? {
        Ok(back("notice=ended"))
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /account/sessions/end-others`: "this wasn't me" — every session but this one ends.
pub(crate) async fn end_others(
    State(state): State<AppState>,
    auth: AuthContext,
    who: Principal,
) -> Result<Response, ApiError> {
    let sub = auth.session.sub.clone().ok_or(ApiError::Unauthenticated)?;
    let event = AuditEvent::by(&who.actor(), "account.sessions_revoked", sub.clone());
    state.audit().record(event).await?;
    inventory::end_others(&state, &sub, &auth.session.key).await?;
    Ok(back("notice=others_ended"))
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /account/password`: the current password, then the new one twice. The change is
/// audited (`account.password_changed`) and ends every other session and app login.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    auth: AuthContext,
    who: Principal,
    Form(form): Form<PasswordForm>,
) -> Result<Response, ApiError> {
    let sub = auth.session.sub.clone().ok_or(ApiError::Unauthenticated)?;
    let account = state
        .accounts()
        .active_by_id(&sub)
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::Unauthenticated)?;
    let new = SecretString::new(form.new);
    if new.expose() != form.confirm {
        return Ok(back("password=mismatch"));
    }
    if new.expose().chars().count() < state.settings().password_min_length {
        return Ok(back("password=short"));
    }
    // The current password is guessed under the same lockout as a sign-in (SPEC §6): a
    // stolen session cannot try passwords here faster than at the login.
    let ticket = match state.lockout().check_in(&account.username, None).await {
        Ok(ticket) => ticket,
        Err(LockoutError::Locked { .. } | LockoutError::Busy) => {
            return Ok(back("password=locked"));
        }
        Err(err) => return Err(err.into()),
    };
    let current = SecretString::new(form.current);
    match state
        .accounts()
        .authenticate(&account.username, &current)
        .await
    {
        Ok(_) => state
            .lockout()
            .succeeded(ticket)
            .await
            .map_err(ApiError::from)?,
        Err(AccountError::InvalidCredentials | AccountError::PasswordTooLong) => {
            state
                .lockout()
                .failed(ticket)
                .await
                .map_err(ApiError::from)?;
            return Ok(back("password=wrong"));
        }
        Err(err) => return Err(err.into()),
    }
    match state
        .accounts()
        .set_password(&who.actor(), &account.username, &new)
        .await
    {
        Ok(()) => {}
        Err(AccountError::PasswordTooLong | AccountError::BadPassword) => {
            return Ok(back("password=long"));
        }
        Err(err) => return Err(err.into()),
    }
    inventory::end_others(&state, &sub, &auth.session.key).await?;
    Ok(back("notice=password_changed"))
}
