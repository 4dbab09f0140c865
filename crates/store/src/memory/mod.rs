//! In-process stores: fast, private to one instance, gone on restart.

mod sessions;

pub use sessions::MemorySessions;
