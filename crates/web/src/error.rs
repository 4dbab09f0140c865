//! The one place that chooses status codes: every error the API returns is an
//! `application/problem+json` body (RFC 9457) with a stable `error` code.
//!
//! Internal causes are logged here, once, with the request's span (and so its request id), and
//! never sent: the client sees the code, a fixed title and the request id to quote.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kunci_domain::accounts::AccountError;
use kunci_domain::apikeys::PoolError;
use kunci_domain::audit::AuditError;
use kunci_domain::clients::{ClientError, SignedRequestError};
use kunci_domain::error_chain;
use kunci_domain::keys::KeyError;
use kunci_domain::lockout::LockoutError;
use kunci_domain::login::LoginError;
use kunci_domain::refresh::RefreshError;
use kunci_domain::reset::ResetError;
use kunci_domain::store::StoreError;
use kunci_domain::upstream::UpstreamError;
use serde::Serialize;
use serde_json::{Map, Value};

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything an API handler can answer with instead of success.
#[derive(Debug)]
pub enum ApiError {
    NotFound,
    MethodNotAllowed,
    /// The instance cannot serve yet; `checks` says which dependency is down.
    NotReady {
        checks: Map<String, Value>,
    },
    /// No session (never had one, or cookies are refused).
    Unauthenticated,
    /// The session of a logged-in user ended (idle or absolute timeout, logout elsewhere).
    SessionExpired,
    /// The session lacks the scope the route needs.
    InsufficientScope,
    /// A shared store (sessions, nonces) cannot be reached: fail closed.
    StoreUnavailable,
    /// A signed service request whose signature does not verify (or names no active client).
    BadSignature,
    /// A signed service request outside the ±300 s window.
    StaleTimestamp,
    /// A signed service request whose nonce was used before.
    ReplayedNonce,
    /// The body is larger than the route accepts.
    PayloadTooLarge,
    /// The request target is longer than [`MAX_URI_BYTES`].
    UriTooLong,
    /// The headers together are larger than [`MAX_HEADER_BYTES`].
    HeadersTooLarge,
    /// A cookie-authenticated unsafe request without the session's CSRF token, or a
    /// cross-site request.
    CsrfFailed,
    /// Wrong name, wrong password, disabled account: one answer.
    InvalidCredentials,
    /// A password over 256 bytes, refused before hashing.
    PasswordTooLong,
    /// A body that is not what the route takes.
    InvalidRequest(&'static str),
    /// A bearer token past its `exp`: refresh and retry.
    TokenExpired,
    /// A bearer token that does not verify.
    InvalidToken,
    /// A refresh token that is unknown, expired, revoked or reused.
    InvalidGrant,
    /// Too many failed logins for this name (or device): try again after `retry_after` s.
    AccountLocked {
        retry_after: i64,
    },
    /// Too many requests from this client: try again after `retry_after` s.
    RateLimited {
        retry_after: i64,
    },
    /// No API key of the upstream is usable; one is expected back after `retry_after` s.
    NoApiKeyAvailable {
        retry_after: Option<i64>,
    },
    /// The upstream refused the request itself (a bad search engine id, a bad argument).
    UpstreamConfigError,
    /// The upstream throttles every key: try again after `retry_after` s.
    UpstreamThrottled {
        retry_after: i64,
    },
    /// The upstream could not be reached or kept failing.
    UpstreamUnavailable,
    /// The key is in the pool already.
    DuplicateApiKey,
    /// The key does not have the upstream's format.
    InvalidApiKey(String),
    /// Anything unexpected. The cause is logged, never sent.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// What an upstream call's failure answers; `now` turns the domain's times (Unix seconds)
    /// into the seconds a client waits.
    pub fn upstream(err: UpstreamError, now: i64) -> Self {
        let wait = |at: i64| (at - now).max(1);
        match err {
            UpstreamError::Unknown | UpstreamError::UnknownKey => Self::NotFound,
            UpstreamError::BadPath => {
                Self::InvalidRequest("the path may not leave the upstream's base")
            }
            UpstreamError::NotTestable => Self::InvalidRequest(
                "this upstream has no test request: set `test_path` in its configuration",
            ),
            UpstreamError::NoKey { retry_after } => Self::NoApiKeyAvailable {
                retry_after: retry_after.map(wait),
            },
            UpstreamError::Config(why) => {
                tracing::error!(%why, "the upstream refused the request: check its configuration");
                Self::UpstreamConfigError
            }
            UpstreamError::Throttled { retry_after } => Self::UpstreamThrottled {
                retry_after: wait(retry_after),
            },
            UpstreamError::Unavailable => Self::UpstreamUnavailable,
            UpstreamError::Store => Self::StoreUnavailable,
        }
    }

    /// The seconds a client is told to wait (`Retry-After`), where the answer says to come back.
    pub(crate) fn retry_after(&self) -> Option<i64> {
        match self {
            Self::AccountLocked { retry_after }
            | Self::RateLimited { retry_after }
            | Self::UpstreamThrottled { retry_after } => Some((*retry_after).max(1)),
            Self::NoApiKeyAvailable { retry_after } => Some(retry_after.unwrap_or(60).max(1)),
            _ => None,
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotReady { .. } | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthenticated
            | Self::SessionExpired
            | Self::BadSignature
            | Self::StaleTimestamp
            | Self::ReplayedNonce => StatusCode::UNAUTHORIZED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::NoApiKeyAvailable { .. } | Self::UpstreamThrottled { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::UpstreamConfigError | Self::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Self::DuplicateApiKey => StatusCode::CONFLICT,
            Self::InvalidApiKey(_) => StatusCode::BAD_REQUEST,
            Self::AccountLocked { .. } | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::InvalidCredentials
            | Self::TokenExpired
            | Self::InvalidToken
            | Self::InvalidGrant => StatusCode::UNAUTHORIZED,
            Self::PasswordTooLong | Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotReady { .. } => "not_ready",
            Self::Unauthenticated => "unauthenticated",
            Self::SessionExpired => "session_expired",
            Self::InsufficientScope => "insufficient_scope",
            Self::StoreUnavailable => "store_unavailable",
            Self::BadSignature => "bad_signature",
            Self::StaleTimestamp => "stale_timestamp",
            Self::ReplayedNonce => "replayed_nonce",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::CsrfFailed => "csrf_failed",
            Self::InvalidCredentials => "invalid_credentials",
            Self::PasswordTooLong => "password_too_long",
            Self::InvalidRequest(_) => "invalid_request",
            Self::TokenExpired => "token_expired",
            Self::InvalidToken => "invalid_token",
            Self::InvalidGrant => "invalid_grant",
            Self::NoApiKeyAvailable { .. } => "no_api_key_available",
            Self::UpstreamConfigError => "upstream_config_error",
            Self::UpstreamThrottled { .. } => "upstream_throttled",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::DuplicateApiKey => "duplicate_api_key",
            Self::InvalidApiKey(_) => "invalid_api_key",
            Self::AccountLocked { .. } => "account_locked",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The problem's title for people, in English (the catalogs' `problem-<code>`; the
    /// response is translated on its way out when the client asks for another language).
    fn title(&self) -> String {
        crate::i18n::catalogs().text(crate::i18n::Lang::En, &problem_message(self.code()), None)
    }
}

/// The catalog message that titles problem `code`.
pub(crate) fn problem_message(code: &str) -> String {
    format!("problem-{code}")
}

/// The stable code of a problem response, for the layer that translates its title.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProblemCode(pub(crate) &'static str);

/// The problem+json body. Extension members follow the standard ones.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    error: &'a str,
    #[serde(flatten)]
    extensions: Map<String, Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let title = self.title();
        let retry_after = self.retry_after();
        let challenge = match self {
            Self::BadSignature | Self::StaleTimestamp | Self::ReplayedNonce => {
                "KunciSignature realm=\"kunci\""
            }
            Self::TokenExpired | Self::InvalidToken => {
                "Bearer realm=\"kunci\", error=\"invalid_token\""
            }
            _ => "Cookie realm=\"kunci\"",
        };
        let extensions = match self {
            Self::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "request failed");
                Map::new()
            }
            Self::NotReady { checks } => {
                Map::from_iter([("checks".to_owned(), Value::Object(checks))])
            }
            Self::InvalidRequest(detail) => {
                Map::from_iter([("detail".to_owned(), Value::from(detail))])
            }
            Self::InvalidApiKey(expected) => {
                Map::from_iter([("detail".to_owned(), Value::from(expected))])
            }
            _ => Map::new(),
        };
        let problem = Problem {
            kind: format!("urn:kunci:error:{code}"),
            title: &title,
            status: status.as_u16(),
            error: code,
            extensions,
        };
        let mut response = (status, Json(problem)).into_response();
        response.extensions_mut().insert(ProblemCode(code));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A store a request needs failed: logged here, answered as `store_unavailable` (fail closed).
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store unavailable");
        Self::StoreUnavailable
    }
}

