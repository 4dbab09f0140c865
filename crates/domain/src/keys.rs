//! The signing-key pool: the rules of rotation and retirement over a store, and the ring every
//! request verifies against.
//!
//! - At start, each purpose without an active key gets one.
//! - `rotate` makes a new active key; the old one moves to `verify`, so everything it signed
//!   keeps verifying: a rotation logs nobody out.
//! - A `verify` key is retired only after the longest lifetime of what it signed (the absolute
//!   session timeout for cookie keys, the access-token lifetime plus clock skew for JWT keys).
//! - Every instance reloads the ring from the store, so rotations made elsewhere are seen
//!   (within the reload interval, or at once when notified).
//! - Key material is stored sealed under the master key, bound to its kid.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use kunci_crypto::MasterKey;
use kunci_crypto::keyring::{KeyPurpose, KeyRing, KeyState, Kid, Material, SigningKey};

use crate::audit::{Actor, AuditError, AuditEvent, AuditLog, AuditedError, Journal, Written};
use crate::clock::Clock;
use crate::notify::{EventKind, Notification, Notifier, Silent};
use crate::store::StoreError;

/// A key as stored: material sealed, times in Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: Kid,
    pub purpose: KeyPurpose,
    pub state: KeyState,
    /// The material sealed under the master key (`ks1.…`), context `signing_key:<kid>`.
    pub sealed: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub verify_since: Option<i64>,
    pub retired_at: Option<i64>,
    /// How many verifications this key has served (flushed from memory periodically).
    pub verifications: i64,
}

