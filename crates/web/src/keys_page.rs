//! `GET /admin/keys` (scope admin): the API-key pool as a page (the key-pool page; its JSON twin
//! is `api_keys.rs`) — add a key, see every key masked
//! with its state, enable, disable, delete. Server-rendered and auto-escaped, under the page's
//! CSP nonce; every form carries the session's CSRF token (checked by the session middleware);
//! outcomes come back as a fixed notice after a redirect (post/redirect/get), so no text of the
//! request is ever echoed.

use std::collections::BTreeMap;

use axum::extract::{Extension, Form, Path, Query, State};
use axum::response::Response;
use kunci_crypto::SecretString;
use kunci_domain::apikeys::{ApiKey, KeyChange, KeyShape, KeyStatus, PoolError};
use kunci_domain::upstream::UpstreamError;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthContext, Principal, see_other};
use crate::console::Frame;
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// The notices a redirect may ask for (`?notice=added`), as catalog messages `notice-<code>`;
/// anything else shows nothing.
pub(crate) const NOTICES: [&str; 17] = [
    "added",
    "updated",
    "deleted",
    "duplicate",
    "bad_format",
    "bad_upstream",
    "bad_input",
    "unknown",
    "failed",
    "test_served",
    "test_invalid",
    "test_quota_exceeded",
    "test_cooling",
    "test_client_error",
    "test_unreachable",
    "test_untestable",
    "test_limited",
];

/// The catalog message of notice `code`, when it is one.
fn notice(code: &str) -> Option<String> {
    NOTICES.contains(&code).then(|| format!("notice-{code}"))
}

#[derive(Serialize)]
pub(crate) struct Row<'a> {
    id: &'a str,
    masked: &'a str,
    upstream: &'a str,
    status: &'a str,
    priority: i64,
    quota_group: Option<&'a str>,
    usage_count: i64,
    daily_budget: Option<i64>,
    used_today: i64,
    last_used: Option<i64>,
    back_at: Option<i64>,
    /// Minutes until `back_at`, rounded up.
    back_in: i64,
    last_error: Option<&'a str>,
    /// What the last error means, as catalog message `key-error-<kind>`.
    error_kind: Option<&'static str>,
}

/// The kinds of last error a key can show, by the upstream's status (a summary that starts
/// with no status is a failure to reach it).
#[cfg(test)]
pub(crate) const ERROR_KINDS: [&str; 6] = [
    "bad_request",
    "refused",
    "not_found",
    "too_many",
    "upstream_failed",
    "unreachable",
];

fn error_kind(summary: &str) -> &'static str {
    let status: Option<u16> = summary
        .split_whitespace()
        .next()
        .and_then(|word| word.parse().ok());
    match status {
        Some(401 | 403) => "refused",
        Some(404) => "not_found",
        Some(429) => "too_many",
        Some(408 | 500..=599) => "upstream_failed",
        Some(_) => "bad_request",
        None => "unreachable",
    }
}

/// The notices that say a change was made; every other one says why it was not.
const DONE: [&str; 4] = ["added", "updated", "deleted", "test_served"];

/// What a key of an upstream looks like, as a catalog message and its arguments.
#[derive(Serialize)]
struct Shape {
    message: &'static str,
    prefix: &'static str,
    rest: usize,
    total: usize,
    pattern: String,
}

fn shape(shape: KeyShape) -> Shape {
    let mut out = Shape {
        message: "key-format-printable",
        prefix: "",
        rest: 0,
        total: 0,
        pattern: String::new(),
    };
    match shape {
        KeyShape::Prefixed { prefix, total } => {
            out.message = "key-format-prefixed";
            out.prefix = prefix;
            out.total = total;
            out.rest = total.saturating_sub(prefix.len());
        }
        KeyShape::Pattern(pattern) => {
            out.message = "key-format-pattern";
            out.pattern = pattern;
        }
        KeyShape::Printable => {}
    }
    out
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    notice: Option<String>,
    /// The notice says why a change was not made (it is shown as an error).
    refused: bool,
    /// After a key of the wrong format: what a key of that upstream looks like.
    format: Option<Shape>,
    upstreams: Vec<String>,
    keys: Vec<Row<'a>>,
    top: Vec<TopRow>,
    /// Use over 30 days, per quota group.
    usage: Vec<crate::usage_charts::UsageChart>,
}

