//! kunci's HTTP surface.
//!
//! - [`router()`] is the whole route table, in one place;
//! - one module per feature (`health`, and later `auth`, `sessions`, `settings`, …);
//! - [`error`] is the only module that chooses status codes and problem+json bodies;
//! - [`serve()`] runs the router with graceful shutdown.
//!
//! Handlers parse outside input into domain types and call domain services; they hold no
//! business rules and never talk to a database driver directly.

pub mod error;
mod headers;
mod health;
mod observe;
mod router;
mod serve;
mod state;

pub use router::router;
pub use serve::serve;
pub use state::{AppState, WebSettings};
