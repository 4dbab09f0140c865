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
//! An audited action that writes to the log's own database commits its entry in the same
//! transaction ([`AuditLog::within`]); any other action is framed by an intent and an outcome
//! entry ([`AuditLog::around`]). Either way, when the entry cannot be written the action is
//! refused: nothing happens unaudited. `journal.rs` says what a reader may conclude.
//!
//! `chain.rs` holds the MAC chain and its verifier; `journal.rs` the two ways an entry travels
//! with its action; `view.rs` the filter and export formats; this file the events, the [`Actor`], the store port and [`AuditLog`].

mod chain;
mod journal;
mod view;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use kunci_crypto::master_key::MasterKey;

use crate::clock::Clock;
use crate::store::StoreError;

pub use chain::{
    AuditEntry, AuditHead, Chain, ChainProblem, ChainReport, Draft, GENESIS, Verifier, ip_commit,
};
pub use journal::{Intents, Journal, Written};
pub use view::{AuditFilter, CSV_HEADER, OUTCOMES, export_csv, export_json};

/// The longest actor or target kept; longer ones are cut (they come from names users choose).
const MAX_FIELD: usize = 256;

/// How an audited action ended, as far as the entry can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Authorised and carried out.
    Allowed,
    /// An intent: authorised and about to be carried out by something outside the log's
    /// database; an `allowed` or `failed` entry for the same actor, action and target follows.
    Started,
    /// Refused by policy: wrong password, missing scope, locked account.
    Denied,
    /// Authorised, but it could not be carried out.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Started => "started",
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

    /// An event done by `actor`, with the `kid` that verified it when there is one.
    pub fn by(actor: &Actor, action: &str, target: impl Into<String>) -> Self {
        let mut event = Self::new(actor.as_str(), action, target);
        event.kid = actor.kid.clone();
        event.ip = actor.ip;
        event
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

/// Who did an audited thing, as the log names it: `cli`, `system`, `user:<name>`,
/// `account:<id>`, `client:<name>`, `login:<flow>` — and, when a credential was verified, what
/// verified it (the signing key's id for a cookie or token, the client for a signed request),
/// which the entry records as its `kid`. Made only by these constructors, so every entry names
/// its actor the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    name: String,
    kid: Option<String>,
    /// Where the request came from; the entry keeps it only as a keyed hash.
    ip: Option<IpAddr>,
}

impl Actor {
    fn named(name: String) -> Self {
        Self {
            name,
            kid: None,
            ip: None,
        }
    }

    /// An operator at the command line.
    pub fn cli() -> Self {
        Self::named("cli".to_owned())
    }

    /// kunci itself (schedules, automatic rotations).
    pub fn system() -> Self {
        Self::named("system".to_owned())
    }

    /// A logged-in user acting on the system (an administrator's change), named by account
    /// name, else by account id when the name is not known.
    pub fn user(username: Option<&str>, sub: Option<&str>) -> Self {
        Self::named(format!("user:{}", username.or(sub).unwrap_or("?")))
    }

    /// An account acting on itself ("this wasn't me").
    pub fn account(sub: &str) -> Self {
        Self::named(format!("account:{sub}"))
    }

    /// A service client (signed requests).
    pub fn client(name: &str) -> Self {
        Self::named(format!("client:{name}"))
    }

    /// A login attempt through `flow` (`web`, `form`, `mobile`).
    pub fn login(flow: &str) -> Self {
        Self::named(format!("login:{flow}"))
    }

