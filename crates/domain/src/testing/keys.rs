//! The key ring's doubles: signing keys and the ring-changed announcer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use kunci_crypto::keyring::{KeyPurpose, KeyState, Kid};

use super::{Outage, guard};
use crate::audit::Journal;
use crate::keys::{RingChanged, SigningKeyStore, StoredKey};
use crate::store::StoreError;

/// Signing keys: one active key per purpose (the unique index), rotations in one step.
#[derive(Debug, Default)]
pub(crate) struct MemoryKeys {
    rows: Mutex<Vec<StoredKey>>,
    pub(crate) outage: Outage,
}

impl MemoryKeys {
    /// Key `kid` as stored now (whatever the outage switch says).
    pub(crate) fn get(&self, kid: &Kid) -> Option<StoredKey> {
        guard(&self.rows).iter().find(|k| &k.kid == kid).cloned()
    }
}

/// The row the SQL `INSERT` writes for a new key of `purpose`: active, never demoted, no
/// verifications yet.
fn inserted(key: &StoredKey, purpose: KeyPurpose) -> StoredKey {
    StoredKey {
        purpose,
        state: KeyState::Active,
        verify_since: None,
        retired_at: None,
        verifications: 0,
        ..key.clone()
    }
}

/// Whether `k` stands in the way of inserting `key`: the same kid, or the active key of its
/// purpose.
fn occupies(k: &StoredKey, key: &StoredKey) -> bool {
    k.kid == key.kid || (k.purpose == key.purpose && k.state == KeyState::Active)
}

fn is_active(k: &StoredKey, kid: &Kid, purpose: KeyPurpose) -> bool {
    &k.kid == kid && k.purpose == purpose && k.state == KeyState::Active
}

#[async_trait]
impl SigningKeyStore for MemoryKeys {
    async fn list(&self) -> Result<Vec<StoredKey>, StoreError> {
        self.outage.check("signing keys")?;
        let mut all = guard(&self.rows).clone();
        all.sort_by_key(|k| (k.created_at, k.kid.clone()));
        Ok(all)
    }

    async fn insert_active(
        &self,
        key: &StoredKey,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError> {
        self.outage.check("signing keys")?;
        if guard(&self.rows).iter().any(|k| occupies(k, key)) {
            return Err(StoreError::Conflict);
        }
        if let Some(journal) = journal {
            journal.append_alone().await?;
        }
        guard(&self.rows).push(inserted(key, key.purpose));
        Ok(())
    }

    async fn rotate(
        &self,
        purpose: KeyPurpose,
        expected: &Kid,
        new: &StoredKey,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError> {
        self.outage.check("signing keys")?;
        {
            let rows = guard(&self.rows);
            if !rows.iter().any(|k| is_active(k, expected, purpose))
                || rows.iter().any(|k| k.kid == new.kid)
            {
                return Err(StoreError::Conflict);
            }
        }
        if let Some(journal) = journal {
            journal.append_alone().await?;
        }
        let mut rows = guard(&self.rows);
        let Some(old) = rows.iter().position(|k| is_active(k, expected, purpose)) else {
            return Err(StoreError::Conflict);
        };
        rows[old].state = KeyState::Verify;
        rows[old].verify_since = Some(now);
        rows.push(inserted(new, purpose));
        Ok(())
    }

    async fn retire(
        &self,
        kid: &Kid,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<bool, StoreError> {
        self.outage.check("signing keys")?;
        let verifying = |k: &StoredKey| &k.kid == kid && k.state == KeyState::Verify;
        if !guard(&self.rows).iter().any(verifying) {
            return Ok(false);
        }
        if let Some(journal) = journal {
            journal.append_alone().await?;
        }
        let mut rows = guard(&self.rows);
        let Some(key) = rows.iter_mut().find(|k| verifying(k)) else {
            return Ok(false);
        };
        key.state = KeyState::Retired;
        key.retired_at = Some(now);
        Ok(true)
    }

    async fn add_verifications(&self, counts: &[(Kid, u64)]) -> Result<(), StoreError> {
        self.outage.check("signing keys")?;
        let mut rows = guard(&self.rows);
        for (kid, n) in counts {
            if let Some(key) = rows.iter_mut().find(|k| &k.kid == kid) {
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                key.verifications = key.verifications.saturating_add(n);
            }
        }
        Ok(())
    }
}

/// A [`RingChanged`] that counts the announcements it could make.
#[derive(Debug, Default)]
pub(crate) struct Announcements {
    made: AtomicUsize,
    pub(crate) outage: Outage,
}

impl Announcements {
    pub(crate) fn count(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl RingChanged for Announcements {
    async fn announce(&self) -> Result<(), StoreError> {
        self.outage.check("announcements")?;
        self.made.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
