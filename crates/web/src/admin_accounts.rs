//! `/admin/accounts` (scope admin): the accounts — search, pages of 50, add one, disable or
//! enable it, lift a lockout. The same services as `kunci user …`, so each change is audited
//! exactly as the command's. Changes end in a redirect with a notice; a refused addition shows
//! the form again with the name as typed (never the password) and the field that is wrong.

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kunci_crypto::SecretString;
use kunci_domain::accounts::{Account, AccountError};
use kunci_domain::session::Scope;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::Frame;
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// Accounts on one page of the list.
const PER_PAGE: usize = 50;

/// The notices after a change (`?notice=…`), as catalog messages `accounts-notice-<code>`.
pub(crate) const NOTICES: [&str; 6] = [
    "added",
    "disabled",
    "enabled",
    "unlocked",
    "not_locked",
    "not_yourself",
];

/// What the add form may say is wrong, as catalog messages `accounts-error-<code>`.
#[cfg(test)]
pub(crate) const PROBLEMS: [&str; 4] = ["name", "exists", "short", "long"];

#[derive(Serialize)]
struct Row {
    name: String,
    admin: bool,
    disabled: bool,
    locked_until: Option<i64>,
    created_at: i64,
}

#[derive(Serialize, Default)]
struct AddValues {
    name: String,
    admin: bool,
    /// `accounts-error-<code>` of the refused field.
    problem: Option<String>,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    query: String,
    rows: Vec<Row>,
    total: usize,
    page: usize,
    pages: usize,
    min_length: usize,
    add: AddValues,
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    notice: Option<String>,
}

/// The list as the query asks for it, rendered with `add` in the form.
async fn render(
    state: &AppState,
    nonce: &CspNonce,
    auth: &AuthContext,
    lang: &PageLang,
    query: &ListQuery,
    add: AddValues,
) -> Result<Response, ApiError> {
    let search = query.q.trim().to_lowercase();
    let all: Vec<Account> = state
        .accounts()
        .list()
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .filter(|a| search.is_empty() || a.username.contains(&search))
        .collect();
    let pages = all.len().div_ceil(PER_PAGE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let mut rows = Vec::new();
    for account in all.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE) {
        rows.push(Row {
            name: account.username.clone(),
            admin: account.scopes.contains(&Scope::Admin),
            disabled: account.disabled,
            locked_until: state
                .lockout()
                .locked_until(&account.username)
                .await
                .map_err(ApiError::from)?,
            created_at: account.created_at,
        });
    }
    let notice = query
        .notice
        .as_deref()
        .filter(|n| NOTICES.contains(n))
        .map(|n| format!("accounts-notice-{n}"));
    Ok(state.templates().render(
        "accounts.html",
        lang,
        &Page {
            frame: Frame::new(nonce, auth),
            notice,
            query: query.q.chars().take(64).collect(),
            rows,
            total: all.len(),
            page,
            pages,
            min_length: state.settings().password_min_length,
            add,
        },
    ))
}

/// `GET /admin/accounts?q=…&page=…`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    render(&state, &nonce, &auth, &lang, &query, AddValues::default()).await
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    name: String,
    password: String,
    #[serde(default)]
    admin: Option<String>,
}

/// `POST /admin/accounts`: a new account (`account.created`, as `kunci user add`).
pub(crate) async fn add(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    who: Principal,
    lang: PageLang,
    Form(form): Form<AddForm>,
) -> Result<Response, ApiError> {
    let admin = form.admin.as_deref() == Some("yes");
    let password = SecretString::new(form.password);
    let problem = if password.expose().chars().count() < state.settings().password_min_length {
        Some("short")
    } else {
        match state
            .accounts()
            .add(&who.actor(), &form.name, &password, admin)
            .await
        {
            Ok(_) => return Ok(see_other("/admin/accounts?notice=added")),
            Err(AccountError::BadName(_)) => Some("name"),
            Err(AccountError::Exists(_)) => Some("exists"),
            Err(AccountError::PasswordTooLong | AccountError::BadPassword) => Some("long"),
            Err(err) => return Err(err.into()),
        }
    };
    let add = AddValues {
        name: form.name.chars().take(128).collect(),
        admin,
        problem: problem.map(|p| format!("accounts-error-{p}")),
    };
    let status = if problem == Some("exists") {
        StatusCode::CONFLICT
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = render(&state, &nonce, &auth, &lang, &ListQuery::default(), add).await?;
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct DisabledForm {
    disabled: String,
}

/// `POST /admin/accounts/{name}/disabled` (`disabled=yes|no`), as `kunci user disable|enable`.
pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Form(form): Form<DisabledForm>,
) -> Result<Response, ApiError> {
    let disabled = match form.disabled.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(ApiError::InvalidRequest("disabled is yes or no")),
    };
    // An administrator who disables their own account locks themselves out of this page.
    let own = who
        .username
        .as_deref()
        .is_some_and(|me| me.eq_ignore_ascii_case(name.trim()));
    if disabled && own {
        return Ok(see_other("/admin/accounts?notice=not_yourself"));
    }
    match state
        .accounts()
        .set_disabled(&who.actor(), &name, disabled)
        .await
    {
        Ok(()) if disabled => Ok(see_other("/admin/accounts?notice=disabled")),
        Ok(()) => Ok(see_other("/admin/accounts?notice=enabled")),
        Err(AccountError::Unknown(_) | AccountError::BadName(_)) => Err(ApiError::NotFound),
        Err(err) => Err(err.into()),
    }
}

/// `POST /admin/accounts/{name}/unlock`, as `kunci user unlock`.
pub(crate) async fn unlock(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let unlocked = state
        .lockout()
        .unlock(&who.actor(), &name)
        .await
        .map_err(ApiError::from)?;
    Ok(see_other(if unlocked {
        "/admin/accounts?notice=unlocked"
    } else {
        "/admin/accounts?notice=not_locked"
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_hold_fifty_and_never_zero() {
        assert_eq!(0_usize.div_ceil(super::PER_PAGE).max(1), 1);
        assert_eq!(51_usize.div_ceil(super::PER_PAGE).max(1), 2);
    }
}