/// An audited action whose entry cannot be written is refused (never performed unaudited).
impl From<AuditError> for ApiError {
    fn from(err: AuditError) -> Self {
        tracing::error!(error = %err, "refused: the audit log cannot be written");
        Self::StoreUnavailable
    }
}

impl From<SignedRequestError> for ApiError {
    fn from(err: SignedRequestError) -> Self {
        match err {
            SignedRequestError::BadSignature => Self::BadSignature,
            SignedRequestError::StaleTimestamp => Self::StaleTimestamp,
            SignedRequestError::ReplayedNonce => Self::ReplayedNonce,
            SignedRequestError::Unavailable(cause) => {
                tracing::error!(error = %cause, "nonce or client store unavailable");
                Self::StoreUnavailable
            }
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::InvalidCredentials => Self::InvalidCredentials,
            LoginError::PasswordTooLong => Self::PasswordTooLong,
            LoginError::Locked { retry_after } => Self::AccountLocked { retry_after },
            // Five attempts of this name are being checked at this moment (possibly the owner's
            // own, from several devices): not a lock, try again in a second.
            LoginError::Busy => Self::RateLimited { retry_after: 1 },
            LoginError::Unavailable => Self::StoreUnavailable,
            LoginError::Failed => Self::Internal("the login failed".into()),
        }
    }
}

