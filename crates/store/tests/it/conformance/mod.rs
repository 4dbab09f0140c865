//! One module per port; each ends with `backends!(…)` listing its tests.

mod accounts;
mod apikeys;
mod audit;
mod challenges;
mod circuit;
mod clients;
mod dump;
mod episodes;
mod factors;
mod lockout;
mod migrations;
mod rates;
mod refresh;
mod resets;
mod sessions;
mod signing_keys;
mod tally;
mod usage;

/// The audit entry that a test's direct write commits with (a store's journaled writes take
/// one; see `kunci_domain::audit::Journal`), under one master key per test run.
pub(crate) fn journal(db: &kunci_store::Database, target: &str) -> kunci_domain::audit::Journal {
    use std::sync::{Arc, LazyLock};
    static MASTER: LazyLock<kunci_crypto::MasterKey> =
        LazyLock::new(|| match kunci_crypto::MasterKey::generate() {
            Ok(key) => key,
            Err(err) => panic!("a test master key: {err}"),
        });
    let master = MASTER.clone();
    let clock =
        kunci_domain::clock::ManualClock::new(time::macros::datetime!(2026-11-01 00:00 UTC));
    let log = kunci_domain::audit::AuditLog::new(Arc::new(db.clone()), master, Arc::new(clock));
    let event = kunci_domain::audit::AuditEvent::new("cli", "test.direct_write", target);
    match log.journal(event) {
        Ok(journal) => journal,
        Err(err) => panic!("a test journal: {err}"),
    }
}
