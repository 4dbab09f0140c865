//! Refresh tokens of the mobile flow (SPEC §5): opaque, stored hashed, rotated on every use,
//! grouped in families bound to the app instance (`client_id`) that logged in.
//!
//! - Every refresh kills the token used and hands out a new pair.
//! - A dead token presented again means it was copied: the whole family is revoked, audited
//!   and notified (`refresh_token_reuse`) — except within a short grace window, in which the
//!   *immediately previous* token, from the *same* client, gets the same new pair again
//!   (two requests of one app racing are not theft). The new pair is kept sealed under the
//!   master key with the used token for that purpose.
//! - A token presented by another client than its family's is revoked at once.
//! - A family ends at its absolute lifetime however often it is refreshed.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::{MasterKey, SecretString};
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, AuditEvent, AuditLog, Outcome};
use crate::clock::Clock;
use crate::notify::{EventKind, Notification, Notifier};
use crate::store::StoreError;

/// A login of one app instance, and every token rotated from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: String,
    pub account_id: String,
    pub client_id: String,
    pub created_at: i64,
    /// The absolute end, whatever happens.
    pub expires_at: i64,
    pub last_used_at: i64,
    pub revoked_at: Option<i64>,
}

/// One refresh token, by the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: String,
    pub family_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When it was exchanged; `None` while it is the family's current token.
    pub used_at: Option<i64>,
    /// The pair it was exchanged for, sealed, for the grace window.
    pub successor: Option<String>,
}

