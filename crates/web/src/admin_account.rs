//! `/admin/accounts/{name}` (scope admin): one account — its access and state, every browser
//! session and app login it has, ending one or all of them, and giving or taking the
//! administrator's access. The same services and audit entries as the admin JSON API
//! (`admin.session.revoked`, `admin.sessions.revoked`) and `kunci user scope`
//! (`account.scopes_changed`, which ends the account's sessions when access is taken away, so
//! no live session keeps the old scopes).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use kunci_domain::accounts::{Account, AccountError};
use kunci_domain::session::Scope;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::{Frame, pick};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::inventory;
use crate::state::AppState;

/// The notices after a change (`?notice=…`), as catalog messages `account-admin-notice-<code>`.
pub(crate) const NOTICES: [&str; 5] = [
    "ended",
    "all_ended",
    "made_admin",
    "made_user",
    "not_yourself",
];

#[derive(Serialize)]
struct Entry {
    id: String,
    kind: String,
    client_id: Option<String>,
    created: i64,
    last_seen: i64,
    expires: i64,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    name: &'a str,
    admin: bool,
    disabled: bool,
    locked_until: Option<i64>,
    created_at: i64,
    entries: Vec<Entry>,
    /// The page's own account: its access cannot be taken away here.
    yourself: bool,
    /// A reset link just made: shown on this answer only.
    reset_link: Option<String>,
}

/// The account `name` names, or 404.
async fn account(state: &AppState, name: &str) -> Result<Account, ApiError> {
    state
        .accounts()
        .by_name(name)
        .await?
        .ok_or(ApiError::NotFound)
}

fn entries(inventory: &Value) -> Vec<Entry> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    inventory["sessions"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| Entry {
                    id: text(&item["id"]).unwrap_or_default(),
                    kind: text(&item["kind"]).unwrap_or_default(),
                    client_id: text(&item["client_id"]),
                    created: item["created_at"].as_i64().unwrap_or(0),
                    last_seen: item["last_seen"].as_i64().unwrap_or(0),
                    expires: item["expires_at"].as_i64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_me(who: &Principal, account: &Account) -> bool {
    who.account() == Some(account.id.as_str())
}

/// `GET /admin/accounts/{name}`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    who: Principal,
    lang: PageLang,
    Path(name): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = account(&state, &name).await?;
    let notice = pick(&query, "notice", &NOTICES, "account-admin-notice-");
    render(&state, (&nonce, &auth, &who, &lang), &account, notice, None).await
}

/// `POST /admin/accounts/{name}/reset-link`: a one-time link that sets a new password within
/// the hour (the account's earlier link stops working). The answer shows it, once: it is in no
/// address, no later page and no cache.
pub(crate) async fn reset_link(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    who: Principal,
    lang: PageLang,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let account = account(&state, &name).await?;
    let token = state
        .resets()
        .issue(&who.actor(), &account.username)
        .await
        .map_err(ApiError::from)?;
    let link = format!(
        "{}/reset?token={}",
        state.settings().public_origin,
        token.expose()
    );
    let mut response = render(
        &state,
        (&nonce, &auth, &who, &lang),
        &account,
        None,
        Some(link),
    )
    .await?;
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

async fn render(
    state: &AppState,
    (nonce, auth, who, lang): (&CspNonce, &AuthContext, &Principal, &PageLang),
    account: &Account,
    notice: Option<String>,
    reset_link: Option<String>,
) -> Result<Response, ApiError> {
    let listed = inventory::inventory(state, &account.id, None).await?;
    Ok(state.templates().render(
        "admin_account.html",
        lang,
        &Page {
            frame: Frame::new(nonce, auth),
            notice,
            name: &account.username,
            admin: account.scopes.contains(&Scope::Admin),
            disabled: account.disabled,
            locked_until: state.lockout().locked_until(&account.username).await?,
            created_at: account.created_at,
            entries: entries(&listed),
            yourself: is_me(who, account),
            reset_link,
        },
    ))
}

fn back(account: &Account, notice: &str) -> Response {
    let name = crate::console::url_encode(&account.username);
    see_other(&format!("/admin/accounts/{name}?notice={notice}"))
}

/// `POST /admin/accounts/{name}/sessions/{id}/end`
pub(crate) async fn end_one(
    State(state): State<AppState>,
    who: Principal,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let account = account(&state, &name).await?;
    if inventory::end_as_admin(&state, &who, &account, &id).await? {
        Ok(back(&account, "ended"))
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /admin/accounts/{name}/sessions/end-all`
pub(crate) async fn end_all(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let account = account(&state, &name).await?;
    inventory::end_all_as_admin(&state, &who, &account).await?;
    Ok(back(&account, "all_ended"))
}

#[derive(Deserialize)]
pub(crate) struct AccessForm {
    admin: String,
}

/// `POST /admin/accounts/{name}/access` (`admin=yes|no`), as `kunci user scope --add|--remove
/// admin`: taking the access away ends the account's sessions and app logins.
pub(crate) async fn set_access(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Form(form): Form<AccessForm>,
) -> Result<Response, ApiError> {
    let admin = match form.admin.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(ApiError::InvalidRequest("admin is yes or no")),
    };
    let account = account(&state, &name).await?;
    if !admin && is_me(&who, &account) {
        return Ok(back(&account, "not_yourself"));
    }
    let account = match state
        .accounts()
        .set_admin(&who.actor(), &account.username, admin)
        .await
    {
        Ok(account) => account,
        Err(AccountError::Unknown(_)) => return Err(ApiError::NotFound),
        Err(err) => return Err(err.into()),
    };
    if admin {
        return Ok(back(&account, "made_admin"));
    }
    inventory::end_everything(&state, &account.id).await?;
    Ok(back(&account, "made_user"))
}
