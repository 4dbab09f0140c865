//! The audit log: append-only entries, chained by MACs under a key derived from the master key.
//!
//! Each entry's MAC covers the previous entry's MAC and the entry's own fields, so editing,
//! deleting, inserting or moving an entry breaks the chain at that entry; a MAC (not a plain
//! hash) means that rewriting the chain from some point on needs the master key. The store
//! also keeps a sealed *head* (the last sequence number and MAC) so that cutting entries off the
//! end shows too.
//!
//! Client IPs are stored as `<salt>.<keyed hash>`. The chain covers only `SHA-256` of that text
//! (`ip_commit`), so the purge that forgets IP hashes after the retention period leaves every
//! MAC verifiable; with the salt gone, the commitment cannot be linked back to an address.
//!
//! An audited action is written *before* it takes effect, with outcome `allowed` (or `denied`
//! when policy refused it); an action that then fails gets a follow-up entry with `failed`.
//! When the entry cannot be written, the action is refused: nothing happens unaudited.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::master_key::{MasterKey, Purpose};
use sha2::{Digest as _, Sha256};

use crate::clock::Clock;
use crate::store::StoreError;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The longest actor or target kept; longer ones are cut (they come from names users choose).
const MAX_FIELD: usize = 256;

/// How an audited action ended, as far as the entry can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Authorised and carried out (unless a `failed` entry for it follows).
    Allowed,
    /// Refused by policy: wrong password, missing scope, locked account.
    Denied,
    /// Authorised, but it could not be carried out.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// What happened, as the caller reports it. Never put a secret in any field: use masked forms.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Who: `cli`, `system`, `user:<name>`, `client:<name>`.
    pub actor: String,
    /// A stable dotted name, e.g. `signing_key.rotated`.
    pub action: String,
    /// What it was done to.
    pub target: String,
    pub outcome: Outcome,
    /// The key id that verified the actor's credentials, when a key did.
    pub kid: Option<String>,
    pub ip: Option<IpAddr>,
}

impl AuditEvent {
    pub fn new(actor: impl Into<String>, action: &str, target: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            action: action.to_owned(),
            target: target.into(),
            outcome: Outcome::Allowed,
            kid: None,
            ip: None,
        }
    }

    #[must_use]
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    #[must_use]
    pub fn ip(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip;
        self
    }
}

/// Whether `action` is a dotted name of lowercase words: `a.b`, `admin.api_key.created`.
pub fn is_action_name(action: &str) -> bool {
    let mut parts = 0;
    for part in action.split('.') {
        parts += 1;
        let mut chars = part.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_lowercase())
            || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return false;
        }
    }
    parts >= 2 && action.len() <= 64
}

/// What an entry says, before and after the store places it in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub kid: Option<String>,
    /// `<salt>.<keyed hash>` of the client IP, until the retention purge clears it.
    pub ip: Option<String>,
    /// Lowercase hex SHA-256 of `ip` as written; kept after the purge.
    pub ip_commit: Option<String>,
}

/// A stored entry: its record, placed in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub record: Draft,
    /// The MAC of the entry before (hex), [`GENESIS`] for the first.
    pub prev: String,
    /// This entry's MAC (hex).
    pub mac: String,
}

impl AuditEntry {
    /// The keyed hash of the client IP, without its salt: equal for equal addresses, so
    /// entries from one client can be correlated within the retention period.
    pub fn ip_hash(&self) -> Option<&str> {
        self.record
            .ip
            .as_deref()
            .and_then(|ip| ip.split_once('.'))
            .map(|(_, hash)| hash)
    }
}

/// The last entry as the store records it, sealed so it cannot be moved back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub mac: String,
    pub seal: String,
}

/// The chain's key and rules.
#[derive(Debug, Clone)]
pub struct Chain {
    master: MasterKey,
}

