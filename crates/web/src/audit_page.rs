//! `/admin/audit` (scope admin): the audit log (SPEC §9) newest first, 50 to a page, filtered by
//! actor, action (or a prefix ending in `.`), outcome and a range of days (UTC); "verify the
//! chain" with its result; the filtered view exported as NDJSON or CSV (the command line's
//! export formats), streamed a thousand entries at a time.

use std::collections::HashSet;

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kunci_domain::audit::{
    AuditEntry, AuditError, AuditFilter, CSV_HEADER, ChainProblem, OUTCOMES, export_csv,
    export_json,
};
use serde::{Deserialize, Serialize};

use crate::auth::AuthContext;
use crate::console::Frame;
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// Entries on one page.
const PER_PAGE: u32 = 50;
/// Entries read from the store at a time by an export.
const EXPORT_BATCH: u32 = 1000;

/// `n` entries as a length.
fn len(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The filter as the form sends it (`GET`, so a filtered view is a link).
#[derive(Deserialize, Serialize, Default, Clone)]
pub(crate) struct FilterForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    /// The first day shown, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    from: String,
    /// The last day shown, included.
    #[serde(default)]
    until: String,
    #[serde(default, skip_serializing)]
    before: Option<i64>,
}

/// Which field of the form is wrong, as catalog messages `audit-error-<code>`.
#[cfg(test)]
pub(crate) const PROBLEMS: [&str; 4] = ["actor", "action", "outcome", "date"];

fn day(text: &str) -> Result<Option<i64>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
        .map_err(|_| "date")
}

impl FilterForm {
    /// The filter, or the field that is wrong.
    fn parse(&self) -> Result<AuditFilter, &'static str> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let actor = text(&self.actor);
        if actor
            .as_ref()
            .is_some_and(|a| a.len() > 256 || a.chars().any(char::is_control))
        {
            return Err("actor");
        }
        let action = text(&self.action);
        let action_ok = |a: &String| {
            let name = a.strip_suffix('.').unwrap_or(a);
            kunci_domain::audit::is_action_name(name)
                || (a.ends_with('.') && kunci_domain::audit::is_action_name(&format!("{name}.x")))
        };
        if action.as_ref().is_some_and(|a| !action_ok(a)) {
            return Err("action");
        }
        let outcome = text(&self.outcome);
        if outcome
            .as_ref()
            .is_some_and(|o| !OUTCOMES.contains(&o.as_str()))
        {
            return Err("outcome");
        }
        Ok(AuditFilter {
            actor,
            action,
            outcome,
            from: day(&self.from)?,
            until: day(&self.until)?.map(|t| t + 86_400),
        })
    }

    /// The filter as a query string, for the links of the page (next page, exports).
    fn query(&self) -> String {
        let mut query = String::new();
        for (name, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("until", &self.until),
        ] {
            if !value.trim().is_empty() {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str(name);
                query.push('=');
                query.push_str(&crate::console::url_encode(value.trim()));
            }
        }
        query
    }
}

#[derive(Serialize)]
struct Row {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    target: String,
    outcome: String,
    kid: Option<String>,
}

fn row(e: AuditEntry) -> Row {
    Row {
        seq: e.seq,
        at: e.record.at,
        actor: e.record.actor,
        action: e.record.action,
        target: e.record.target,
        outcome: e.record.outcome,
        kid: e.record.kid,
    }
}