#[derive(Serialize)]
struct TopRow {
    name: String,
    upstream: String,
    calls: i64,
}

pub(crate) fn row<'a>(k: &'a ApiKey, now: i64) -> Row<'a> {
    let waiting = matches!(
        k.status,
        KeyStatus::Cooling | KeyStatus::QuotaExceeded | KeyStatus::Probing
    );
    Row {
        id: &k.id,
        masked: &k.masked,
        upstream: &k.upstream,
        status: k.status.as_str(),
        priority: k.priority,
        quota_group: k.quota_group.as_deref(),
        usage_count: k.usage_count,
        daily_budget: k.daily_budget,
        used_today: k.used_today,
        last_used: k.last_used,
        back_at: waiting
            .then_some(k.available_at.filter(|at| *at > now))
            .flatten(),
        back_in: k.available_at.map_or(0, |at| (at - now + 59) / 60),
        last_error: k.last_error.as_deref(),
        error_kind: k.last_error.as_deref().map(error_kind),
    }
}

/// `GET /admin/keys`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    page: PageLang,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let keys = match state.pool().list(None).await {
        Ok(keys) => keys,
        Err(err) => {
            tracing::error!(error = %err, "API-key store unavailable for the settings page");
            Vec::new()
        }
    };
    let top = match state.leaderboard().standings(10).await {
        Ok(standings) => standings
            .accounts
            .into_iter()
            .map(|top| TopRow {
                name: top.username.unwrap_or(top.line.account_id),
                upstream: top.line.upstream,
                calls: top.line.calls,
            })
            .collect(),
        Err(err) => {
            tracing::error!(error = %err, "usage store unavailable for the settings page");
            Vec::new()
        }
    };
    let now = state.clock().now_unix();
    state.templates().render(
        "keys.html",
        &page,
        &Page {
            frame: Frame::new(&nonce, &auth),
            notice: query.get("notice").and_then(|c| notice(c)),
            refused: query
                .get("notice")
                .is_some_and(|c| !DONE.contains(&c.as_str())),
            format: query
                .get("upstream")
                .filter(|_| query.get("notice").is_some_and(|n| n == "bad_format"))
                .and_then(|u| state.upstreams().key_format(u))
                .map(|f| shape(f.shape())),
            upstreams: state.upstreams().names(),
            keys: keys.iter().map(|k| row(k, now)).collect(),
            top,
            usage: crate::usage_charts::by_group(
                &keys,
                &crate::usage_charts::recent(&state).await,
                page.lang,
                now,
            ),
        },
    )
}

fn back(code: &str) -> Response {
    see_other(&format!("/admin/keys?notice={code}"))
}

/// The notice for a change's result. Failures are classified as the API classifies them
/// (`ApiError`, which also logs what must be logged), so the page and the API never disagree.
pub(crate) fn outcome<T>(result: Result<T, PoolError>, done: &str) -> Response {
    match result {
        Ok(_) => back(done),
        Err(err) => back(match ApiError::from(err) {
            ApiError::DuplicateApiKey => "duplicate",
            ApiError::InvalidApiKey(_) => "bad_format",
            ApiError::NotFound => "unknown",
            ApiError::InvalidRequest(_) => "bad_input",
            ApiError::Internal(cause) => {
                tracing::error!(error = %kunci_domain::error_chain(cause.as_ref()), "key change failed");
                "failed"
            }
            _ => "failed",
        }),
    }
}

/// The settings both key forms take, as typed.
#[derive(Deserialize)]
pub(crate) struct SettingsFields {
    #[serde(default)]
    priority: String,
    #[serde(default)]
    quota_group: String,
    #[serde(default)]
    daily_budget: String,
}