/// What the account pages meet: the store or the audit log down, or no such account; the
/// refusals a form explains itself (a taken name, a bad password) never arrive here.
impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Store(err) => err.into(),
            AccountError::Audit(err) => err.into(),
            AccountError::Unknown(_) => Self::NotFound,
            err => Self::Internal(Box::new(err)),
        }
    }
}

/// What the signing-key and client pages meet beyond what their forms explain.
impl From<KeyError> for ApiError {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::Store(err) => err.into(),
            KeyError::Audit(err) => err.into(),
            KeyError::UnknownKey(_) => Self::NotFound,
            KeyError::NotVerify(_) => {
                Self::InvalidRequest("only a key in state `verify` can be retired")
            }
            err => Self::Internal(Box::new(err)),
        }
    }
}

impl From<ResetError> for ApiError {
    fn from(err: ResetError) -> Self {
        match err {
            ResetError::Invalid => Self::NotFound,
            ResetError::Account(err) => err.into(),
            ResetError::Store(err) => err.into(),
            ResetError::Audit(err) => err.into(),
            err @ ResetError::Random(_) => Self::Internal(Box::new(err)),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::Store(err) => err.into(),
            ClientError::Audit(err) => err.into(),
            ClientError::Unknown(_) | ClientError::BadName(_) => Self::NotFound,
            err => Self::Internal(Box::new(err)),
        }
    }
}

