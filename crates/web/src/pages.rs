//! Server-rendered pages: typed context structs into auto-escaped templates (minijinja escapes
//! every `.html` template). HTML is never assembled with `format!`.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::AuthContext;
use crate::error::ApiError;
use crate::headers::CspNonce;
use crate::i18n::PageLang;
use crate::state::AppState;

#[derive(Serialize)]
struct HomePage<'a> {
    csp_nonce: &'a str,
    who: &'a str,
    sub: &'a str,
    csrf_token: &'a str,
    scopes: Vec<&'static str>,
    /// When the session ends if idle (Unix seconds; the page shows it with `when`).
    expires_at: i64,
}

/// `GET /`: a minimal home page showing the session.
pub(crate) async fn home(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    page: PageLang,
) -> Response {
    let sub = auth.session.sub.as_deref().unwrap_or_default();
    state.templates().render(
        "home.html",
        &page,
        &HomePage {
            csp_nonce: &nonce.0,
            who: display_name(&auth),
            sub,
            csrf_token: &auth.csrf_token,
            scopes: auth.session.scopes.iter().map(|s| s.as_str()).collect(),
            expires_at: auth.session.expires_at,
        },
    )
}

#[derive(Serialize)]
struct PlainPage<'a> {
    csp_nonce: &'a str,
    who: &'a str,
}

/// `GET /settings` and `GET /settings/keys/{id}`: the API-key pages before they joined the
/// console, kept as permanent redirects so bookmarks still work (the query is kept).
pub(crate) async fn moved_to_console(uri: axum::http::Uri) -> Response {
    let path = uri.path().replacen("/settings", "/admin", 1);
    let path = if path == "/admin" {
        "/admin/keys".to_owned()
    } else {
        path
    };
    let location = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `GET /forbidden`: where scope failures and refused cookies land. Needs no session, so it
/// can never be part of a redirect loop.
pub(crate) async fn forbidden(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    page: PageLang,
) -> Response {
    let mut response = state.templates().render(
        "forbidden.html",
        &page,
        &PlainPage {
            csp_nonce: &nonce.0,
            who: "",
        },
    );
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    /// `1` when the middleware sent the browser here because its session ended.
    expired: Option<String>,
    /// `1` after a reset link set a new password.
    reset: Option<String>,
}

#[derive(Serialize)]
struct LoginPage<'a> {
    csp_nonce: &'a str,
    who: &'a str,
    csrf_token: &'a str,
    next: &'a str,
    /// What was typed, given back after a refusal (never the password).
    username: &'a str,
    expired: bool,
    /// A reset link just set the password: sign in with the new one.
    reset: bool,
    /// The catalog message of the refusal.
    error: Option<&'static str>,
}

/// Why a sign-in failed, as the form says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginProblem {
    InvalidCredentials,
    PasswordTooLong,
    Locked,
    /// Too many sign-ins from this address (the per-IP limit).
    TooMany,
    /// Attempts of this name are being checked at this moment.
    Busy,
    /// A store sign-in needs is down.
    Unavailable,
}

impl LoginProblem {
    #[cfg(test)]
    pub(crate) const ALL: [Self; 6] = [
        Self::InvalidCredentials,
        Self::PasswordTooLong,
        Self::Locked,
        Self::TooMany,
        Self::Busy,
        Self::Unavailable,
    ];

    /// The catalog message the form shows.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::InvalidCredentials => "login-invalid-credentials",
            Self::PasswordTooLong => "login-password-too-long",
            Self::Locked => "login-locked",
            Self::TooMany => "login-too-many",
            Self::Busy => "login-busy",
            Self::Unavailable => "login-unavailable",
        }
    }
}

/// What the sign-in form shows besides its fields.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LoginForm<'a> {
    pub(crate) next: &'a str,
    pub(crate) username: &'a str,
    pub(crate) expired: bool,
    pub(crate) reset: bool,
    pub(crate) problem: Option<LoginProblem>,
}

