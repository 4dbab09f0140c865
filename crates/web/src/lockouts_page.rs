//! `/admin/lockouts` (scope admin): every lock in force after failed sign-ins (SPEC §6) — on a
//! name (an account's, or one that is no account: someone is guessing) or on one browser's
//! device cookie — with when it ends, and a way to lift it, audited as `kunci user unlock`.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Extension, Query, State};
use axum::response::Response;
use kunci_domain::lockout::Locked;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::{Frame, pick};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// The most locks listed.
const LIMIT: u32 = 500;

/// The notices after a change, as catalog messages `lockouts-notice-<code>`.
pub(crate) const NOTICES: [&str; 2] = ["unlocked", "not_locked"];

#[derive(Serialize)]
struct Row {
    /// `name` or `device`.
    kind: &'static str,
    /// The name, or the device cookie's id (sent back to unlock it).
    subject: String,
    /// For a device, the start of its id: enough to tell two apart.
    shown: String,
    /// A name that is an account's.
    account: bool,
    until: i64,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    rows: Vec<Row>,
    limit: u32,
}

/// `GET /admin/lockouts`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let accounts: Vec<String> = state
        .accounts()
        .list()
        .await?
        .into_iter()
        .map(|a| a.username)
        .collect();
    let rows = state
        .lockout()
        .locks(LIMIT)
        .await?
        .into_iter()
        .map(|lock| match lock.what {
            Locked::Name(name) => Row {
                kind: "name",
                account: accounts.contains(&name),
                shown: name.chars().take(64).collect(),
                subject: name,
                until: lock.until,
            },
            Locked::Device(id) => Row {
                kind: "device",
                account: false,
                shown: id.chars().take(8).collect(),
                subject: id,
                until: lock.until,
            },
        })
        .collect();
    Ok(state.templates().render(
        "lockouts.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: pick(&query, "notice", &NOTICES, "lockouts-notice-"),
            rows,
            limit: LIMIT,
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct UnlockForm {
    kind: String,
    subject: String,
}

/// `POST /admin/lockouts/unlock` (`kind=name|device`, `subject`).
pub(crate) async fn unlock(
    State(state): State<AppState>,
    who: Principal,
    Form(form): Form<UnlockForm>,
) -> Result<Response, ApiError> {
    if form.subject.is_empty() || form.subject.len() > 256 {
        return Err(ApiError::InvalidRequest(
            "`subject` is a locked name or device",
        ));
    }
    let lockout = state.lockout();
    let unlocked = match form.kind.as_str() {
        "name" => lockout.unlock(&who.actor(), &form.subject).await?,
        "device" => lockout.unlock_device(&who.actor(), &form.subject).await?,
        _ => return Err(ApiError::InvalidRequest("`kind` is `name` or `device`")),
    };
    Ok(see_other(if unlocked {
        "/admin/lockouts?notice=unlocked"
    } else {
        "/admin/lockouts?notice=not_locked"
    }))
}
