//! One-time password-reset links (SPEC §11): an administrator makes one for an account and
//! hands it over; whoever opens it within the hour sets a new password, once.
//!
//! - The token (`krt_` and 32 random bytes) is shown once; only its SHA-256 is stored (a
//!   random 256-bit secret needs no slow hash), with the account and the expiry.
//! - An account has at most one live link: making a new one replaces the old.
//! - Using a link takes it out of the store in the same step that finds it, so two uses at once
//!   (on two instances) cannot both set a password.
//! - Making a link is audited (`account.reset_link_created`); using it is the password change
//!   of [`Accounts::set_password`] (`account.password_changed`, by `account:<id>`).

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::SecretString;

use crate::accounts::{Account, AccountError, Accounts};
use crate::audit::{Actor, AuditEvent, AuditLog, AuditedError, Journal};
use crate::clock::Clock;
use crate::store::StoreError;

/// How long a link works.
pub const RESET_LIFETIME_SECS: i64 = 3600;

/// Where the links' hashes live.
#[async_trait]
pub trait ResetStore: Send + Sync + std::fmt::Debug {
    /// Stores `hash` for `account_id` until `expires_at`, replacing the account's earlier link,
    /// in the transaction of `journal`'s entry.
    async fn put(
        &self,
        hash: &str,
        account_id: &str,
        expires_at: i64,
        journal: &Journal,
    ) -> Result<(), StoreError>;

    /// The account of a link that is live at `now`, leaving it in place.
    async fn live(&self, hash: &str, now: i64) -> Result<Option<String>, StoreError>;

    /// Removes a link that is live at `now` and returns its account: a link works once.
    async fn take(&self, hash: &str, now: i64) -> Result<Option<String>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Unknown, expired, used, or not a link's token at all: one answer for all of them.
    #[error("the reset link is unknown, used or expired")]
    Invalid,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(crate::audit::AuditError),
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

/// Making and using reset links.
#[derive(Debug, Clone)]
pub struct PasswordResets {
    store: Arc<dyn ResetStore>,
    accounts: Accounts,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
}

fn hash(token: &str) -> String {
    crate::sha256_hex(token)
}

/// Whether `token` has the shape of a link's token (checked before any lookup).
fn is_token(token: &str) -> bool {
    token.len() == 47
        && token.strip_prefix("krt_").is_some_and(|rest| {
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl PasswordResets {
    pub fn new(
        store: Arc<dyn ResetStore>,
        accounts: Accounts,
        audit: AuditLog,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            accounts,
            audit,
            clock,
        }
    }

    /// A new link's token for account `username`, on behalf of `actor`; the account's earlier
    /// link stops working.
    pub async fn issue(&self, actor: &Actor, username: &str) -> Result<SecretString, ResetError> {
        let account = self
            .accounts
            .by_name(username)
            .await?
            .ok_or_else(|| AccountError::Unknown(username.chars().take(64).collect()))?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| crate::RandomFailure)?;
        let token = SecretString::new(format!("krt_{}", URL_SAFE_NO_PAD.encode(bytes)));
        let expires_at = self.clock.now_unix() + RESET_LIFETIME_SECS;
        let event = AuditEvent::by(
            actor,
            "account.reset_link_created",
            account.username.clone(),
        );
        self.audit
            .within(event, async |journal| {
                self.store
                    .put(&hash(token.expose()), &account.id, expires_at, &journal)
                    .await
            })
            .await
            .map_err(|err| match err {
                AuditedError::Audit(err) => ResetError::Audit(err),
                AuditedError::Action(err) => ResetError::Store(err),
            })?;
        Ok(token)
    }

    /// The account a live link is for (the link stays usable).
    pub async fn account_of(&self, token: &str) -> Result<Account, ResetError> {
        if !is_token(token) {
            return Err(ResetError::Invalid);
        }
        let id = self
            .store
            .live(&hash(token), self.clock.now_unix())
            .await?
            .ok_or(ResetError::Invalid)?;
        self.accounts
            .active_by_id(&id)
            .await?
            .ok_or(ResetError::Invalid)
    }

    /// Sets the password of the link's account and uses the link up. The caller checks the
    /// password's length first (a refused password must not use the link up) and ends the
    /// account's sessions after.
    pub async fn redeem(
        &self,
        token: &str,
        password: &SecretString,
    ) -> Result<Account, ResetError> {
        let account = self.account_of(token).await?;
        let taken = self.store.take(&hash(token), self.clock.now_unix()).await?;
        if taken.as_deref() != Some(account.id.as_str()) {
            return Err(ResetError::Invalid);
        }
        self.accounts
            .set_password(&Actor::account(&account.id), &account.username, password)
            .await?;
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_token_s_shape_is_looked_up() {
        let good = format!("krt_{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert!(is_token(&good));
        for bad in [
            "",
            "krt_",
            "krt_../../etc/passwd",
            &good[..46],
            &format!("{good}x"),
        ] {
            assert!(!is_token(bad), "{bad}");
        }
        assert_eq!(hash("a").len(), 64);
    }
}
