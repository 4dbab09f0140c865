//! `/admin/clients` (scope admin): the service clients that sign their requests (SPEC §6) —
//! add one (its secret is shown on the answer to the addition, once, and never again), see each
//! with its scopes and state, revoke one after a confirmation. The same service as
//! `kunci client add|revoke`, so each change is audited as the command's.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kunci_domain::clients::{ClientError, StoredClient, is_client_name};
use kunci_domain::session::Scope;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::{Frame, pick};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// The notices after a change (`?notice=…`), as catalog messages `clients-notice-<code>`.
pub(crate) const NOTICES: [&str; 2] = ["revoked", "not_active"];

/// What the add form may say is wrong, as catalog messages `clients-error-<code>`.
#[cfg(test)]
pub(crate) const PROBLEMS: [&str; 2] = ["name", "exists"];

#[derive(Serialize)]
struct Row {
    name: String,
    admin: bool,
    created_at: i64,
    revoked_at: Option<i64>,
}

#[derive(Serialize, Default)]
struct AddValues {
    name: String,
    admin: bool,
    /// `clients-error-<code>` of a refused addition.
    problem: Option<String>,
}

/// A client just added: its name and the secret, shown this once.
#[derive(Serialize)]
struct Added<'a> {
    name: &'a str,
    secret: &'a str,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    rows: Vec<Row>,
    add: AddValues,
    added: Option<Added<'a>>,
    /// The client the revoke confirmation is about.
    revoke: Option<Row>,
}

fn row(client: &StoredClient) -> Row {
    Row {
        name: client.name.clone(),
        admin: client.scopes.contains(&Scope::Admin),
        created_at: client.created_at,
        revoked_at: client.revoked_at,
    }
}

/// Active clients first, then by name.
async fn rows(state: &AppState) -> Result<Vec<Row>, ApiError> {
    let mut clients = state.clients().list().await?;
    clients
        .sort_by(|a, b| (a.revoked_at.is_some(), &a.name).cmp(&(b.revoked_at.is_some(), &b.name)));
    Ok(clients.iter().map(row).collect())
}

/// `GET /admin/clients`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    Ok(state.templates().render(
        "clients.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: pick(&query, "notice", &NOTICES, "clients-notice-"),
            rows: rows(&state).await?,
            add: AddValues::default(),
            added: None,
            revoke: None,
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    name: String,
    #[serde(default)]
    admin: Option<String>,
}

/// `POST /admin/clients`, as `kunci client add NAME [--scope admin]`. The answer is the page
/// with the secret in it — not a redirect, so the secret is in no address and no history —
/// and it is never stored by a cache.
pub(crate) async fn add(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    who: Principal,
    lang: PageLang,
    Form(form): Form<AddForm>,
) -> Result<Response, ApiError> {
    let admin = form.admin.as_deref() == Some("yes");
    let name = form.name.trim().to_owned();
    let scope = if admin { Scope::Admin } else { Scope::User };
    let (secret, problem) = if is_client_name(&name) {
        match state.clients().add(&who.actor(), &name, scope).await {
            Ok(secret) => (Some(secret), None),
            Err(ClientError::Exists(_)) => (None, Some("exists")),
            Err(ClientError::BadName(_)) => (None, Some("name")),
            Err(err) => return Err(err.into()),
        }
    } else {
        (None, Some("name"))
    };
    let add = AddValues {
        name: if secret.is_some() {
            String::new()
        } else {
            name.chars().take(64).collect()
        },
        admin: admin && secret.is_none(),
        problem: problem.map(|p| format!("clients-error-{p}")),
    };
    let mut response = state.templates().render(
        "clients.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: None,
            rows: rows(&state).await?,
            add,
            added: secret.as_ref().map(|s| Added {
                name: &name,
                secret: s.expose(),
            }),
            revoke: None,
        },
    );
    *response.status_mut() = match problem {
        None => StatusCode::OK,
        Some("exists") => StatusCode::CONFLICT,
        Some(_) => StatusCode::BAD_REQUEST,
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The active client `name` names.
async fn active(state: &AppState, name: &str) -> Result<Option<StoredClient>, ApiError> {
    if !is_client_name(name) {
        return Err(ApiError::NotFound);
    }
    let clients = state.clients().list().await?;
    let Some(client) = clients.into_iter().find(|c| c.name == name) else {
        return Err(ApiError::NotFound);
    };
    Ok(client.revoked_at.is_none().then_some(client))
}

/// `GET /admin/clients/{name}/revoke`: what revoking does, and the button.
pub(crate) async fn confirm_revoke(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let Some(client) = active(&state, &name).await? else {
        return Ok(see_other("/admin/clients?notice=not_active"));
    };
    Ok(state.templates().render(
        "clients.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: None,
            rows: Vec::new(),
            add: AddValues::default(),
            added: None,
            revoke: Some(row(&client)),
        },
    ))
}

/// `POST /admin/clients/{name}/revoke` with `confirm=yes`, as `kunci client revoke NAME`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Form(form): Form<crate::console::Confirmation>,
) -> Result<Response, ApiError> {
    if active(&state, &name).await?.is_none() {
        return Ok(see_other("/admin/clients?notice=not_active"));
    }
    if !form.given() {
        return Ok(see_other(&format!("/admin/clients/{name}/revoke")));
    }
    match state.clients().revoke(&who.actor(), &name).await {
        Ok(()) => Ok(see_other("/admin/clients?notice=revoked")),
        Err(ClientError::Unknown(_)) => Ok(see_other("/admin/clients?notice=not_active")),
        Err(err) => Err(err.into()),
    }
}
