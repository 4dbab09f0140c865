//! `POST /admin/keys/import` (scope admin): keys uploaded as a text file, one per line, added to
//! an upstream as `kunci apikey import` adds them (the same pool service, each key audited). The
//! answer is the report itself — how many were added, and each other line by number with why
//! it was skipped — never a key, which a line is.

use axum::extract::{Extension, Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kunci_domain::apikeys::{ImportError, ImportLine};
use serde::Serialize;

use crate::auth::{AuthContext, Principal};
use crate::console::Frame;
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

/// Why an upload was refused as a whole, as catalog messages `import-error-<code>`.
#[cfg(test)]
pub(crate) const PROBLEMS: [&str; 5] = ["upstream", "priority", "not_text", "empty", "too_long"];

#[derive(Serialize)]
struct Line {
    number: usize,
    /// `added`, `duplicate`, `invalid` or `failed`.
    result: &'static str,
    masked: Option<String>,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    frame: Frame<'a>,
    upstream: String,
    problem: Option<String>,
    added: usize,
    duplicates: usize,
    invalid: usize,
    failed: usize,
    lines: Vec<Line>,
}

/// The fields of the upload form.
#[derive(Default)]
struct Upload {
    upstream: String,
    priority: String,
    file: Option<Vec<u8>>,
}

async fn read(mut form: Multipart) -> Result<Upload, ApiError> {
    let refused = |_| ApiError::InvalidRequest("the upload is not a form this page sends");
    let mut upload = Upload::default();
    while let Some(field) = form.next_field().await.map_err(refused)? {
        match field.name() {
            Some("upstream") => upload.upstream = field.text().await.map_err(refused)?,
            Some("priority") => upload.priority = field.text().await.map_err(refused)?,
            Some("file") => upload.file = Some(field.bytes().await.map_err(refused)?.to_vec()),
            _ => {}
        }
    }
    Ok(upload)
}

/// `POST /admin/keys/import` (`multipart/form-data`: `upstream`, `priority`, `file`).
pub(crate) async fn import(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    who: Principal,
    lang: PageLang,
    form: Multipart,
) -> Result<Response, ApiError> {
    let upload = read(form).await?;
    let mut page = Page {
        frame: Frame::new(&nonce, &auth),
        upstream: upload.upstream.chars().take(64).collect(),
        problem: None,
        added: 0,
        duplicates: 0,
        invalid: 0,
        failed: 0,
        lines: Vec::new(),
    };
    let priority = upload.priority.trim();
    let priority = if priority.is_empty() {
        Some(0)
    } else {
        priority.parse::<i64>().ok()
    };
    let format = state.upstreams().key_format(&upload.upstream);
    let text = upload.file.map(String::from_utf8);
    let problem = match (format, priority, text) {
        (None, _, _) => Some("upstream"),
        (_, None, _) => Some("priority"),
        (_, _, None | Some(Err(_))) => Some("not_text"),
        (Some(format), Some(priority), Some(Ok(text))) => {
            match state
                .pool()
                .import(
                    &who.actor(),
                    &upload.upstream,
                    &text,
                    format.as_ref(),
                    priority,
                )
                .await
            {
                Ok(report) => {
                    page.added = report.added();
                    page.duplicates = report.duplicates();
                    page.invalid = report.invalid();
                    page.failed = report.failed();
                    page.lines = report.lines.into_iter().map(line).collect();
                    None
                }
                Err(ImportError::Empty) => Some("empty"),
                Err(ImportError::TooLong) => Some("too_long"),
            }
        }
    };
    page.problem = problem.map(|p| format!("import-error-{p}"));
    let mut response = state.templates().render("key_import.html", &lang, &page);
    if problem.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn line((number, result): (usize, ImportLine)) -> Line {
    let (result, masked) = match result {
        ImportLine::Added { masked, .. } => ("added", Some(masked)),
        ImportLine::Duplicate => ("duplicate", None),
        ImportLine::Invalid => ("invalid", None),
        ImportLine::Failed(why) => {
            tracing::error!(line = number, error = %why, "an imported key could not be added");
            ("failed", None)
        }
    };
    Line {
        number,
        result,
        masked,
    }
}
