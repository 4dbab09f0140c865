//! Server-side sessions: the browser holds only a random id and a signed token; the session on
//! the server is the source of truth.
//!
//! - [`SessionId`]: ≥ 128 random bits; stores see only its SHA-256 (a leaked store gives no
//!   usable ids);
//! - [`SessionRecord`]: what is stored;
//! - [`SessionStore`]: the port each backend implements, with its [`Capabilities`];
//! - [`Sessions`]: the rules: idle and absolute timeouts, touching, regeneration at login.

mod id;
mod record;
mod service;
mod store;

pub use id::SessionId;
pub use record::{Scope, SessionRecord};
pub use service::{Lookup, SessionPolicy, Sessions, USERNAME};
pub use store::{Capabilities, SessionStore};