fn field(buf: &mut Vec<u8>, value: &[u8]) {
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(value);
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lowercase hex SHA-256 of the stored IP text.
pub fn ip_commit(ip: &str) -> String {
    hex(&Sha256::digest(ip.as_bytes()))
}

impl Chain {
    pub fn new(master: MasterKey) -> Self {
        Self { master }
    }

    fn mac_of(&self, prev: &str, d: &Draft) -> String {
        let mut buf = b"kunci-audit-v1\0".to_vec();
        field(&mut buf, prev.as_bytes());
        field(&mut buf, d.at.to_string().as_bytes());
        for value in [&d.actor, &d.action, &d.target, &d.outcome] {
            field(&mut buf, value.as_bytes());
        }
        field(&mut buf, d.kid.as_deref().unwrap_or_default().as_bytes());
        field(
            &mut buf,
            d.ip_commit.as_deref().unwrap_or_default().as_bytes(),
        );
        hex(&self.master.keyed_digest(Purpose::AuditChain, &buf))
    }

    /// The entry `draft` becomes when it follows `prev` at position `seq`.
    pub fn link(&self, seq: i64, prev: &str, draft: Draft) -> AuditEntry {
        let mac = self.mac_of(prev, &draft);
        AuditEntry {
            seq,
            record: draft,
            prev: prev.to_owned(),
            mac,
        }
    }

    /// The head recording `entry` as the last one.
    pub fn head(&self, seq: i64, mac: &str) -> AuditHead {
        let mut buf = b"kunci-audit-head-v1\0".to_vec();
        field(&mut buf, seq.to_string().as_bytes());
        field(&mut buf, mac.as_bytes());
        AuditHead {
            seq,
            mac: mac.to_owned(),
            seal: hex(&self.master.keyed_digest(Purpose::AuditChain, &buf)),
        }
    }

    fn entry_is_authentic(&self, e: &AuditEntry) -> bool {
        self.mac_of(&e.prev, &e.record) == e.mac
    }

    /// A keyed hash of `ip` under a fresh salt.
    fn hash_ip(&self, ip: IpAddr) -> Result<String, crate::RandomFailure> {
        let mut salt = [0u8; 12];
        getrandom::fill(&mut salt).map_err(|_| crate::RandomFailure)?;
        let canonical = ip.to_canonical().to_string();
        let digest = self
            .master
            .keyed_digest(Purpose::AuditIp, canonical.as_bytes());
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(salt),
            URL_SAFE_NO_PAD.encode(digest)
        ))
    }
}

/// Where the chain first goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's MAC does not match its content: edited, or inserted without the key.
    Edited { seq: i64 },
    /// The stored IP hash does not match what the chain committed to.
    IpEdited { seq: i64 },
    /// Sequence numbers jump: these entries were deleted.
    Missing { from: i64, to: i64 },
    /// The entry is authentic but does not follow the one before it: something was deleted,
    /// inserted or moved in between.
    OutOfPlace { seq: i64, after: Option<i64> },
    /// The head records a later entry than the last one present: entries were cut off the end.
    Truncated { last: i64, head: i64 },
    /// Entries follow the head: written outside kunci.
    BeyondHead { head: i64 },
    /// The head itself was edited (or is missing while entries exist).
    HeadEdited,
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Edited { seq } => write!(
                f,
                "entry {seq} was edited or forged: its MAC does not match its content"
            ),
            Self::IpEdited { seq } => write!(f, "the IP hash of entry {seq} was edited"),
            Self::Missing { from, to } if from == to => write!(f, "entry {from} was deleted"),
            Self::Missing { from, to } => write!(f, "entries {from} to {to} were deleted"),
            Self::OutOfPlace {
                seq,
                after: Some(prev),
            } => write!(
                f,
                "entry {seq} does not follow entry {prev}: an entry was deleted, inserted or \
                 moved between them"
            ),
            Self::OutOfPlace { seq, after: None } => write!(
                f,
                "entry {seq} does not start the log: an entry before it was deleted or moved"
            ),
            Self::Truncated { last, head } => write!(
                f,
                "the log ends at entry {last} but its head records entry {head}: entries after \
                 {last} were deleted"
            ),
            Self::BeyondHead { head } => write!(
                f,
                "entries follow the recorded head ({head}): they were written outside kunci"
            ),
            Self::HeadEdited => write!(f, "the chain head was edited or removed"),
        }
    }
}

