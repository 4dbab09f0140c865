//! `/admin/signing-keys` (scope admin): the signing keys of the ring (SPEC §3) — each with its
//! purpose, state, age and how many verifications it served — rotated per purpose, and a
//! `verify` key retired after a confirmation page that says what retiring ends. The same
//! service as `kunci keys rotate|retire`, so each change is audited as the command's, with the
//! administrator as the actor.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use kunci_crypto::keyring::{KeyPurpose, KeyState, Kid};
use kunci_domain::keys::{KeyError, StoredKey};
use serde::{Deserialize, Serialize};

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::{Frame, pick};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// The notices after a change (`?notice=…`), as catalog messages `signing-notice-<code>`.
pub(crate) const NOTICES: [&str; 4] = ["rotated_cookie", "rotated_jwt", "retired", "not_verify"];

#[derive(Serialize)]
struct Row {
    kid: String,
    purpose: &'static str,
    state: &'static str,
    created_at: i64,
    age_days: i64,
    activated_at: Option<i64>,
    verify_since: Option<i64>,
    retired_at: Option<i64>,
    verifications: i64,
}

fn row(key: &StoredKey, now: i64) -> Row {
    Row {
        kid: key.kid.to_string(),
        purpose: key.purpose.as_str(),
        state: key.state.as_str(),
        created_at: key.created_at,
        age_days: (now - key.created_at).max(0) / 86_400,
        activated_at: key.activated_at,
        verify_since: key.verify_since,
        retired_at: key.retired_at,
        verifications: key.verifications,
    }
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    rows: Vec<Row>,
    /// The key the confirmation is about, on the retire page.
    retire: Option<Row>,
}

/// The keys, active ones first, then verify, then retired, newest first within each.
fn ordered(state: &AppState) -> Vec<Row> {
    let now = state.clock().now_unix();
    let rank = |s: KeyState| match s {
        KeyState::Active => 0,
        KeyState::Verify => 1,
        KeyState::Retired => 2,
    };
    let mut keys: Vec<StoredKey> = state.keys().keys().as_ref().clone();
    keys.sort_by_key(|k| (rank(k.state), -k.created_at));
    keys.iter().map(|k| row(k, now)).collect()
}

/// `GET /admin/signing-keys`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    state.keys().reload().await.map_err(ApiError::from)?;
    Ok(state.templates().render(
        "signing_keys.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: pick(&query, "notice", &NOTICES, "signing-notice-"),
            rows: ordered(&state),
            retire: None,
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct RotateForm {
    purpose: String,
}

/// `POST /admin/signing-keys/rotate` (`purpose=cookie|jwt`), as `kunci keys rotate --purpose`.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    who: Principal,
    Form(form): Form<RotateForm>,
) -> Result<Response, ApiError> {
    let purpose: KeyPurpose = form
        .purpose
        .parse()
        .map_err(|_| ApiError::InvalidRequest("`purpose` is `cookie` or `jwt`"))?;
    state
        .keys()
        .rotate_as(&who.actor(), purpose)
        .await
        .map_err(ApiError::from)?;
    Ok(see_other(&format!(
        "/admin/signing-keys?notice=rotated_{}",
        purpose.as_str()
    )))
}

/// The key `kid` names, if it is one of the ring's.
fn find(state: &AppState, kid: &str) -> Option<StoredKey> {
    let kid = Kid::parse(kid)?;
    state.keys().keys().iter().find(|k| k.kid == kid).cloned()
}

/// `GET /admin/signing-keys/{kid}/retire`: what retiring this key ends, and the button.
pub(crate) async fn confirm_retire(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Path(kid): Path<String>,
) -> Result<Response, ApiError> {
    state.keys().reload().await.map_err(ApiError::from)?;
    let key = find(&state, &kid).ok_or(ApiError::NotFound)?;
    if key.state != KeyState::Verify {
        return Ok(see_other("/admin/signing-keys?notice=not_verify"));
    }
    Ok(state.templates().render(
        "signing_keys.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: None,
            rows: Vec::new(),
            retire: Some(row(&key, state.clock().now_unix())),
        },
    ))
}

/// `POST /admin/signing-keys/{kid}/retire` with `confirm=yes`, as `kunci keys retire KID`.
pub(crate) async fn retire(
    State(state): State<AppState>,
    who: Principal,
    Path(kid): Path<String>,
    Form(form): Form<crate::console::Confirmation>,
) -> Result<Response, ApiError> {
    let parsed = Kid::parse(&kid).ok_or(ApiError::NotFound)?;
    if !form.given() {
        return Ok(see_other(&format!("/admin/signing-keys/{parsed}/retire")));
    }
    match state.keys().retire_as(&who.actor(), &parsed).await {
        Ok(()) => Ok(see_other("/admin/signing-keys?notice=retired")),
        Err(KeyError::NotVerify(_)) => Ok(see_other("/admin/signing-keys?notice=not_verify")),
        Err(err) => Err(err.into()),
    }
}