#[async_trait]
pub trait RefreshStore: Send + Sync + fmt::Debug {
    /// Stores a new family with its first token, in one transaction.
    async fn create_family(&self, family: &Family, first: &TokenRecord) -> Result<(), StoreError>;
    async fn find(&self, hash: &str) -> Result<Option<(TokenRecord, Family)>, StoreError>;
    /// Marks `old` used (keeping `successor`) and stores `new`, in one transaction, only if
    /// `old` is still unused: false when another request used it first.
    async fn rotate(
        &self,
        old: &str,
        successor: &str,
        new: &TokenRecord,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// False when it was revoked already (or does not exist).
    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<bool, StoreError>;
    /// Revokes every live family of an account; returns how many.
    async fn revoke_account(&self, account_id: &str, now: i64) -> Result<u64, StoreError>;
    /// The live families of an account, newest first.
    async fn families(&self, account_id: &str, now: i64) -> Result<Vec<Family>, StoreError>;
}

/// A pair handed to an app.
#[derive(Clone, Serialize, Deserialize)]
pub struct Pair {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pair")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    pub token_secs: i64,
    pub family_secs: i64,
    pub grace_secs: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked, reused or presented by another client: one answer.
    #[error("invalid_grant")]
    InvalidGrant,
    #[error("`client_id` must be 8 to 128 characters of letters, digits, `-`, `_` and `.`")]
    BadClientId,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(crate::audit::AuditError),
    #[error("the access token could not be made: {0}")]
    Mint(String),
    #[error("sealing failed")]
    Seal,
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

/// Whether `id` can be a `client_id`.
pub fn is_client_id(id: &str) -> bool {
    (8..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn hash(token: &str) -> String {
    crate::sha256_hex(token)
}

fn random(prefix: &str) -> Result<String, crate::RandomFailure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| crate::RandomFailure)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Whether `token` looks like one of ours (checked before any lookup).
fn is_token(token: &str) -> bool {
    token.len() == 47
        && token.starts_with("krt_")
        && token[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why no access token could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MintError {
    /// The account is gone or disabled: the grant is refused (and the family revoked).
    Refused,
    /// Something broke (no key, store down).
    Failed(String),
}

/// Makes the access token of a pair. Implemented by the web layer (it holds the key ring and
/// knows the claims).
#[async_trait]
pub trait Minter: Send + Sync {
    async fn mint(&self, minting: Minting<'_>) -> Result<(String, i64), MintError>;
}

/// What the access-token minter is told.
#[derive(Debug, Clone, Copy)]
pub struct Minting<'a> {
    pub account_id: &'a str,
    pub family_id: &'a str,
}

/// The refresh-token rules.
#[derive(Debug, Clone)]
pub struct RefreshTokens {
    store: Arc<dyn RefreshStore>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    notifier: Arc<dyn Notifier>,
    policy: RefreshPolicy,
}

fn context(family: &str) -> Vec<u8> {
    format!("refresh_successor:{family}").into_bytes()
}

impl RefreshTokens {
    pub fn new(
        store: Arc<dyn RefreshStore>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        notifier: Arc<dyn Notifier>,
        policy: RefreshPolicy,
    ) -> Self {
        Self {
            store,
            master,
            clock,
            audit,
            notifier,
            policy,
        }
    }

    /// The port itself, for the adapters' tests and for the outbound gateway; handlers use the
    /// service's own methods.
    pub fn store(&self) -> &Arc<dyn RefreshStore> {
        &self.store
    }

    /// The live families of an account, newest first.
    pub async fn families(&self, account_id: &str) -> Result<Vec<Family>, RefreshError> {
        Ok(self
            .store
            .families(account_id, self.clock.now_unix())
            .await?)
    }

    fn record(&self, token: &str, family_id: &str, now: i64, family_end: i64) -> TokenRecord {
        TokenRecord {
            hash: hash(token),
            family_id: family_id.to_owned(),
            created_at: now,
            expires_at: (now + self.policy.token_secs).min(family_end),
            used_at: None,
            successor: None,
        }
    }

    /// A new family for a login: the first pair.
    pub async fn open(
        &self,
        account_id: &str,
        client_id: &str,
        minter: &dyn Minter,
    ) -> Result<Pair, RefreshError> {
        if !is_client_id(client_id) {
            return Err(RefreshError::BadClientId);
        }
        let now = self.clock.now_unix();
        let family = Family {
            id: random("fam_")?,
            account_id: account_id.to_owned(),
            client_id: client_id.to_owned(),
            created_at: now,
            expires_at: now + self.policy.family_secs,
            last_used_at: now,
            revoked_at: None,
        };
        let token = random("krt_")?;
        let (access_token, expires_in) = minter
            .mint(Minting {
                account_id,
                family_id: &family.id,
            })
            .await
            .map_err(|e| match e {
                MintError::Refused => RefreshError::InvalidGrant,
                MintError::Failed(why) => RefreshError::Mint(why),
            })?;
        let first = self.record(&token, &family.id, now, family.expires_at);
        self.store.create_family(&family, &first).await?;
        Ok(Pair {
            access_token,
            expires_in,
            refresh_token: token,
        })
    }

    /// Exchanges a refresh token for a new pair.
    pub async fn refresh(
        &self,
        token: &SecretString,
        client_id: &str,
        minter: &dyn Minter,
    ) -> Result<Pair, RefreshError> {
        let token = token.expose();
        if !is_token(token) || !is_client_id(client_id) {
            return Err(RefreshError::InvalidGrant);
        }
        let now = self.clock.now_unix();
        // Two rounds at most: a lost race to rotate is read again as a used token.
        for _ in 0..2 {
            let Some((record, family)) = self.store.find(&hash(token)).await? else {
                return Err(RefreshError::InvalidGrant);
            };
            if family.revoked_at.is_some() || family.expires_at <= now || record.expires_at <= now {
                return Err(RefreshError::InvalidGrant);
            }
            if family.client_id != client_id {
                self.reused(&family, "presented by another client").await;
                return Err(RefreshError::InvalidGrant);
            }
            match record.used_at {
                None => {
                    let next = random("krt_")?;
                    let minted = minter
                        .mint(Minting {
                            account_id: &family.account_id,
                            family_id: &family.id,
                        })
                        .await;
                    let (access_token, expires_in) = match minted {
                        Ok(minted) => minted,
                        Err(MintError::Refused) => {
                            // The account is gone or disabled: nothing of it lives on.
                            self.store.revoke_family(&family.id, now).await?;
                            return Err(RefreshError::InvalidGrant);
                        }
                        Err(MintError::Failed(why)) => return Err(RefreshError::Mint(why)),
                    };
                    let pair = Pair {
                        access_token,
                        expires_in,
                        refresh_token: next.clone(),
                    };
                    let sealed = self.seal(&family.id, &pair)?;
                    let new = self.record(&next, &family.id, now, family.expires_at);
                    if self.store.rotate(&record.hash, &sealed, &new, now).await? {
                        return Ok(pair);
                    }
                }
                Some(used_at) => {
                    if now - used_at <= self.policy.grace_secs
                        && let Some(pair) =
                            self.repeat(&family, record.successor.as_deref()).await?
                    {
                        return Ok(pair);
                    }
                    self.reused(&family, "a used token presented again").await;
                    return Err(RefreshError::InvalidGrant);
                }
            }
        }
        Err(RefreshError::InvalidGrant)
    }

    fn seal(&self, family_id: &str, pair: &Pair) -> Result<String, RefreshError> {
        let json = serde_json::to_vec(pair).map_err(|_| RefreshError::Seal)?;
        self.master
            .seal(&context(family_id), &json)
            .map_err(|_| RefreshError::Seal)
    }

    /// The pair a token was just exchanged for, if that pair's refresh token is still unused
    /// (the presented token is the immediately previous one).
    async fn repeat(
        &self,
        family: &Family,
        sealed: Option<&str>,
    ) -> Result<Option<Pair>, RefreshError> {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let Ok(json) = self.master.open(&context(&family.id), sealed) else {
            return Ok(None);
        };
        let Ok(pair) = serde_json::from_slice::<Pair>(&json) else {
            return Ok(None);
        };
        let current = self.store.find(&hash(&pair.refresh_token)).await?;
        Ok(current
            .filter(|(next, _)| next.used_at.is_none())
            .map(|_| pair))
    }

    /// Theft: the family dies, the audit log and the operator hear of it.
    async fn reused(&self, family: &Family, why: &str) {
        let now = self.clock.now_unix();
        if let Err(err) = self.store.revoke_family(&family.id, now).await {
            tracing::error!(error = %err, "could not revoke a reused refresh-token family");
        }
        let event = AuditEvent::new(
            Actor::account(&family.account_id),
            "refresh_token.reused",
            format!("{} ({why})", family.id),
        )
        .outcome(Outcome::Denied);
        if let Err(err) = self.audit.record(event).await {
            tracing::error!(error = %err, "could not audit a refresh-token reuse");
        }
        self.notifier.notify(
            Notification::new(EventKind::RefreshTokenReuse, now, family.account_id.clone())
                .detail("family", family.id.clone())
                .detail("client_id", family.client_id.clone())
                .detail("reason", why),
        );
    }

    /// Ends one family (logout of an app).
    pub async fn revoke(&self, family_id: &str) -> Result<bool, RefreshError> {
        Ok(self
            .store
            .revoke_family(family_id, self.clock.now_unix())
            .await?)
    }

    /// Ends every family of an account ("log out everywhere").
    pub async fn revoke_account(&self, account_id: &str) -> Result<u64, RefreshError> {
        Ok(self
            .store
            .revoke_account(account_id, self.clock.now_unix())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_client_ids_are_checked_before_lookup() {
        let token = random("krt_").unwrap();
        assert!(is_token(&token), "{token}");
        assert!(!is_token("krt_short"));
        assert!(!is_token(&token.replace("krt_", "xyz_")));
        assert!(is_client_id("ios-3f9c2a7e"));
        assert!(!is_client_id("short"));
        assert!(!is_client_id("has space in it"));
    }

    #[test]
    fn a_pair_never_prints_its_tokens() {
        let pair = Pair {
            access_token: "eyJsecret".into(),
            expires_in: 900,
            refresh_token: "krt_secret".into(),
        };
        let text = format!("{pair:?}");
        assert!(!text.contains("secret"), "{text}");
    }
}
