//! How an entry and the action it records reach the log together.
//!
//! Two ways, by what the action writes to:
//!
//! - **The same database as the log** (accounts, service clients, API keys, signing keys): the
//!   service hands the store a [`Journal`], and the store appends its entry in the transaction
//!   of the write itself. Both commit or neither does; a write that changes nothing rolls back
//!   its entry too. So an `allowed` entry always means the change was made, a crash leaves no
//!   phantom, and an entry that cannot be written refuses the write.
//! - **Anything else** (a lockout on Redis, a call upstream): an *intent* entry (`started`) is
//!   written before the action and an outcome entry (`allowed` or `failed`, same actor, action
//!   and target) after it. An intent that no outcome follows — the process died in between —
//!   is [`Intents::unresolved`]: `kunci audit verify` and `audit export` show it as `unknown`.

use std::collections::{HashMap, VecDeque};

#[cfg(test)]
use super::AuditStore;
use super::{AuditEntry, Chain, Draft, Outcome};

/// An audit entry for a store to commit in the same transaction as the write it records.
///
/// The contract of a store method that takes one: the entry is appended (after the chain's
/// head, locking it) in the write's own transaction; when the entry cannot be written the write
/// is not made and the method answers [`crate::store::StoreError::AuditRefused`]; when the write
/// changes nothing (the method's `false`) the entry is rolled back with it.
#[derive(Debug, Clone)]
pub struct Journal {
    chain: Chain,
    draft: Draft,
    /// The log's own store, for the in-memory doubles of the unit tests.
    #[cfg(test)]
    store: std::sync::Arc<dyn AuditStore>,
}

impl Journal {
    pub(super) fn new(
        chain: Chain,
        draft: Draft,
        #[cfg(test)] store: std::sync::Arc<dyn AuditStore>,
    ) -> Self {
        Self {
            chain,
            draft,
            #[cfg(test)]
            store,
        }
    }

    /// What an in-memory double does instead of a transaction: appends the entry just before
    /// its write, after checking that the write will change something (a unit test has one
    /// caller, so nothing comes between).
    #[cfg(test)]
    pub(crate) async fn append_alone(&self) -> Result<(), crate::store::StoreError> {
        self.store
            .append(&self.chain, self.draft())
            .await
            .map(drop)
            .map_err(crate::store::StoreError::audit_refused)
    }

    /// The chain's key, to link the entry after the head the transaction locked.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The entry, as [`Chain::link`] takes it.
    pub fn draft(&self) -> Draft {
        self.draft.clone()
    }
}

/// Whether a journaled write changed anything: `()` always does, `bool` when `true`.
pub trait Written {
    fn written(&self) -> bool;
}

impl Written for () {
    fn written(&self) -> bool {
        true
    }
}

impl Written for bool {
    fn written(&self) -> bool {
        *self
    }
}

/// Pairs intents with their outcomes while the log is read in order.
///
/// An outcome closes the oldest open intent with the same actor, action and target. Entries
/// that no intent precedes (journaled writes, refusals) are left alone.
#[derive(Debug, Default)]
pub struct Intents {
    open: HashMap<(String, String, String), VecDeque<i64>>,
}

impl Intents {
    pub fn push(&mut self, entry: &AuditEntry) {
        let record = &entry.record;
        let key = (
            record.actor.clone(),
            record.action.clone(),
            record.target.clone(),
        );
        if record.outcome == Outcome::Started.as_str() {
            self.open.entry(key).or_default().push_back(entry.seq);
        } else if let Some(waiting) = self.open.get_mut(&key) {
            waiting.pop_front();
            if waiting.is_empty() {
                self.open.remove(&key);
            }
        }
    }

    /// The sequence numbers of intents no outcome followed, in order.
    pub fn unresolved(&self) -> Vec<i64> {
        let mut seqs: Vec<i64> = self.open.values().flatten().copied().collect();
        seqs.sort_unstable();
        seqs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GENESIS;

    fn entry(seq: i64, target: &str, outcome: Outcome) -> AuditEntry {
        AuditEntry {
            seq,
            record: Draft {
                at: seq,
                actor: "cli".into(),
                action: "account.unlocked".into(),
                target: target.into(),
                outcome: outcome.as_str().into(),
                kid: None,
                ip: None,
                ip_commit: None,
            },
            prev: GENESIS.into(),
            mac: String::new(),
        }
    }

    #[test]
    fn an_intent_without_its_outcome_is_unresolved() {
        let mut intents = Intents::default();
        for e in [
            entry(1, "alice", Outcome::Started),
            entry(2, "bob", Outcome::Started),
            entry(3, "alice", Outcome::Allowed),
            entry(4, "bob", Outcome::Started),
            entry(5, "bob", Outcome::Failed),
            entry(6, "carol", Outcome::Allowed),
        ] {
            intents.push(&e);
        }
        // Entry 2's outcome is entry 5 (the oldest open one closes first); 4 has none.
        assert_eq!(intents.unresolved(), [4]);
    }

    #[test]
    fn outcomes_close_only_their_own_action_and_target() {
        let mut intents = Intents::default();
        intents.push(&entry(1, "alice", Outcome::Started));
        intents.push(&entry(2, "alicia", Outcome::Allowed));
        intents.push(&entry(3, "alice", Outcome::Denied));
        // `denied` is an outcome too: the action was refused after its intent.
        assert!(intents.unresolved().is_empty());
        intents.push(&entry(4, "alice", Outcome::Started));
        assert_eq!(intents.unresolved(), [4]);
    }
}
