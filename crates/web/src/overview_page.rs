//! `GET /admin` (scope admin): the console's first page — whether each dependency answers, the
//! counts an operator looks at first (accounts, locks, API keys by state, clients, signing
//! keys), and the last 24 hours by hour: sign-ins from the audit log, requests and upstream
//! answers from the hourly counts every instance writes (so every instance shows the same
//! figures).

use std::collections::BTreeMap;

use axum::extract::{Extension, State};
use axum::response::Response;
use futures_util::future::join_all;
use kunci_crypto::keyring::KeyState;
use kunci_domain::apikeys::KeyStatus;
use kunci_domain::audit::{AuditFilter, Outcome};
use kunci_domain::session::Scope;
use serde::Serialize;

use crate::auth::AuthContext;
use crate::chart::{Chart, Series};
use crate::console::Frame;
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// The hours of the sign-in chart.
const HOURS: i64 = 24;
/// The most sign-in entries read for the chart; beyond, the chart says it is cut.
const MAX_LOGINS: usize = 100_000;

#[derive(Serialize)]
struct Check {
    name: &'static str,
    up: bool,
    required: bool,
}

#[derive(Serialize, Default)]
struct Counts {
    accounts: usize,
    admins: usize,
    disabled: usize,
    locked: usize,
    clients: usize,
    /// API keys by state, the states that have keys.
    keys: Vec<(&'static str, usize)>,
    keys_total: usize,
    signing_verify: usize,
}

/// A posture finding in the page's language.
#[derive(Serialize)]
struct Posture {
    /// `pass`, `warn` or `fail`.
    level: &'static str,
    text: String,
}

/// The posture checks, failures first, in `lang`.
async fn posture(state: &AppState, lang: crate::i18n::Lang) -> Vec<Posture> {
    use kunci_domain::health::PostureLevel;
    let mut findings = state.posture().findings().await;
    findings.sort_by_key(|f| match f.level {
        PostureLevel::Fail => 0,
        PostureLevel::Warn => 1,
        PostureLevel::Pass => 2,
    });
    findings
        .into_iter()
        .map(|f| {
            let mut args = fluent_bundle::FluentArgs::new();
            for (name, value) in f.args {
                args.set(name, value);
            }
            Posture {
                level: match f.level {
                    PostureLevel::Pass => "pass",
                    PostureLevel::Warn => "warn",
                    PostureLevel::Fail => "fail",
                },
                text: crate::i18n::catalogs().text(
                    lang,
                    &format!("doctor-{}", f.code),
                    Some(&args),
                ),
            }
        })
        .collect()
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    checks: Vec<Check>,
    degraded: Vec<String>,
    counts: Counts,
    logins: Chart,
    /// The sign-in entries were more than the chart reads.
    logins_cut: bool,
    requests: Chart,
    upstream: Chart,
    /// Failures and warnings, failures first.
    posture: Vec<Posture>,
    /// The checks that pass.
    passed: Vec<Posture>,
}

async fn checks(state: &AppState) -> Vec<Check> {
    join_all(state.probes().iter().map(|probe| async move {
        let up = probe.check().await.is_ok();
        Check {
            name: probe.name(),
            up,
            required: probe.required(),
        }
    }))
    .await
}

async fn counts(state: &AppState) -> Result<Counts, ApiError> {
    let accounts = state.accounts().list().await?;
    let mut locked = 0;
    for account in &accounts {
        if state
            .lockout()
            .locked_until(&account.username)
            .await?
            .is_some()
        {
            locked += 1;
        }
    }
    let keys = state.pool().list(None).await?;
    let by_status = KeyStatus::ALL
        .iter()
        .map(|s| (s.as_str(), keys.iter().filter(|k| k.status == *s).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let clients = state.clients().list().await?;
    Ok(Counts {
        accounts: accounts.len(),
        admins: accounts
            .iter()
            .filter(|a| a.scopes.contains(&Scope::Admin))
            .count(),
        disabled: accounts.iter().filter(|a| a.disabled).count(),
        locked,
        clients: clients.iter().filter(|c| c.revoked_at.is_none()).count(),
        keys: by_status,
        keys_total: keys.len(),
        signing_verify: state
            .keys()
            .keys()
            .iter()
            .filter(|k| k.state == KeyState::Verify)
            .count(),
    })
}

/// Successful and refused sign-ins per hour over the last 24 hours (the current hour last).
async fn logins(state: &AppState) -> Result<(Chart, bool), ApiError> {
    let (labels, start) = hours(state.clock().now_unix());
    let hours = usize::try_from(HOURS).unwrap_or(0);
    let filter = AuditFilter {
        action: Some("account.login".into()),
        from: Some(start),
        ..AuditFilter::default()
    };
    let mut ok = vec![0_u64; hours];
    let mut refused = vec![0_u64; hours];
    let mut before = None;
    let mut read = 0;
    loop {
        let page = state.audit().newest(&filter, before, 1000).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        read += page.len();
        for entry in &page {
            let hour = usize::try_from((entry.record.at - start) / 3600).unwrap_or(0);
            let Some(slot) = (if entry.record.outcome == Outcome::Allowed.as_str() {
                ok.get_mut(hour)
            } else {
                refused.get_mut(hour)
            }) else {
                continue;
            };
            *slot += 1;
        }
        if read >= MAX_LOGINS || page.len() < 1000 {
            break;
        }
    }
    let chart = Chart::stacked(
        &labels,
        &[
            Series {
                label: "overview-logins-ok",
                values: ok,
            },
            Series {
                label: "overview-logins-refused",
                values: refused,
            },
        ],
        6,
    );
    Ok((chart, read >= MAX_LOGINS))
}

/// The hour labels of the last 24 hours (UTC), the current hour last, and the first hour.
fn hours(now: i64) -> (Vec<String>, i64) {
    let this_hour = now - now.rem_euclid(3600);
    let start = this_hour - 3600 * (HOURS - 1);
    let labels = (0..HOURS)
        .map(|h| format!("{:02}:00", (start + 3600 * h).rem_euclid(86_400) / 3600))
        .collect();
    (labels, start)
}

/// Requests and upstream answers per hour, from every instance's counts.
async fn activity(state: &AppState) -> (Chart, Chart) {
    let (labels, start) = hours(state.clock().now_unix());
    let first = start.div_euclid(3600);
    let counts = match state.activity().since(first).await {
        Ok(counts) => counts,
        Err(err) => {
            tracing::error!(error = %err, "hourly counts unavailable for the overview");
            Vec::new()
        }
    };
    let series = |label: &'static str, name: &str| Series {
        label,
        values: (0..HOURS)
            .map(|h| {
                counts
                    .iter()
                    .filter(|c| c.name == name && c.bucket == first + h)
                    .map(|c| u64::try_from(c.count).unwrap_or(0))
                    .sum()
            })
            .collect(),
    };
    let requests = Chart::stacked(
        &labels,
        &[
            series("overview-requests-answered", "requests"),
            series("overview-requests-failed", "requests.failed"),
        ],
        6,
    );
    let upstream = Chart::stacked(
        &labels,
        &[
            series("overview-upstream-served", "upstream.served"),
            series("overview-upstream-limited", "upstream.limited"),
            series("overview-upstream-refused", "upstream.refused"),
        ],
        6,
    );
    (requests, upstream)
}

/// `GET /admin`
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
) -> Result<Response, ApiError> {
    let degraded: BTreeMap<String, serde_json::Value> =
        crate::health::degraded(&state).into_iter().collect();
    let (logins, logins_cut) = logins(&state).await?;
    let (requests, upstream) = activity(&state).await;
    let (passed, findings): (Vec<Posture>, Vec<Posture>) = posture(&state, lang.lang)
        .await
        .into_iter()
        .partition(|f| f.level == "pass");
    Ok(state.templates().render(
        "overview.html",
        &lang,
        &Page {
            frame: Frame::new(&nonce, &auth),
            checks: checks(&state).await,
            degraded: degraded.into_keys().collect(),
            counts: counts(&state).await?,
            logins,
            logins_cut,
            requests,
            upstream,
            posture: findings,
            passed,
        },
    ))
}