/// Walks entries in sequence order and finds the first break.
#[derive(Debug)]
pub struct Verifier<'a> {
    chain: &'a Chain,
    last: Option<(i64, String)>,
    entries: u64,
    problem: Option<ChainProblem>,
}

/// A verified chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub entries: u64,
    /// The last entry's sequence number and MAC (0 and [`GENESIS`] when empty): worth writing
    /// down elsewhere, since a copy of the head kept outside the database catches a rollback
    /// of the whole database too.
    pub head_seq: i64,
    pub head_mac: String,
}

impl<'a> Verifier<'a> {
    pub fn new(chain: &'a Chain) -> Self {
        Self {
            chain,
            last: None,
            entries: 0,
            problem: None,
        }
    }

    /// Whether a problem was found (no need to read further).
    pub fn is_broken(&self) -> bool {
        self.problem.is_some()
    }

    pub fn push(&mut self, e: &AuditEntry) {
        if self.problem.is_some() {
            return;
        }
        self.entries += 1;
        let (expected_seq, expected_prev) = match &self.last {
            Some((seq, mac)) => (seq + 1, mac.as_str()),
            None => (1, GENESIS),
        };
        let record = &e.record;
        let ip_matches = record
            .ip
            .as_deref()
            .is_none_or(|ip| record.ip_commit.as_deref() == Some(ip_commit(ip).as_str()));
        self.problem = if !self.chain.entry_is_authentic(e) {
            Some(ChainProblem::Edited { seq: e.seq })
        } else if !ip_matches {
            Some(ChainProblem::IpEdited { seq: e.seq })
        } else if e.seq > expected_seq {
            Some(ChainProblem::Missing {
                from: expected_seq,
                to: e.seq - 1,
            })
        } else if e.prev != expected_prev || e.seq < expected_seq {
            Some(ChainProblem::OutOfPlace {
                seq: e.seq,
                after: self.last.as_ref().map(|(seq, _)| *seq),
            })
        } else {
            None
        };
        self.last = Some((e.seq, e.mac.clone()));
    }

    /// Checks the end of the log against the head.
    pub fn finish(self, head: Option<&AuditHead>) -> Result<ChainReport, ChainProblem> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let (last_seq, last_mac) = self.last.unwrap_or((0, GENESIS.to_owned()));
        match head {
            None if last_seq == 0 => {}
            None => return Err(ChainProblem::HeadEdited),
            Some(head) => {
                if *head != self.chain.head(head.seq, &head.mac) {
                    return Err(ChainProblem::HeadEdited);
                }
                if head.seq > last_seq {
                    return Err(ChainProblem::Truncated {
                        last: last_seq,
                        head: head.seq,
                    });
                }
                if head.seq < last_seq {
                    return Err(ChainProblem::BeyondHead { head: head.seq });
                }
                if head.mac != last_mac {
                    return Err(ChainProblem::HeadEdited);
                }
            }
        }
        Ok(ChainReport {
            entries: self.entries,
            head_seq: last_seq,
            head_mac: last_mac,
        })
    }
}

/// Where the audit log lives.
#[async_trait]
pub trait AuditStore: Send + Sync + fmt::Debug {
    /// Appends `draft` after the current head, in one transaction that locks the head, so
    /// concurrent writers (other instances included) form one chain.
    async fn append(&self, chain: &Chain, draft: Draft) -> Result<AuditEntry, StoreError>;

    async fn head(&self) -> Result<Option<AuditHead>, StoreError>;

    /// Up to `limit` entries with `seq > after`, in sequence order.
    async fn page(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Clears the IP hashes of entries written before `before`; returns how many it cleared.
    async fn purge_ips(&self, before: i64) -> Result<u64, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log cannot be written, so the action was refused: {0}")]
    Unwritable(StoreError),
    #[error("the audit log cannot be read: {0}")]
    Unreadable(StoreError),
    #[error("`{0}` is not an audit action name (dotted lowercase words)")]
    BadAction(String),
    #[error("the audit chain is broken: {0}")]
    Broken(ChainProblem),
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

/// The audit log: recording, verifying, exporting, purging.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
    chain: Chain,
    clock: Arc<dyn Clock>,
}

fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_FIELD)
        .collect()
}