    /// The same actor, its credential verified by `kid`.
    #[must_use]
    pub fn verified_by(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The same actor, acting from the client address `ip`.
    #[must_use]
    pub fn from_address(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip;
        self
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl From<&Actor> for String {
    fn from(actor: &Actor) -> Self {
        actor.name.clone()
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> Self {
        actor.name
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

    /// Up to `limit` entries that `filter` shows, with `seq < before` when given, newest first.
    async fn newest(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

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

    /// The entry `event` makes, before the chain places it.
    fn draft(&self, event: AuditEvent) -> Result<Draft, AuditError> {
        if !is_action_name(&event.action) {
            return Err(AuditError::BadAction(clean(&event.action)));
        }
        let ip = event.ip.map(|ip| self.chain.hash_ip(ip)).transpose()?;
        Ok(Draft {
            at: self.clock.now_unix(),
            actor: clean(&event.actor),
            action: event.action,
            target: clean(&event.target),
            outcome: event.outcome.as_str().to_owned(),
            kid: event.kid.as_deref().map(clean),
            ip_commit: ip.as_deref().map(ip_commit),
            ip,
        })
    }

    /// Writes one entry. An error means the action must not go ahead.
    pub async fn record(&self, event: AuditEvent) -> Result<AuditEntry, AuditError> {
        let draft = self.draft(event)?;
        self.store
            .append(&self.chain, draft)
            .await
            .map_err(AuditError::Unwritable)
    }

    /// An action outside the log's database: records the intent (`started`), runs `action`,
    /// then records its outcome, `allowed` or `failed`. When the intent cannot be written the
    /// action never runs. A crash between the two leaves an intent that
    /// [`AuditLog::unresolved`] reports.
    pub async fn around<T, E, F>(&self, event: AuditEvent, action: F) -> Result<T, AuditedError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.record(event.clone().outcome(Outcome::Started))
            .await
            .map_err(AuditedError::Audit)?;
        let result = action.await;
        let outcome = match &result {
            Ok(_) => event.outcome,
            Err(_) => Outcome::Failed,
        };
        if let Err(audit) = self.record(event.outcome(outcome)).await {
            tracing::error!(error = %audit, "could not record the outcome of an action");
        }
        result.map_err(AuditedError::Action)
    }

    /// The journal of `event`, for a write made past the services (a load generator filling
    /// the pool, a store's own tests): the row still comes with its entry.
    pub fn journal(&self, event: AuditEvent) -> Result<Journal, AuditError> {
        Ok(Journal::new(
            self.chain.clone(),
            self.draft(event)?,
            #[cfg(test)]
            self.store.clone(),
        ))
    }

    /// A write to the log's own database: `write` gets the entry as a [`Journal`] and its store
    /// commits both in one transaction (see [`Journal`]). A write that fails or changes nothing
    /// is recorded as `failed` afterwards.
    pub async fn within<T, F, Fut>(
        &self,
        event: AuditEvent,
        write: F,
    ) -> Result<T, AuditedError<StoreError>>
    where
        T: Written,
        F: FnOnce(Journal) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let journal = Journal::new(
            self.chain.clone(),
            self.draft(event.clone()).map_err(AuditedError::Audit)?,
            #[cfg(test)]
            self.store.clone(),
        );
        let result = write(journal).await;
        match &result {
            Ok(done) if done.written() => {}
            Err(StoreError::AuditRefused { .. }) => {}
            Ok(_) | Err(_) => {
                if let Err(audit) = self.record(event.outcome(Outcome::Failed)).await {
                    tracing::error!(error = %audit, "could not record a failed action");
                }
            }
        }
        result.map_err(|err| match err {
            err @ StoreError::AuditRefused { .. } => {
                AuditedError::Audit(AuditError::Unwritable(err))
            }
            err => AuditedError::Action(err),
        })
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

    /// The sequence numbers of intents that no outcome followed (`unknown`: the process
    /// stopped between them), read over the whole log.
    pub async fn unresolved(&self) -> Result<Vec<i64>, AuditError> {
        let mut intents = Intents::default();
        let mut after = 0;
        loop {
            let page = self.page(after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in &page {
                intents.push(entry);
            }
        }
        Ok(intents.unresolved())
    }

    /// Up to `limit` entries after `after`, for export.
    pub async fn page(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, AuditError> {
        self.store
            .page(after, limit)
            .await
            .map_err(AuditError::Unreadable)
    }

    /// Up to `limit` entries that `filter` shows, older than entry `before` when given, newest
    /// first: the console's pages (the next page starts before the last `seq` shown).
    pub async fn newest(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, AuditError> {
        self.store
            .newest(filter, before, limit)
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