impl From<LockoutError> for ApiError {
    fn from(err: LockoutError) -> Self {
        match err {
            LockoutError::Locked { retry_after } => Self::AccountLocked { retry_after },
            LockoutError::Busy => Self::RateLimited { retry_after: 1 },
            LockoutError::Store(err) => err.into(),
            LockoutError::Audit(err) => err.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::InvalidGrant => Self::InvalidGrant,
            RefreshError::BadClientId => {
                Self::InvalidRequest("`client_id` must be 8 to 128 letters, digits, `-`, `_`, `.`")
            }
            RefreshError::Store(err) => err.into(),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<PoolError> for ApiError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::BadFormat { expected, .. } => Self::InvalidApiKey(expected),
            PoolError::Duplicate(_) => Self::DuplicateApiKey,
            PoolError::Unknown(_) => Self::NotFound,
            PoolError::BadStatus => Self::InvalidRequest("`status` is `active` or `disabled`"),
            PoolError::BadQuotaGroup => Self::InvalidRequest(
                "`quota_group` is 1 to 128 characters, without control or direction-changing characters",
            ),
            PoolError::Store(err) => err.into(),
            PoolError::Audit(err) => {
                tracing::error!(error = %err, "API-key change refused: it cannot be audited");
                Self::StoreUnavailable
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Marks a response that passes an upstream's answer on as it came (status, type and body):
/// [`contract_errors`] leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassedThrough;

/// The framework's own refusals in the contract's form. An extractor that rejects a request
/// (a body over the limit, a form or path that does not parse) answers `text/plain` with its
/// own wording; every such answer becomes the problem+json of its status here, with the
/// security headers the outer layers add, so no route can answer outside the contract.
pub(crate) async fn contract_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<PassedThrough>().is_some()
    {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        s if s.is_server_error() => {
            ApiError::Internal(format!("the framework answered {s}").into())
        }
        _ => ApiError::InvalidRequest("the request is not what this route takes"),
    };
    error.into_response()
}

/// The longest request target kunci reads.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) kunci reads.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The request's shape, judged before anything else and answered in the contract (with the
/// security headers the outer layers add): a target over [`MAX_URI_BYTES`] is 414, headers
/// over [`MAX_HEADER_BYTES`] 431, and, per RFC 9112 §3.2, an HTTP/1.1 request without exactly
/// one `Host` 400 (its target would be ambiguous, and origin checks could be fooled). Only
/// what the HTTP server itself cannot parse, or requests far beyond these limits, are answered
/// by it directly.
pub(crate) async fn request_shape(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.uri().to_string().len() > MAX_URI_BYTES {
        return ApiError::UriTooLong.into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge.into_response();
    }
    let hosts = request.headers().get_all(header::HOST).iter().count();
    if request.version() == axum::http::Version::HTTP_11 && hosts != 1 {
        return ApiError::InvalidRequest("an HTTP/1.1 request carries exactly one Host header")
            .into_response();
    }
    next.run(request).await
}

/// Answers unknown routes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Answers known routes called with the wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Turns a panic in a handler into a plain 500 problem; the panic itself is logged.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    ApiError::Internal(message.into()).into_response()
}

/// The problem+json answers as the OpenAPI document shows them: [`Problem`] is the body
/// [`ApiError`] sends (a test holds the two together), and each response names the codes a
/// route may answer with. Handlers name these in their `#[utoipa::path]` responses.
pub(crate) mod problems {
    use utoipa::ToSchema;

    /// An error (RFC 9457 problem details). `error` is the stable code to branch on; where the
    /// status says to come back, the `Retry-After` header says when.
    #[derive(ToSchema)]
    #[allow(dead_code, reason = "a schema for the document")]
    pub(crate) struct Problem {
        /// `urn:kunci:error:<error>`
        #[schema(rename = "type")]
        kind: String,
        title: String,
        status: u16,
        /// The error code, e.g. `invalid_credentials`, `rate_limited`, `no_api_key_available`.
        error: String,
        /// What the request got wrong (`invalid_request`, `invalid_api_key`).
        detail: Option<String>,
        /// Which dependency is down (`not_ready`).
        checks: Option<std::collections::BTreeMap<String, String>>,
    }

    /// The errors the routes share, each a problem+json answer with its codes.
    macro_rules! problem_responses {
        ($($name:ident => $description:literal,)*) => {$(
            #[derive(utoipa::ToResponse)]
            #[response(description = $description, content_type = "application/problem+json")]
            #[allow(dead_code, reason = "a response for the document")]
            pub(crate) struct $name(Problem);
        )*};
    }

    problem_responses! {
        InvalidRequest => "invalid_request: the body or a parameter is not what the route takes",
        Unauthenticated => "unauthenticated or session_expired: no valid session or token",
        Forbidden => "insufficient_scope, or csrf_failed for a cookie request without the session's token",
        NotFound => "not_found",
        DuplicateKey => "duplicate_api_key",
        TooLarge => "payload_too_large",
        Limited => "rate_limited or account_locked, with Retry-After",
        UpstreamFailed => "upstream_config_error or upstream_unavailable",
        Unavailable => "store_unavailable, or no_api_key_available with Retry-After",
    }
}
