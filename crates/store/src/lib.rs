//! Persistence adapters: the implementations of `kunci-domain`'s ports.
//!
//! Layout: one folder per backend (`sql/` for the relational databases, later `redis/`,
//! `memory/`, …), one file per port inside it, the same file names in each. The backend is
//! chosen at run time from the configured URL; domain code never branches on it. Every adapter
//! of a port passes that port's conformance suite (`tests/it/conformance`).
//!
//! Never add HTTP types or business rules here: an adapter translates, it does not decide.

pub mod filesystem;
pub mod fs;
pub mod memcached;
pub mod memory;
pub mod null;
pub mod redis;
pub mod sql;

pub use redis::RedisServer;
pub use sql::{
    Backend, ConnectOptions, Database, DatabaseError, DatabaseTarget, DumpError, DumpSummary,
    MigrationState, SqlTallies, TallyTable,
};

#[cfg(feature = "testing")]
pub mod testing;
