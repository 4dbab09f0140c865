//! Stores that keep nothing, for tests and for measuring everything but storage.

mod sessions;

pub use sessions::NullSessions;
