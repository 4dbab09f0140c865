//! Stores in a folder of private files: one instance (or several on one machine), survives
//! restarts, no service to run.

mod sessions;

pub use sessions::FileSessions;
