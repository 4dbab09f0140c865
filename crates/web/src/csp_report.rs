//! `POST /csp-report`: where browsers send Content-Security-Policy violations (the page policy
//! names it in `report-uri`). Reports are capped in size, rate limited per client, reduced to a
//! few bounded fields and logged; nothing is stored, nothing is echoed.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;

/// Larger reports are refused unread.
pub const LIMIT: usize = 8 * 1024;

/// A field of a report, bounded and without control characters.
fn field(report: &Value, name: &str) -> String {
    report
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

pub(crate) async fn csp_report(request: Request<Body>) -> Response {
    let Ok(bytes) = to_bytes(request.into_body(), LIMIT).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
        return ApiError::InvalidRequest("expected a CSP report (JSON)").into_response();
    };
    // `application/csp-report` wraps one report in "csp-report"; the Reporting API sends a list
    // of {"type": "csp-violation", "body": {…}}.
    let reports: Vec<&Value> = match &json {
        Value::Object(map) if map.contains_key("csp-report") => vec![&json["csp-report"]],
        Value::Array(items) => items.iter().take(10).map(|item| &item["body"]).collect(),
        _ => Vec::new(),
    };
    if reports.is_empty() {
        return ApiError::InvalidRequest("expected a CSP report (JSON)").into_response();
    }
    for report in reports {
        let directive = match field(report, "violated-directive") {
            d if d.is_empty() => field(report, "effectiveDirective"),
            d => d,
        };
        let blocked = match field(report, "blocked-uri") {
            b if b.is_empty() => field(report, "blockedURL"),
            b => b,
        };
        let document = match field(report, "document-uri") {
            d if d.is_empty() => field(report, "documentURL"),
            d => d,
        };
        tracing::warn!(
            target: "kunci::csp",
            %directive,
            %blocked,
            %document,
            "content security policy violation"
        );
    }
    StatusCode::NO_CONTENT.into_response()
}
