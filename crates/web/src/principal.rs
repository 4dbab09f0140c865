//! Who is calling and how (SPEC §4–§6): the [`Principal`] every API handler and scope check
//! looks at, whatever the mechanism ([`Via`]: cookie, bearer or signature), and the
//! [`RequestKind`] that decides between a redirect and a 401. A leaf: the mechanisms
//! (`auth.rs` for cookies and tokens, `signed.rs` for signatures) produce these; nothing here
//! knows them.

use axum::extract::{FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use kunci_domain::audit::Actor;
use kunci_domain::session::Scope;

use crate::error::ApiError;

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Browser cookies: a server session.
    Cookie,
    /// `Authorization: Bearer` with an access token of refresh-token family `family`.
    Bearer { family: String, jti: String },
    /// A signed service request (`X-Kunci-Signature`) of client `client`.
    Signature { client: String },
}

impl Via {
    /// The name `GET /api/v1/me` gives the mechanism.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Bearer { .. } => "bearer",
            Self::Signature { .. } => "signature",
        }
    }
}

/// Who is calling, whatever the mechanism: what API handlers and scope checks look at.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account id (`client:<name>` for a service client); `None` for an anonymous browser
    /// session.
    pub sub: Option<String>,
    pub username: Option<String>,
    pub scopes: Vec<Scope>,
    /// What verified the credential: the signing key's id, or the client of a signed request.
    pub kid: String,
    pub via: Via,
    /// The client's address (behind trusted proxies), for the audit log's keyed hash.
    pub ip: Option<std::net::IpAddr>,
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// The account behind the request: none for a service client, which has no sessions,
    /// tokens or password of an account.
    pub fn account(&self) -> Option<&str> {
        match self.via {
            Via::Signature { .. } => None,
            _ => self.sub.as_deref(),
        }
    }

    /// The actor the audit log names for what this caller does, with what verified it.
    pub fn actor(&self) -> Actor {
        let actor = match &self.via {
            Via::Signature { client } => Actor::client(client),
            _ => Actor::user(self.username.as_deref(), self.sub.as_deref()),
        };
        actor.verified_by(self.kid.clone()).from_address(self.ip)
    }
}

/// Every route behind the authentication middleware has a `Principal`; one without is answered
/// 401, never 500.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(ApiError::Unauthenticated)
    }
}

/// What the client expects, which decides redirect or 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A browser navigating: not under `/api/`, `Accept` includes `text/html`.
    Page,
    /// Everything else: `/api/…`, JSON, scripts.
    Api,
}

impl RequestKind {
    pub fn of(request: &Request) -> Self {
        let path = request.uri().path();
        // Forward-auth answers a proxy: never a bootstrap or a redirect.
        let api_path = path.starts_with("/api/") || path == "/auth/verify";
        let accept = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !api_path && accept.contains("text/html") {
            Self::Page
        } else {
            Self::Api
        }
    }
}