/// Where keys live.
#[async_trait]
pub trait SigningKeyStore: Send + Sync + std::fmt::Debug {
    async fn list(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Inserts the first active key of its purpose; [`StoreError::Conflict`] if the purpose
    /// has an active key already (another instance was first).
    async fn insert_active(
        &self,
        key: &StoredKey,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError>;

    /// In one transaction: the active key of `purpose`, which must be `expected`, becomes
    /// `verify` at `now`, and `new` becomes active. [`StoreError::Conflict`] when `expected` is
    /// no longer the active key (someone else rotated).
    async fn rotate(
        &self,
        purpose: KeyPurpose,
        expected: &Kid,
        new: &StoredKey,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError>;

    /// A `verify` key becomes `retired`; `false` if it was not in state `verify`.
    async fn retire(
        &self,
        kid: &Kid,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<bool, StoreError>;

    /// Adds to the verification counters.
    async fn add_verifications(&self, counts: &[(Kid, u64)]) -> Result<(), StoreError>;
}

/// Tells the other instances that the ring changed, so they reload at once instead of at
/// their next periodic reload.
#[async_trait]
pub trait RingChanged: Send + Sync + std::fmt::Debug {
    async fn announce(&self) -> Result<(), StoreError>;
}

/// How long keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Rotate the active keys automatically after this many days; `None`: only by hand.
    pub rotation_days: Option<u32>,
    /// How long a cookie key keeps verifying after a rotation: at least the absolute session
    /// lifetime, since CSRF tokens live as long as their session.
    pub cookie_verify_secs: i64,
    /// How long a JWT key keeps verifying: at least the access-token lifetime plus skew.
    pub jwt_verify_secs: i64,
}

impl KeyPolicy {
    fn verify_secs(&self, purpose: KeyPurpose) -> i64 {
        match purpose {
            KeyPurpose::Cookie => self.cookie_verify_secs,
            KeyPurpose::Jwt => self.jwt_verify_secs,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("key {kid} cannot be opened: {cause}")]
    Unsealable { kid: Kid, cause: String },
    #[error("no key {0}")]
    UnknownKey(Kid),
    #[error("key {0} is not in state verify; only verify keys can be retired")]
    NotVerify(Kid),
    #[error(transparent)]
    Ring(#[from] kunci_crypto::keyring::KeyRingError),
    #[error("sealing failed: {0}")]
    Seal(String),
    #[error(transparent)]
    Audit(AuditError),
}

/// The ring in force and the rules that change it. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct KeyRingService {
    store: Arc<dyn SigningKeyStore>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    policy: KeyPolicy,
    ring: ArcSwap<KeyRing>,
    keys: ArcSwap<Vec<StoredKey>>,
    counters: ArcSwap<HashMap<Kid, Arc<AtomicU64>>>,
    announcer: Option<Arc<dyn RingChanged>>,
    audit: Option<AuditLog>,
    notifier: Arc<dyn Notifier>,
}

fn context(kid: &Kid) -> Vec<u8> {
    format!("signing_key:{kid}").into_bytes()
}

impl KeyRingService {
    /// Loads the ring, creating an active key for every purpose that has none.
    pub async fn start(
        store: Arc<dyn SigningKeyStore>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        policy: KeyPolicy,
    ) -> Result<Self, KeyError> {
        let service = Self {
            store,
            master,
            clock,
            policy,
            ring: ArcSwap::from_pointee(KeyRing::default()),
            keys: ArcSwap::from_pointee(Vec::new()),
            counters: ArcSwap::from_pointee(HashMap::new()),
            announcer: None,
            audit: None,
            notifier: Arc::new(Silent),
        };
        let existing = service.store.list().await?;
        for purpose in KeyPurpose::ALL {
            if !existing
                .iter()
                .any(|k| k.purpose == purpose && k.state == KeyState::Active)
            {
                let key = service.new_stored_key(purpose)?;
                match service.store.insert_active(&key, None).await {
                    Ok(()) => {
                        tracing::info!(kid = %key.kid, purpose = purpose.as_str(), "created the first signing key");
                    }
                    // Another instance created it at the same moment.
                    Err(StoreError::Conflict) => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
        service.reload().await?;
        Ok(service)
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Announces every change of this instance's making through `announcer`.
    #[must_use]
    pub fn with_announcer(mut self, announcer: Arc<dyn RingChanged>) -> Self {
        self.announcer = Some(announcer);
        self
    }

    /// Records every rotation and retirement in `audit` before it happens; refused when the
    /// entry cannot be written.
    #[must_use]
    pub fn with_audit(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Reports rotations as `signing_key_rotated`.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Runs `write` with the journal of `event` when there is an audit log (see [`Journal`]).
    async fn audited<T, F, Fut>(&self, event: AuditEvent, write: F) -> Result<T, KeyError>
    where
        T: Written,
        F: FnOnce(Option<Journal>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        match &self.audit {
            None => Ok(write(None).await?),
            Some(audit) => audit
                .within(event, async |journal| write(Some(journal)).await)
                .await
                .map_err(|err| match err {
                    AuditedError::Audit(err) => KeyError::Audit(err),
                    AuditedError::Action(err) => err.into(),
                }),
        }
    }

    async fn announce(&self) {
        if let Some(announcer) = &self.announcer {
            // The periodic reload still carries the change if the announcement is lost.
            if let Err(err) = announcer.announce().await {
                tracing::warn!(error = %err, "could not announce a key-ring change");
            }
        }
    }

    fn new_stored_key(&self, purpose: KeyPurpose) -> Result<StoredKey, KeyError> {
        let key = SigningKey::generate(purpose)?;
        let sealed = self
            .master
            .seal(&context(&key.kid), key.material().to_bytes().as_slice())
            .map_err(|e| KeyError::Seal(e.to_string()))?;
        let now = self.now();
        Ok(StoredKey {
            kid: key.kid,
            purpose,
            state: KeyState::Active,
            sealed,
            created_at: now,
            activated_at: Some(now),
            verify_since: None,
            retired_at: None,
            verifications: 0,
        })
    }

    /// The ring in force now.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Every key with its state and times, as last loaded.
    pub fn keys(&self) -> Arc<Vec<StoredKey>> {
        self.keys.load_full()
    }

    /// Re-reads the store. Returns whether anything changed. Material already opened is
    /// reused; only new kids are unsealed.
    pub async fn reload(&self) -> Result<bool, KeyError> {
        let stored = self.store.list().await?;
        let current = self.ring();
        let changed = stored.len() != self.keys.load().len()
            || stored
                .iter()
                .zip(self.keys.load().iter())
                .any(|(a, b)| (&a.kid, a.state) != (&b.kid, b.state));
        if !changed {
            self.keys.store(Arc::new(stored));
            return Ok(false);
        }
        let mut signing = Vec::with_capacity(stored.len());
        for row in &stored {
            let material = match current.keys().find(|k| k.kid == row.kid) {
                Some(known) => known.material().clone(),
                None => {
                    let bytes = self
                        .master
                        .open(&context(&row.kid), &row.sealed)
                        .map_err(|e| KeyError::Unsealable {
                            kid: row.kid.clone(),
                            cause: e.to_string(),
                        })?;
                    Material::from_bytes(row.purpose, &bytes)?
                }
            };
            signing.push(SigningKey::new(
                row.kid.clone(),
                row.purpose,
                row.state,
                material,
            ));
        }
        let ring = KeyRing::new(signing)?;
        let counters = self.counters.load();
        let rebuilt: HashMap<Kid, Arc<AtomicU64>> = stored
            .iter()
            .map(|k| {
                (
                    k.kid.clone(),
                    counters.get(&k.kid).cloned().unwrap_or_default(),
                )
            })
            .collect();
        self.counters.store(Arc::new(rebuilt));
        self.ring.store(Arc::new(ring));
        self.keys.store(Arc::new(stored));
        Ok(true)
    }

    /// Makes a new active key for `purpose`; the old one keeps verifying. Returns the new kid.
    /// The schedule's rotations: actor `system`.
    pub async fn rotate(&self, purpose: KeyPurpose) -> Result<Kid, KeyError> {
        self.rotate_as(&Actor::system(), purpose).await
    }

    /// [`Self::rotate`] on behalf of `actor` (as the audit log names it).
    pub async fn rotate_as(&self, actor: &Actor, purpose: KeyPurpose) -> Result<Kid, KeyError> {
        self.reload().await?;
        let new = self.new_stored_key(purpose)?;
        let expected = self.ring().active(purpose).map(|k| k.kid.clone());
        let target = match &expected {
            Some(old) => format!("{} {old} -> {}", purpose.as_str(), new.kid),
            None => format!("{} -> {}", purpose.as_str(), new.kid),
        };
        let event = AuditEvent::by(actor, "signing_key.rotated", target);
        let now = self.now();
        self.audited(event, async |journal| match &expected {
            Some(expected) => {
                self.store
                    .rotate(purpose, expected, &new, now, journal.as_ref())
                    .await
            }
            None => self.store.insert_active(&new, journal.as_ref()).await,
        })
        .await?;
        tracing::info!(kid = %new.kid, ?expected, purpose = purpose.as_str(), "rotated the signing key");
        let mut notice =
            Notification::new(EventKind::SigningKeyRotated, self.now(), new.kid.as_str())
                .detail("purpose", purpose.as_str())
                .detail("actor", actor);
        if let Some(old) = &expected {
            notice = notice.detail("previous", old.as_str());
        }
        self.notifier.notify(notice);
        self.reload().await?;
        self.announce().await;
        Ok(new.kid)
    }

    /// Retires a `verify` key at once (before its window ends: what it signed stops verifying;
    /// browsers with a live session simply get a fresh token).
    pub async fn retire(&self, kid: &Kid) -> Result<(), KeyError> {
        self.retire_as(&Actor::system(), kid).await
    }

    /// [`Self::retire`] on behalf of `actor`.
    pub async fn retire_as(&self, actor: &Actor, kid: &Kid) -> Result<(), KeyError> {
        self.reload().await?;
        let keys = self.keys();
        let key = keys
            .iter()
            .find(|k| &k.kid == kid)
            .ok_or_else(|| KeyError::UnknownKey(kid.clone()))?;
        if key.state != KeyState::Verify {
            return Err(KeyError::NotVerify(kid.clone()));
        }
        let event = AuditEvent::by(actor, "signing_key.retired", kid.as_str());
        let now = self.now();
        let retired = self
            .audited(event, async |journal| {
                self.store.retire(kid, now, journal.as_ref()).await
            })
            .await?;
        if !retired {
            return Err(KeyError::NotVerify(kid.clone()));
        }
        self.reload().await?;
        self.announce().await;
        Ok(())
    }

    /// The schedule: rotates active keys older than the rotation period and retires verify keys
    /// whose window has passed. Returns what it did, for the log.
    pub async fn run_schedule(&self) -> Result<Vec<String>, KeyError> {
        self.reload().await?;
        let now = self.now();
        let mut done = Vec::new();
        let keys = self.keys();
        for key in keys.iter() {
            match key.state {
                KeyState::Verify => {
                    let since = key.verify_since.unwrap_or(key.created_at);
                    if now - since >= self.policy.verify_secs(key.purpose) {
                        match self.retire(&key.kid).await {
                            Ok(()) => done.push(format!("retired {}", key.kid)),
                            // Another instance retired it first.
                            Err(KeyError::NotVerify(_)) => {}
                            Err(err) => return Err(err),
                        }
                    }
                }
                KeyState::Active => {
                    let Some(days) = self.policy.rotation_days else {
                        continue;
                    };
                    let since = key.activated_at.unwrap_or(key.created_at);
                    if now - since >= i64::from(days) * 86_400 {
                        match self.rotate(key.purpose).await {
                            Ok(kid) => done.push(format!("rotated {} to {kid}", key.kid)),
                            // Another instance rotated first: nothing left to do.
                            Err(KeyError::Store(StoreError::Conflict)) => {}
                            Err(err) => return Err(err),
                        }
                    }
                }
                KeyState::Retired => {}
            }
        }
        if !done.is_empty() {
            self.reload().await?;
        }
        Ok(done)
    }

    /// Counts one verification by `kid` (lock-free; flushed by [`Self::flush_verifications`]).
    pub fn record_verification(&self, kid: &Kid) {
        if let Some(counter) = self.counters.load().get(kid) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes the counted verifications to the store.
    pub async fn flush_verifications(&self) -> Result<(), KeyError> {
        let counts: Vec<(Kid, u64)> = self
            .counters
            .load()
            .iter()
            .map(|(kid, counter)| (kid.clone(), counter.swap(0, Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        if counts.is_empty() {
            return Ok(());
        }
        if let Err(err) = self.store.add_verifications(&counts).await {
            // Put them back for the next flush rather than lose them.
            for (kid, n) in counts {
                self.record_many(&kid, n);
            }
            return Err(err.into());
        }
        Ok(())
    }

    fn record_many(&self, kid: &Kid, n: u64) {
        if let Some(counter) = self.counters.load().get(kid) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::testing::{Announcements, Base, MemoryKeys};

    const POLICY: KeyPolicy = KeyPolicy {
        rotation_days: Some(90),
        cookie_verify_secs: 7 * 86_400,
        jwt_verify_secs: 3_600,
    };

    async fn try_start(
        base: &Base,
        store: &Arc<MemoryKeys>,
        policy: KeyPolicy,
    ) -> Result<KeyRingService, KeyError> {
        KeyRingService::start(store.clone(), base.master.clone(), base.clock(), policy).await
    }

    /// A service with the audit log and the recorder of `base`.
    async fn start(base: &Base, store: &Arc<MemoryKeys>) -> KeyRingService {
        try_start(base, store, POLICY)
            .await
            .unwrap()
            .with_audit(base.audit.clone())
            .with_notifier(base.heard.clone())
    }

    fn active(service: &KeyRingService, purpose: KeyPurpose) -> Kid {
        service.ring().active(purpose).unwrap().kid.clone()
    }

    #[tokio::test]
    async fn start_creates_one_active_key_per_purpose_and_another_instance_reuses_them() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let first = start(&base, &store).await;
        assert_eq!(first.keys().len(), 2);
        let second = start(&base, &store).await;
        assert_eq!(second.keys().len(), 2, "no new key");
        for purpose in KeyPurpose::ALL {
            assert_eq!(active(&first, purpose), active(&second, purpose));
        }
        // The material went through the store sealed and came back the same.
        let ring = first.ring();
        let signer = ring.active(KeyPurpose::Cookie).unwrap();
        let tag = signer.mac("test", b"message").unwrap();
        let ring = second.ring();
        let verifier = ring.verifier(&signer.kid, KeyPurpose::Cookie).unwrap();
        assert!(verifier.verify_mac("test", b"message", &tag));
    }

    #[tokio::test]
    async fn a_rotation_keeps_the_old_key_verifying() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let service = start(&base, &store).await;
        let old = active(&service, KeyPurpose::Cookie);
        let jwt = active(&service, KeyPurpose::Jwt);
        let ring = service.ring();
        let tag = ring.active(KeyPurpose::Cookie).unwrap().mac("test", b"m");
        base.clock.advance(Duration::hours(1));

        let new = service
            .rotate_as(&Actor::cli(), KeyPurpose::Cookie)
            .await
            .unwrap();
        assert_ne!(new, old);
        assert_eq!(active(&service, KeyPurpose::Cookie), new);
        let ring = service.ring();
        let verifier = ring.verifier(&old, KeyPurpose::Cookie).unwrap();
        assert_eq!(verifier.state, KeyState::Verify);
        let tag = tag.unwrap();
        assert!(verifier.verify_mac("test", b"m", &tag), "still verifies");
        let stored = store.get(&old).unwrap();
        assert_eq!(stored.verify_since, Some(base.clock.now_unix()));
        assert_eq!(active(&service, KeyPurpose::Jwt), jwt, "untouched");
    }

    #[tokio::test]
    async fn a_rotation_is_audited_and_notified() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let service = start(&base, &store).await;
        let old = active(&service, KeyPurpose::Jwt);
        let rotated = service
            .rotate_as(&Actor::user(Some("root"), None), KeyPurpose::Jwt)
            .await;
        let new = rotated.unwrap();

        let rotations: Vec<String> = base
            .audited()
            .into_iter()
            .filter(|d| d.action == "signing_key.rotated")
            .map(|d| format!("{} {} {}", d.actor, d.target, d.outcome))
            .collect();
        assert_eq!(rotations, [format!("user:root jwt {old} -> {new} allowed")]);

        let heard = base.heard.heard();
        assert_eq!(heard.len(), 1);
        assert_eq!(heard[0].kind, EventKind::SigningKeyRotated);
        assert_eq!(heard[0].subject, new.as_str());
        let detail = |key: &str| heard[0].details.get(key).cloned();
        assert_eq!(detail("previous"), Some(old.to_string()));
        assert_eq!(detail("purpose"), Some("jwt".to_owned()));
        assert_eq!(detail("actor"), Some("user:root".to_owned()));
    }

    #[tokio::test]
    async fn a_rotation_that_cannot_be_audited_does_not_happen() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let service = start(&base, &store).await;
        let old = active(&service, KeyPurpose::Cookie);
        base.audit_store.outage.set(true);
        let rotated = service.rotate(KeyPurpose::Cookie).await;
        assert!(matches!(rotated, Err(KeyError::Audit(_))), "{rotated:?}");
        base.audit_store.outage.set(false);

        assert!(!service.reload().await.unwrap(), "the store is unchanged");
        assert_eq!(store.list().await.unwrap().len(), 2);
        assert_eq!(active(&service, KeyPurpose::Cookie), old);
        assert!(base.heard.heard().is_empty());
    }

    #[tokio::test]
    async fn only_verify_keys_are_retired_and_a_retired_key_verifies_nothing() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let service = start(&base, &store).await;
        let old = active(&service, KeyPurpose::Cookie);
        let retired = service.retire(&old).await;
        assert!(matches!(retired, Err(KeyError::NotVerify(_))), "active");
        let unknown = Kid::parse("ck_unknown").unwrap();
        let retired = service.retire(&unknown).await;
        assert!(matches!(retired, Err(KeyError::UnknownKey(_))));

        service.rotate(KeyPurpose::Cookie).await.unwrap();
        base.clock.advance(Duration::minutes(5));
        service.retire_as(&Actor::cli(), &old).await.unwrap();
        assert!(service.ring().verifier(&old, KeyPurpose::Cookie).is_none());
        let stored = store.get(&old).unwrap();
        assert_eq!(stored.state, KeyState::Retired);
        assert_eq!(stored.retired_at, Some(base.clock.now_unix()));
        let again = service.retire(&old).await;
        assert!(matches!(again, Err(KeyError::NotVerify(_))), "retired once");

        let retirements: Vec<String> = base
            .audited()
            .into_iter()
            .filter(|d| d.action == "signing_key.retired")
            .map(|d| format!("{} {}", d.actor, d.target))
            .collect();
        assert_eq!(retirements, [format!("cli {old}")]);
    }

    #[tokio::test]
    async fn the_schedule_rotates_active_keys_after_the_rotation_period() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let service = start(&base, &store).await;
        let cookie = active(&service, KeyPurpose::Cookie);
        let jwt = active(&service, KeyPurpose::Jwt);
        let almost = Duration::days(90) - Duration::seconds(1);
        base.clock.advance(almost);
        assert!(service.run_schedule().await.unwrap().is_empty(), "not yet");

        base.clock.advance(Duration::seconds(1));
        assert_eq!(service.run_schedule().await.unwrap().len(), 2);
        assert_ne!(active(&service, KeyPurpose::Cookie), cookie);
        assert_ne!(active(&service, KeyPurpose::Jwt), jwt);
        assert_eq!(store.get(&cookie).unwrap().state, KeyState::Verify);
        assert_eq!(store.get(&jwt).unwrap().state, KeyState::Verify);
        let next = service.run_schedule().await.unwrap();
        assert!(next.is_empty(), "the new keys are not due");
        assert_eq!(base.heard.kinds().len(), 2, "each rotation notified");
    }

    #[tokio::test]
    async fn verify_keys_retire_once_what_they_signed_has_expired() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let service = start(&base, &store).await;
        let cookie = active(&service, KeyPurpose::Cookie);
        let jwt = active(&service, KeyPurpose::Jwt);
        service.rotate(KeyPurpose::Cookie).await.unwrap();
        service.rotate(KeyPurpose::Jwt).await.unwrap();

        let almost = Duration::seconds(POLICY.jwt_verify_secs - 1);
        base.clock.advance(almost);
        assert!(service.run_schedule().await.unwrap().is_empty());
        base.clock.advance(Duration::seconds(1));
        let done = service.run_schedule().await.unwrap();
        assert_eq!(done, [format!("retired {jwt}")]);
        let still = store.get(&cookie).unwrap().state;
        assert_eq!(still, KeyState::Verify, "cookie keys verify for longer");

        let rest = POLICY.cookie_verify_secs - POLICY.jwt_verify_secs;
        base.clock.advance(Duration::seconds(rest - 1));
        assert!(service.run_schedule().await.unwrap().is_empty());
        base.clock.advance(Duration::seconds(1));
        let done = service.run_schedule().await.unwrap();
        assert_eq!(done, [format!("retired {cookie}")]);
        let ring = service.ring();
        assert!(ring.verifier(&cookie, KeyPurpose::Cookie).is_none());
        assert!(ring.verifier(&jwt, KeyPurpose::Jwt).is_none());
    }

    #[tokio::test]
    async fn without_a_rotation_period_keys_rotate_only_by_hand() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let by_hand = KeyPolicy {
            rotation_days: None,
            ..POLICY
        };
        let service = try_start(&base, &store, by_hand).await.unwrap();
        let cookie = active(&service, KeyPurpose::Cookie);
        base.clock.advance(Duration::days(1000));
        assert!(service.run_schedule().await.unwrap().is_empty());
        assert_eq!(active(&service, KeyPurpose::Cookie), cookie);
    }

    #[tokio::test]
    async fn a_rotation_made_by_another_instance_is_seen_at_the_next_reload() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let here = start(&base, &store).await;
        let there = start(&base, &store).await;
        let new = there.rotate(KeyPurpose::Cookie).await.unwrap();
        assert_ne!(active(&here, KeyPurpose::Cookie), new, "not yet");
        assert!(here.reload().await.unwrap());
        assert_eq!(active(&here, KeyPurpose::Cookie), new);
        assert!(!here.reload().await.unwrap(), "nothing more changed");

        let newer = here.rotate(KeyPurpose::Cookie).await.unwrap();
        assert!(there.reload().await.unwrap());
        assert_eq!(active(&there, KeyPurpose::Cookie), newer);
    }

    #[tokio::test]
    async fn changes_are_announced_and_a_lost_announcement_undoes_nothing() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let announcer = Arc::new(Announcements::default());
        let service = start(&base, &store).await.with_announcer(announcer.clone());
        let old = active(&service, KeyPurpose::Cookie);
        service.rotate(KeyPurpose::Cookie).await.unwrap();
        service.retire(&old).await.unwrap();
        assert_eq!(announcer.count(), 2);

        announcer.outage.set(true);
        let newer = service.rotate(KeyPurpose::Cookie).await.unwrap();
        assert_eq!(active(&service, KeyPurpose::Cookie), newer);
        assert_eq!(store.get(&newer).unwrap().state, KeyState::Active);
        assert_eq!(announcer.count(), 2);
    }

    #[tokio::test]
    async fn verification_counts_survive_a_failed_flush() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let service = start(&base, &store).await;
        let kid = active(&service, KeyPurpose::Jwt);
        for _ in 0..3 {
            service.record_verification(&kid);
        }
        store.outage.set(true);
        assert!(service.flush_verifications().await.is_err());
        store.outage.set(false);
        service.record_verification(&kid);
        service.flush_verifications().await.unwrap();
        assert_eq!(store.get(&kid).unwrap().verifications, 4);
        service.flush_verifications().await.unwrap();
        assert_eq!(store.get(&kid).unwrap().verifications, 4, "counted once");
    }

    #[tokio::test]
    async fn a_key_sealed_for_another_kid_is_refused() {
        let base = Base::new();
        let store = Arc::new(MemoryKeys::default());
        let material = Material::generate(KeyPurpose::Cookie).unwrap();
        let other = Kid::parse("ck_other-key").unwrap();
        let bytes = material.to_bytes();
        let sealed = base.master.seal(&context(&other), bytes.as_slice());
        let sealed = sealed.unwrap();
        let moved = StoredKey {
            kid: Kid::parse("ck_this-key").unwrap(),
            purpose: KeyPurpose::Cookie,
            state: KeyState::Active,
            sealed,
            created_at: 0,
            activated_at: Some(0),
            verify_since: None,
            retired_at: None,
            verifications: 0,
        };
        store.insert_active(&moved, None).await.unwrap();
        let started = try_start(&base, &store, POLICY).await;
        assert!(matches!(started, Err(KeyError::Unsealable { .. })));
    }
}