impl AuditLog {
    pub fn new(store: Arc<dyn AuditStore>, master: MasterKey, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            chain: Chain::new(master),
            clock,
        }
    }

    /// Writes one entry. An error means the action must not go ahead.
    pub async fn record(&self, event: AuditEvent) -> Result<AuditEntry, AuditError> {
        if !is_action_name(&event.action) {
            return Err(AuditError::BadAction(clean(&event.action)));
        }
        let ip = event.ip.map(|ip| self.chain.hash_ip(ip)).transpose()?;
        let draft = Draft {
            at: self.clock.now_unix(),
            actor: clean(&event.actor),
            action: event.action,
            target: clean(&event.target),
            outcome: event.outcome.as_str().to_owned(),
            kid: event.kid.as_deref().map(clean),
            ip_commit: ip.as_deref().map(ip_commit),
            ip,
        };
        self.store
            .append(&self.chain, draft)
            .await
            .map_err(AuditError::Unwritable)
    }

    /// Records `event`, then runs `action`; when the action fails, records that too.
    /// When the first entry cannot be written the action never runs.
    pub async fn around<T, E, F>(&self, event: AuditEvent, action: F) -> Result<T, AuditedError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.record(event.clone())
            .await
            .map_err(AuditedError::Audit)?;
        match action.await {
            Ok(value) => Ok(value),
            Err(err) => {
                if let Err(audit) = self.record(event.outcome(Outcome::Failed)).await {
                    tracing::error!(error = %audit, "could not record a failed action");
                }
                Err(AuditedError::Action(err))
            }
        }
    }

    /// Walks the whole chain, a page at a time.
    pub async fn verify(&self) -> Result<ChainReport, AuditError> {
        let mut verifier = Verifier::new(&self.chain);
        let mut after = 0;
        loop {
            let page = self
                .store
                .page(after, 1000)
                .await
                .map_err(AuditError::Unreadable)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in &page {
                verifier.push(entry);
            }
            if verifier.is_broken() {
                break;
            }
        }
        let head = self.store.head().await.map_err(AuditError::Unreadable)?;
        verifier.finish(head.as_ref()).map_err(AuditError::Broken)
    }

    /// Up to `limit` entries after `after`, for export.
    pub async fn page(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, AuditError> {
        self.store
            .page(after, limit)
            .await
            .map_err(AuditError::Unreadable)
    }

    /// Forgets the IP hashes older than `retention_days`.
    pub async fn purge_ips(&self, retention_days: u32) -> Result<u64, AuditError> {
        let before = self.clock.now_unix() - i64::from(retention_days) * 86_400;
        self.store
            .purge_ips(before)
            .await
            .map_err(AuditError::Unwritable)
    }
}