/// The sign-in page.
pub(crate) fn login_page(
    state: &AppState,
    nonce: &CspNonce,
    auth: &AuthContext,
    lang: &PageLang,
    form: LoginForm<'_>,
) -> Response {
    state.templates().render(
        "login.html",
        lang,
        &LoginPage {
            csp_nonce: &nonce.0,
            who: display_name(auth),
            csrf_token: &auth.csrf_token,
            next: form.next,
            username: form.username,
            expired: form.expired,
            reset: form.reset,
            error: form.problem.map(LoginProblem::message),
        },
    )
}

/// The account name of a logged-in session, for pages.
fn display_name(auth: &AuthContext) -> &str {
    auth.session
        .data
        .get(kunci_domain::session::USERNAME)
        .map_or("", String::as_str)
}

/// `GET /login`: the sign-in form. `next` is kept only if it is a local path.
pub(crate) async fn login(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    auth: AuthContext,
    lang: PageLang,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = query
        .next
        .as_deref()
        .filter(|n| is_local_path(n))
        .unwrap_or("/");
    let form = LoginForm {
        next,
        expired: query.expired.as_deref() == Some("1"),
        reset: query.reset.as_deref() == Some("1"),
        ..LoginForm::default()
    };
    login_page(&state, &nonce, &auth, &lang, form)
}

/// A path on this site: starts with one `/`, not `//` or `/\` (which browsers treat as another
/// host), no scheme, no control characters.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control())
        && path.len() <= 2048
}

/// `GET /favicon.ico`: browsers ask for it whatever the page says; the icon kunci ships.
pub(crate) async fn favicon(headers: HeaderMap) -> Response {
    asset(Path("favicon.svg".to_owned()), headers).await
}

/// `GET /static/…`: the files kunci ships. The bundled ones under their hashed names
/// (`kunci.<hash>.css`, what pages link to) may be kept a year: a new build has new names. The
/// plain names (for sites that link them themselves) carry an ETag so browsers revalidate.
pub(crate) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let immutable = |body: &'static str, content_type: &'static str| {
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            body,
        )
            .into_response()
    };
    use crate::assets as bundled;
    if name == bundled::CSS_NAME {
        return immutable(bundled::CSS, "text/css; charset=utf-8");
    }
    if name == bundled::JS_NAME {
        return immutable(bundled::JS, "text/javascript; charset=utf-8");
    }
    let (body, content_type): (&'static str, &'static str) = match name.as_str() {
        "favicon.svg" => (include_str!("../static/favicon.svg"), "image/svg+xml"),
        "kunci.js" => (
            include_str!("../static/kunci.js"),
            "text/javascript; charset=utf-8",
        ),
        "kunci.css" => (
            include_str!("../static/kunci.css"),
            "text/css; charset=utf-8",
        ),
        _ => return ApiError::NotFound.into_response(),
    };
    let etag = etag(body);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

fn etag(body: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_accepted_as_next() {
        for ok in ["/", "/reports?y=1", "/a/b#c"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\nx",
            "evil",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn every_template_compiles_and_escapes() {
        let templates = crate::render::Templates::new();
        for name in ["base.html", "home.html", "forbidden.html", "login.html"] {
            assert!(templates.env.get_template(name).is_ok(), "{name}");
        }
        let page = LoginPage {
            csp_nonce: "n",
            who: "",
            csrf_token: "t",
            next: "/\"><script>x</script>",
            username: "\"><script>y</script>",
            expired: false,
            reset: false,
            error: Some("<b>"),
        };
        let context = minijinja::context! {
            lang => "en", other_lang => "id", here => "/login", is_admin => false,
            asset_css => "kunci.css", asset_js => "kunci.js",
            ..minijinja::Value::from(minijinja::value::Serde(&page))
        };
        let html = templates
            .env
            .get_template("login.html")
            .unwrap()
            .render(context)
            .unwrap();
        assert!(!html.contains("<script>x</script>"), "{html}");
        assert!(
            !html.contains("<script>y</script>"),
            "the name typed is escaped too: {html}"
        );
        assert!(html.contains("&lt;script&gt;"));
    }
}
