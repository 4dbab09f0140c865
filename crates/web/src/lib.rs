//! kunci's HTTP surface.
//!
//! - [`router()`] is the whole route table, in one place;
//! - [`auth`] is the page middleware (sessions, tokens, bootstrap) and [`require_scope`] the
//!   per-route scope check;
//! - one module per feature (`health`, `pages`, `jwks`, `session_api`, …);
//! - [`error`] is the only module that chooses status codes and problem+json bodies (and
//!   declares them for the OpenAPI document);
//! - `settings` is what the deployment tells the web layer: a leaf every module may read.
//! - [`serve()`] runs the router with graceful shutdown.
//!
//! Handlers parse outside input into domain types and call domain services; they hold no
//! business rules and never talk to a database driver directly.

mod account_page;
mod admin_account;
mod admin_accounts;
mod api_keys;
mod assets;
mod audit_page;
pub mod auth;
mod bearer_cache;
mod chart;
mod clients_page;
mod console;
pub mod cookies;
mod cors;
mod csp_report;
mod csrf;
pub mod error;
mod forward_auth;
mod headers;
mod health;
pub mod i18n;
mod inventory;
mod jwks;
mod key_import;
mod key_page;
mod keys_page;
mod lang;
pub mod limits;
mod lockouts_page;
mod login;
mod metrics;
mod mfa_api;
mod mobile;
pub mod net;
mod observe;
pub mod openapi;
mod overview_page;
pub mod pages;
pub mod principal;
mod render;
mod reset_page;
mod router;
mod scope;
mod search;
mod serve;
mod session_api;
pub mod settings;
pub mod signed;
mod signing_keys_page;
mod state;
mod tls;
mod usage_charts;

pub use auth::{AuthContext, Principal, Via};
pub use cookies::CookieSettings;
pub use headers::CspNonce;
pub use limits::Limits;
pub use metrics::install as install_metrics;
pub use router::{SiteRoutes, router};
pub use scope::require_scope;
pub use serve::{ConnectionLimits, serve};
pub use settings::WebSettings;
pub use state::{AppState, Services};
