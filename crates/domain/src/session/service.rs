//! [`Sessions`], the session rules: start a bootstrap session, log in (a new id in place of the
//! old: no fixation), find with idle and absolute timeouts, touch at most once a minute,
//! regenerate, destroy one, one of an account, or all of an account. Stores only persist.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Scope, SessionId, SessionRecord, SessionStore};
use crate::clock::Clock;
use crate::store::StoreError;

/// The key of the account name in a logged-in session's data.
pub const USERNAME: &str = "username";

/// The timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Seconds without a request after which the session ends (default 30 min).
    pub idle_secs: i64,
    /// Seconds after creation at which the session ends whatever happens (default 12 h).
    pub absolute_secs: i64,
    /// A request refreshes `last_seen` in the store only when it is at least this old, so a
    /// busy page does not write on every request (default 60 s; the idle timeout is exact to
    /// within this).
    pub touch_after_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_secs: 30 * 60,
            absolute_secs: 12 * 3600,
            touch_after_secs: 60,
        }
    }
}

/// The session rules over a store.
#[derive(Debug, Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

/// A session found (and touched if due), or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Live(SessionRecord),
    /// No session under this id: never created, destroyed, or expired.
    Missing,
}

impl Sessions {
    pub fn new(store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>, policy: SessionPolicy) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// A new session for the browser `uid`, scope `basic`.
    pub async fn start(&self, uid: &str) -> Result<(SessionId, SessionRecord), StoreError> {
        let now = self.now();
        self.create(
            uid,
            None,
            vec![Scope::Basic],
            now,
            now + self.policy.absolute_secs,
            BTreeMap::new(),
        )
        .await
    }

    /// A logged-in session for `account`, replacing `old` (if any) with a new id: no session
    /// fixation. The account's name is kept in the session's data for display.
    pub async fn log_in(
        &self,
        old: Option<&SessionId>,
        uid: &str,
        account_id: &str,
        username: &str,
        scopes: Vec<Scope>,
    ) -> Result<(SessionId, SessionRecord), StoreError> {
        if let Some(old) = old {
            self.store.delete(&old.storage_key()).await?;
        }
        let now = self.now();
        let data = BTreeMap::from([(USERNAME.to_owned(), username.to_owned())]);
        self.create(
            uid,
            Some(account_id.to_owned()),
            scopes,
            now,
            now + self.policy.absolute_secs,
            data,
        )
        .await
    }

    async fn create(
        &self,
        uid: &str,
        sub: Option<String>,
        scopes: Vec<Scope>,
        now: i64,
        absolute: i64,
        data: BTreeMap<String, String>,
    ) -> Result<(SessionId, SessionRecord), StoreError> {
        // A collision of 256-bit random ids does not happen; retrying covers a broken store
        // that says it did, without ever overwriting someone else's session.
        for _ in 0..3 {
            let id = SessionId::generate().map_err(|_| {
                StoreError::unavailable("random", "the random number generator failed")
            })?;
            let record = SessionRecord {
                key: id.storage_key(),
                uid: uid.to_owned(),
                sub: sub.clone(),
                scopes: scopes.clone(),
                csrf: random_secret()?,
                created_at: now,
                last_seen: now,
                absolute_expires_at: absolute,
                expires_at: (now + self.policy.idle_secs).min(absolute),
                data: data.clone(),
            };
            match self.store.create(&record).await {
                Ok(()) => return Ok((id, record)),
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The live session under `id`, touched when due.
    pub async fn find(&self, id: &SessionId) -> Result<Lookup, StoreError> {
        let now = self.now();
        let Some(mut record) = self.store.load(&id.storage_key(), now).await? else {
            return Ok(Lookup::Missing);
        };
        // A store that does not expire by itself may still hand back an expired record.
        if record.is_expired(now) {
            self.store.delete(&record.key).await?;
            return Ok(Lookup::Missing);
        }
        if now - record.last_seen >= self.policy.touch_after_secs {
            record.last_seen = now;
            record.expires_at = (now + self.policy.idle_secs).min(record.absolute_expires_at);
            self.store.save(&record).await?;
        }
        Ok(Lookup::Live(record))
    }

    /// Replaces the session with a new id carrying `sub` and `scopes` (at login: no session
    /// fixation). The browser id is kept; the CSRF secret and the absolute limit start anew.
    pub async fn regenerate(
        &self,
        old: &SessionId,
        uid: &str,
        sub: Option<String>,
        scopes: Vec<Scope>,
    ) -> Result<(SessionId, SessionRecord), StoreError> {
        self.store.delete(&old.storage_key()).await?;
        let now = self.now();
        self.create(
            uid,
            sub,
            scopes,
            now,
            now + self.policy.absolute_secs,
            BTreeMap::new(),
        )
        .await
    }

    /// Ends a session.
    pub async fn destroy(&self, id: &SessionId) -> Result<(), StoreError> {
        self.store.delete(&id.storage_key()).await
    }

    /// The live sessions of an account, soonest to expire first.
    pub async fn of_account(&self, sub: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.store.list_by_account(sub, self.now()).await
    }

    /// Ends the session stored under `key` (its storage key, as listed), if it belongs to
    /// `sub`. False when there is no such session of that account.
    pub async fn destroy_key_of(&self, sub: &str, key: &str) -> Result<bool, StoreError> {
        let owned = self
            .store
            .list_by_account(sub, self.now())
            .await?
            .iter()
            .any(|r| r.key == key);
        if owned {
            self.store.delete(key).await?;
        }
        Ok(owned)
    }

    /// Ends every session of an account ("log out everywhere"); returns how many.
    pub async fn destroy_account(&self, sub: &str) -> Result<u64, StoreError> {
        self.store.delete_by_account(sub).await
    }
}

fn random_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| StoreError::unavailable("random", "the random number generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