/// The result of "verify the chain": a catalog message and its numbers.
#[derive(Serialize)]
struct Verified {
    intact: bool,
    message: &'static str,
    entries: u64,
    first: i64,
    second: i64,
    head_mac: String,
    unknown: usize,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    form: FilterForm,
    /// `audit-error-<code>` when a field of the filter is wrong.
    problem: Option<String>,
    rows: Vec<Row>,
    filtered: bool,
    /// The query of the filter, for links.
    query: String,
    /// The `before` of the next (older) page, when there is one.
    older: Option<i64>,
    /// Whether this is a later page (a link back to the newest entries).
    paged: bool,
    outcomes: [&'static str; 4],
    verified: Option<Verified>,
}

async fn render(
    state: &AppState,
    nonce: &CspNonce,
    auth: &AuthContext,
    lang: &PageLang,
    form: FilterForm,
    verified: Option<Verified>,
) -> Result<Response, ApiError> {
    let (filter, problem) = match form.parse() {
        Ok(filter) => (Some(filter), None),
        Err(field) => (None, Some(format!("audit-error-{field}"))),
    };
    let mut rows = Vec::new();
    let mut older = None;
    if let Some(filter) = &filter {
        let mut entries = state
            .audit()
            .newest(filter, form.before, PER_PAGE + 1)
            .await?;
        if entries.len() > len(PER_PAGE) {
            entries.truncate(len(PER_PAGE));
            older = entries.last().map(|e| e.seq);
        }
        rows = entries.into_iter().map(row).collect();
    }
    Ok(state.templates().render(
        "audit.html",
        lang,
        &Page {
            frame: Frame::new(nonce, auth),
            problem,
            rows,
            filtered: filter.is_some_and(|f| f != AuditFilter::default()),
            query: form.query(),
            older,
            paged: form.before.is_some(),
            outcomes: OUTCOMES,
            verified,
            form,
        },
    ))
}

/// `GET /admin/audit?actor=…&action=…&outcome=…&from=…&until=…&before=…`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(form): Query<FilterForm>,
) -> Result<Response, ApiError> {
    let refused = form.parse().is_err();
    let mut response = render(&state, &nonce, &auth, &lang, form, None).await?;
    if refused {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// `POST /admin/audit/verify`: walks the whole chain and shows the result on the page (a read,
/// not a change: nothing to redirect after; a `POST` so that no link or prefetch starts it).
pub(crate) async fn verify(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
) -> Result<Response, ApiError> {
    let verified = match state.audit().verify().await {
        Ok(report) => Verified {
            intact: true,
            message: "audit-verify-intact",
            entries: report.entries,
            first: report.head_seq,
            second: 0,
            head_mac: report.head_mac,
            unknown: state.audit().unresolved().await?.len(),
        },
        Err(AuditError::Broken(problem)) => broken(&problem),
        Err(err) => return Err(err.into()),
    };
    render(
        &state,
        &nonce,
        &auth,
        &lang,
        FilterForm::default(),
        Some(verified),
    )
    .await
}

/// A broken chain as a catalog message `audit-broken-<kind>` with the entries it names.
fn broken(problem: &ChainProblem) -> Verified {
    let (message, first, second) = match *problem {
        ChainProblem::Edited { seq } => ("audit-broken-edited", seq, 0),
        ChainProblem::IpEdited { seq } => ("audit-broken-ip_edited", seq, 0),
        ChainProblem::Missing { from, to } => ("audit-broken-missing", from, to),
        ChainProblem::OutOfPlace { seq, after } => {
            ("audit-broken-out_of_place", seq, after.unwrap_or(0))
        }
        ChainProblem::Truncated { last, head } => ("audit-broken-truncated", last, head),
        ChainProblem::BeyondHead { head } => ("audit-broken-beyond_head", head, 0),
        ChainProblem::HeadEdited => ("audit-broken-head_edited", 0, 0),
    };
    Verified {
        intact: false,
        message,
        entries: 0,
        first,
        second,
        head_mac: String::new(),
        unknown: 0,
    }
}

/// `GET /admin/audit/export.{ndjson|csv}?…`: the filtered view, newest first, as a download.
pub(crate) async fn export(
    State(state): State<AppState>,
    Path(format): Path<String>,
    Query(form): Query<FilterForm>,
) -> Result<Response, ApiError> {
    let csv = match format.as_str() {
        "export.ndjson" => false,
        "export.csv" => true,
        _ => return Err(ApiError::NotFound),
    };
    let filter = form
        .parse()
        .map_err(|_| ApiError::InvalidRequest("the filter is not one the audit page takes"))?;
    let unknown: HashSet<i64> = state.audit().unresolved().await?.into_iter().collect();
    let audit = state.audit().clone();
    let first = csv.then(|| Ok::<_, std::io::Error>(CSV_HEADER.to_owned()));
    let batches = futures_util::stream::unfold(Some(None), move |before| {
        let audit = audit.clone();
        let filter = filter.clone();
        let unknown = unknown.clone();
        async move {
            let before = before?;
            let batch = match audit.newest(&filter, before, EXPORT_BATCH).await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::error!(error = %err, "audit export cut short");
                    return Some((Err(std::io::Error::other("audit log unreadable")), None));
                }
            };
            let last = batch.last().map(|e| e.seq)?;
            let mut text = String::new();
            for e in &batch {
                if csv {
                    text.push_str(&export_csv(e, unknown.contains(&e.seq)));
                } else {
                    text.push_str(&export_json(e, unknown.contains(&e.seq)).to_string());
                    text.push('\n');
                }
            }
            let next = (batch.len() == len(EXPORT_BATCH)).then_some(Some(last));
            Some((Ok(text), next))
        }
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(
        futures_util::stream::iter(first),
        batches,
    ));
    let (media, name) = if csv {
        (
            "text/csv; charset=utf-8",
            "attachment; filename=\"audit.csv\"",
        )
    } else {
        (
            "application/x-ndjson",
            "attachment; filename=\"audit.ndjson\"",
        )
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(name));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(actor: &str, action: &str, outcome: &str, from: &str, until: &str) -> FilterForm {
        FilterForm {
            actor: actor.into(),
            action: action.into(),
            outcome: outcome.into(),
            from: from.into(),
            until: until.into(),
            before: None,
        }
    }

    #[test]
    fn the_form_becomes_a_filter_or_names_the_wrong_field() {
        let filter = form(
            " user:alice ",
            "account.",
            "denied",
            "2026-11-01",
            "2026-11-01",
        )
        .parse()
        .unwrap();
        assert_eq!(filter.actor.as_deref(), Some("user:alice"));
        assert_eq!(filter.action.as_deref(), Some("account."));
        assert_eq!(
            filter.until.unwrap() - filter.from.unwrap(),
            86_400,
            "the last day is in"
        );
        assert_eq!(
            form("", "", "", "", "").parse().unwrap(),
            AuditFilter::default()
        );
        assert_eq!(form("a\u{0}b", "", "", "", "").parse().err(), Some("actor"));
        assert_eq!(
            form("", "account", "", "", "").parse().err(),
            Some("action")
        );
        assert_eq!(form("", "x%.", "", "", "").parse().err(), Some("action"));
        assert_eq!(form("", "", "maybe", "", "").parse().err(), Some("outcome"));
        assert_eq!(
            form("", "", "", "2026-13-01", "").parse().err(),
            Some("date")
        );
        assert_eq!(
            form("", "", "", "", "yesterday").parse().err(),
            Some("date")
        );
    }

    #[test]
    fn links_keep_the_filter_encoded() {
        let query = form("user:a&b=c", "", "failed", "", "").query();
        assert_eq!(query, "actor=user%3Aa%26b%3Dc&outcome=failed");
    }
}