/// A key's settings, read: priority (empty: 0), quota group and daily budget (empty: none).
pub(crate) struct Settings {
    pub(crate) priority: i64,
    pub(crate) quota_group: Option<String>,
    pub(crate) daily_budget: Option<i64>,
}

impl SettingsFields {
    /// `None` when the priority is not a whole number or the budget not one of at least 1.
    pub(crate) fn parse(&self) -> Option<Settings> {
        let priority = match self.priority.trim() {
            "" => 0,
            p => p.parse::<i64>().ok()?,
        };
        let daily_budget = match self.daily_budget.trim() {
            "" => None,
            b => Some(b.parse::<i64>().ok().filter(|b| *b >= 1)?),
        };
        let group = self.quota_group.trim();
        Some(Settings {
            priority,
            quota_group: (!group.is_empty()).then(|| group.to_owned()),
            daily_budget,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    key: String,
    upstream: String,
    #[serde(flatten)]
    settings: SettingsFields,
}

/// `POST /admin/keys`
pub(crate) async fn add(
    State(state): State<AppState>,
    who: Principal,
    Form(form): Form<AddForm>,
) -> Response {
    let Some(format) = state.upstreams().key_format(&form.upstream) else {
        return back("bad_upstream");
    };
    let Some(Settings {
        priority,
        quota_group: group,
        daily_budget: budget,
    }) = form.settings.parse()
    else {
        return back("bad_input");
    };
    let key = SecretString::new(form.key);
    let actor = who.actor();
    let pool = state.pool();
    let mut result = pool
        .add(
            &actor,
            &form.upstream,
            &key,
            format.as_ref(),
            priority,
            group,
        )
        .await;
    if let Err(PoolError::BadFormat { .. }) = &result {
        return see_other(&format!(
            "/admin/keys?notice=bad_format&upstream={}",
            crate::console::url_encode(&form.upstream)
        ));
    }
    if let (Ok(added), Some(budget)) = (&result, budget) {
        let change = KeyChange {
            daily_budget: Some(Some(budget)),
            ..KeyChange::default()
        };
        result = pool.change(&actor, &added.id, &change).await;
    }
    outcome(result, "added")
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    status: String,
}

/// `POST /admin/keys/{id}/status`
pub(crate) async fn set_status(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Response {
    let status = match form.status.as_str() {
        "active" => KeyStatus::Active,
        "disabled" => KeyStatus::Disabled,
        _ => return back("bad_input"),
    };
    let change = KeyChange {
        status: Some(status),
        ..KeyChange::default()
    };
    outcome(
        state.pool().change(&who.actor(), &id, &change).await,
        "updated",
    )
}

/// `POST /admin/keys/{id}/test`: one real call with the key (rate limited, it spends quota).
pub(crate) async fn test(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Response {
    let actor = who.actor();
    if crate::api_keys::may_test(&state, actor.as_str())
        .await
        .is_err()
    {
        return back("test_limited");
    }
    match state.upstreams().test_key(&actor, &id).await {
        Ok(test) => back(&format!("test_{}", test.outcome)),
        Err(UpstreamError::UnknownKey | UpstreamError::Unknown) => back("unknown"),
        Err(UpstreamError::NotTestable) => back("test_untestable"),
        Err(err) => {
            tracing::error!(error = %err, "key test failed");
            back("failed")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_last_error_is_read_by_its_status() {
        assert_eq!(super::error_kind("403 quotaExceeded"), "refused");
        assert_eq!(super::error_kind("429"), "too_many");
        assert_eq!(super::error_kind("503 backendError"), "upstream_failed");
        assert_eq!(super::error_kind("400 badRequest"), "bad_request");
        assert_eq!(
            super::error_kind("the upstream could not be reached"),
            "unreachable"
        );
        assert_eq!(super::error_kind(""), "unreachable");
        for summary in ["400", "401", "404", "429", "500", "timeout"] {
            assert!(super::ERROR_KINDS.contains(&super::error_kind(summary)));
        }
    }
}