/// An audited action that did not happen: either the audit log refused it or it failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditedError<E> {
    #[error(transparent)]
    Audit(AuditError),
    #[error(transparent)]
    Action(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Chain {
        Chain::new(MasterKey::generate().unwrap())
    }

    fn draft(n: i64) -> Draft {
        Draft {
            at: 1_000 + n,
            actor: "cli".into(),
            action: "test.done".into(),
            target: format!("t{n}"),
            outcome: "allowed".into(),
            kid: None,
            ip: None,
            ip_commit: None,
        }
    }

    fn build(chain: &Chain, n: i64) -> (Vec<AuditEntry>, AuditHead) {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for seq in 1..=n {
            let prev = entries.last().map_or(GENESIS.to_owned(), |e| e.mac.clone());
            entries.push(chain.link(seq, &prev, draft(seq)));
        }
        let last = entries.last().unwrap();
        let head = chain.head(last.seq, &last.mac);
        (entries, head)
    }

    fn check(
        chain: &Chain,
        entries: &[AuditEntry],
        head: &AuditHead,
    ) -> Result<ChainReport, ChainProblem> {
        let mut v = Verifier::new(chain);
        for e in entries {
            v.push(e);
        }
        v.finish(Some(head))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let chain = chain();
        let (entries, head) = build(&chain, 5);
        assert_eq!(check(&chain, &entries, &head).unwrap().entries, 5);
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        let chain = chain();
        let (entries, head) = build(&chain, 6);

        let mut edited = entries.clone();
        edited[2].record.target = "other".into();
        assert_eq!(
            check(&chain, &edited, &head),
            Err(ChainProblem::Edited { seq: 3 })
        );

        let mut deleted = entries.clone();
        deleted.remove(3);
        assert_eq!(
            check(&chain, &deleted, &head),
            Err(ChainProblem::Missing { from: 4, to: 4 })
        );

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        swapped[1].seq = 2;
        swapped[2].seq = 3;
        assert_eq!(
            check(&chain, &swapped, &head),
            Err(ChainProblem::OutOfPlace {
                seq: 2,
                after: Some(1)
            })
        );

        let mut truncated = entries.clone();
        truncated.pop();
        assert_eq!(
            check(&chain, &truncated, &head),
            Err(ChainProblem::Truncated { last: 5, head: 6 })
        );

        let other = Chain::new(MasterKey::generate().unwrap());
        let mut forged = entries.clone();
        let prev = forged.last().unwrap().mac.clone();
        forged.push(other.link(7, &prev, draft(7)));
        assert_eq!(
            check(&chain, &forged, &head),
            Err(ChainProblem::Edited { seq: 7 })
        );

        let rolled_back = chain.head(5, &entries[4].mac);
        let forged_head = AuditHead {
            seq: 5,
            mac: entries[4].mac.clone(),
            seal: head.seal,
        };
        assert_eq!(
            check(&chain, &entries[..5], &forged_head),
            Err(ChainProblem::HeadEdited)
        );
        // A head the attacker saved earlier is authentic; only a copy kept elsewhere catches it.
        assert!(check(&chain, &entries[..5], &rolled_back).is_ok());
    }

    #[test]
    fn purging_an_ip_keeps_the_chain_and_editing_one_is_caught() {
        let chain = chain();
        let ip = chain.hash_ip("203.0.113.9".parse().unwrap()).unwrap();
        let mut d = draft(1);
        d.ip_commit = Some(ip_commit(&ip));
        d.ip = Some(ip);
        let entry = chain.link(1, GENESIS, d);
        let head = chain.head(1, &entry.mac);
        assert!(check(&chain, std::slice::from_ref(&entry), &head).is_ok());

        let mut purged = entry.clone();
        purged.record.ip = None;
        assert!(check(&chain, &[purged], &head).is_ok());

        let mut edited = entry;
        edited.record.ip = Some(chain.hash_ip("198.51.100.1".parse().unwrap()).unwrap());
        assert_eq!(
            check(&chain, &[edited], &head),
            Err(ChainProblem::IpEdited { seq: 1 })
        );
    }

    #[test]
    fn ip_hashes_correlate_one_address_but_never_show_it() {
        let chain = chain();
        let a = "203.0.113.9".parse().unwrap();
        let with_ip = || {
            let mut d = draft(1);
            d.ip = Some(chain.hash_ip(a).unwrap());
            chain.link(1, GENESIS, d)
        };
        let (one, two) = (with_ip(), with_ip());
        assert_ne!(one.record.ip, two.record.ip, "salted as stored");
        assert_eq!(one.ip_hash(), two.ip_hash(), "one address, one hash");
        assert!(!one.record.ip.unwrap().contains("203.0.113"));
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        let three = chain.hash_ip(mapped).unwrap();
        assert_eq!(three.split_once('.').unwrap().1, two.ip_hash().unwrap());
    }

    #[test]
    fn action_names_are_dotted_lowercase_words() {
        for good in [
            "a.b",
            "admin.api_key.created",
            "signing_key.rotated",
            "x1.y2",
        ] {
            assert!(is_action_name(good), "{good}");
        }
        for bad in [
            "", "a", "a.", ".a", "A.b", "a..b", "a.b c", "a.b\n", "1a.b", "a-b.c",
        ] {
            assert!(!is_action_name(bad), "{bad:?}");
        }
    }
}
