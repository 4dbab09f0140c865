//! `GET|POST /admin/keys/{id}` (scope admin): one key of the pool — change its priority,
//! quota group and daily budget, or delete it after a confirmation that says what deleting
//! does. The same pool service as the list page and the JSON API; outcomes come back as fixed
//! notices after a redirect.

use std::collections::BTreeMap;

use axum::extract::{Extension, Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use kunci_domain::apikeys::KeyChange;
use serde::Serialize;

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::{Frame, pick};
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::keys_page::{Row, SettingsFields, outcome, row};
use crate::state::AppState;

/// The notices of this page (`?notice=…`), as catalog messages `notice-<code>`.
pub(crate) const NOTICES: [&str; 2] = ["bad_input", "confirm_delete"];

/// Key ids as the pool makes them (`key_` and hex): the only ids put into an address.
fn is_key_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .strip_prefix("key_")
            .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn to_key(id: &str, notice: &str) -> Response {
    see_other(&format!("/admin/keys/{id}?notice={notice}"))
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    key: Row<'a>,
    /// The key's use over 30 days.
    usage: crate::chart::Chart,
}

/// `GET /admin/keys/{id}`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let keys = match state.pool().list(None).await {
        Ok(keys) => keys,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let Some(key) = keys.iter().find(|k| k.id == id) else {
        return ApiError::NotFound.into_response();
    };
    let notice = pick(&query, "notice", &NOTICES, "notice-");
    state.templates().render(
        "key.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice,
            key: row(key, state.clock().now_unix()),
            usage: crate::usage_charts::of_key(
                key,
                &crate::usage_charts::recent(&state).await,
                lang.lang,
                state.clock().now_unix(),
            ),
        },
    )
}

/// `POST /admin/keys/{id}`: the three settings at once; an empty group or budget removes it.
pub(crate) async fn edit(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Form(form): Form<SettingsFields>,
) -> Response {
    if !is_key_id(&id) {
        return ApiError::NotFound.into_response();
    }
    let Some(settings) = form.parse() else {
        return to_key(&id, "bad_input");
    };
    let change = KeyChange {
        status: None,
        priority: Some(settings.priority),
        quota_group: Some(settings.quota_group),
        daily_budget: Some(settings.daily_budget),
    };
    match state.pool().change(&who.actor(), &id, &change).await {
        Err(kunci_domain::apikeys::PoolError::BadQuotaGroup) => to_key(&id, "bad_input"),
        result => outcome(result, "updated"),
    }
}

/// `POST /admin/keys/{id}/delete`: only with the confirmation ticked (`confirm=yes`).
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Form(form): Form<crate::console::Confirmation>,
) -> Response {
    if !form.given() {
        if !is_key_id(&id) {
            return ApiError::NotFound.into_response();
        }
        return to_key(&id, "confirm_delete");
    }
    outcome(state.pool().remove(&who.actor(), &id).await, "deleted")
}

#[cfg(test)]
mod tests {
    use super::is_key_id;

    #[test]
    fn only_pool_ids_go_into_an_address() {
        assert!(is_key_id("key_0a1b2c3d4e5f6a7b8c"));
        for bad in [
            "",
            "key_",
            "key_xyz",
            "key_12/../x",
            "KEY_12",
            "key_12\r\n",
            "key_12?x=1",
        ] {
            assert!(!is_key_id(bad), "{bad:?}");
        }
    }
}
