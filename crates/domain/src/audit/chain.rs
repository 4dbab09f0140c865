//! The MAC chain: entries as stored, the chain's key and rules, the verifier that finds the
//! first break, and the IP commitment that lets the retention purge keep every MAC checkable.

use std::fmt;
use std::net::IpAddr;

use crate::hex;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::master_key::{MasterKey, Purpose};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
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

/// Lowercase hex SHA-256 of the stored IP text.
pub fn ip_commit(ip: &str) -> String {
    crate::sha256_hex(ip)
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
    pub(super) fn hash_ip(&self, ip: IpAddr) -> Result<String, crate::RandomFailure> {
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
