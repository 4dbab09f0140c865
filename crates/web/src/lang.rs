//! The language of a page request ([`PageLang`]), `GET /lang/{code}` (the switcher every page
//! links to) and the layer that translates the titles of API problems. The choice itself is
//! made by [`crate::i18n::negotiate`].

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::cookies::{Name, RequestCookies};
use crate::error::{ApiError, ProblemCode, problem_message};
use crate::i18n::{Lang, PageLang, catalogs, negotiate};
use crate::pages::is_local_path;
use crate::state::AppState;

impl FromRequestParts<AppState> for PageLang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let settings = state.settings();
        let cookies = RequestCookies::from_headers(&parts.headers, &settings.cookies);
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let lang = negotiate(cookies.lang.as_deref(), accept, settings.default_language);
        let here = parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let admin = parts
            .extensions
            .get::<crate::principal::Principal>()
            .is_some_and(|who| who.has(kunci_domain::session::Scope::Admin));
        Ok(Self { lang, here, admin })
    }
}

#[derive(Deserialize)]
pub(crate) struct SwitchQuery {
    next: Option<String>,
}

/// `GET /lang/{code}?next=/path`: keeps the choice in the `kunci_lang` cookie and goes back to
/// `next` (a local path in ASCII, as links percent-encode it; anything else goes home). A plain link, so it works without
/// JavaScript; it changes nothing but the language, so it needs no CSRF token.
pub(crate) async fn switch(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<SwitchQuery>,
) -> Response {
    let Some(lang) = Lang::ALL.into_iter().find(|l| l.code() == code) else {
        return ApiError::NotFound.into_response();
    };
    let next = query
        .next
        .as_deref()
        .filter(|n| is_local_path(n) && n.is_ascii())
        .unwrap_or("/")
        .to_owned();
    let cookie = state.settings().cookies.set(Name::Lang, lang.code());
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie)],
        [(header::LOCATION, next)],
    )
        .into_response()
}

/// The largest problem body translated (they are a few hundred bytes; anything else passes).
const MAX_PROBLEM: usize = 16 * 1024;

/// Gives an API problem the title in the client's language (`Accept-Language`, else
/// `environment.default_language`); the `error` code and everything else stay as they are.
pub(crate) async fn localize_problems(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // Kept aside (a cheap copy) and read only when the answer is a problem: the pages and
    // calls that succeed pay nothing here.
    let accept = request.headers().get(header::ACCEPT_LANGUAGE).cloned();
    let response = next.run(request).await;
    let Some(ProblemCode(code)) = response.extensions().get::<ProblemCode>().copied() else {
        return response;
    };
    let accept = accept.as_ref().and_then(|v| v.to_str().ok());
    let lang = negotiate(None, accept, state.settings().default_language);
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    if lang == Lang::En {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PROBLEM).await else {
        return ApiError::Internal("a problem body could not be read".into()).into_response();
    };
    let translated = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|mut problem| {
            let title = catalogs().text(lang, &problem_message(code), None);
            *problem.get_mut("title")? = serde_json::Value::String(title);
            serde_json::to_vec(&problem).ok()
        });
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Body::from(translated.unwrap_or_else(|| bytes.to_vec())),
    )
}
