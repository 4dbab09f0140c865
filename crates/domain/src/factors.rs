//! Second factors (SPEC §12): TOTP and recovery codes, over the [`FactorStore`] port. The login
//! service asks [`SecondFactors::verify`] for the second step; `/account` enrols and removes.
//!
//! - Enrolling makes a secret (sealed under the master key, bound to the account) that counts
//!   only once a code from it is entered ([`SecondFactors::confirm_totp`]); confirming gives
//!   ten recovery codes, shown once, stored as keyed hashes.
//! - A code is accepted within one step (30 s) either side of now, and once: the store moves the
//!   account's last used step forward in one compare-and-set, so a code replayed — here or on
//!   another instance sharing the database — is refused even inside its window.
//! - A recovery code works once; making new ones ends the old.
//! - Adding, removing and using a recovery code are audited.

mod challenge;

pub use challenge::{CHALLENGE_SECS, Challenge, ChallengeError, ChallengeStore, Challenges};

use std::sync::Arc;

use async_trait::async_trait;
use kunci_crypto::totp::{self, TotpSecret};
use kunci_crypto::{MasterKey, Purpose, SecretString};

use crate::audit::{Actor, AuditEvent, AuditLog, AuditedError, Journal};
use crate::clock::Clock;
use crate::store::StoreError;

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Steps either side of now a code may come from (clock skew between phone and server).
pub const WINDOW_STEPS: i64 = 1;

/// An account's TOTP factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTotp {
    pub account_id: String,
    /// The secret sealed under the master key, context `totp:<account id>`.
    pub sealed: String,
    pub created_at: i64,
    /// `None` until a code from it was entered: until then it is no factor.
    pub confirmed_at: Option<i64>,
    /// The last step a code was accepted for (-1: none).
    pub last_step: i64,
}

#[async_trait]
pub trait FactorStore: Send + Sync + std::fmt::Debug {
    /// Stores a new unconfirmed secret, replacing an unconfirmed one; [`StoreError::Conflict`]
    /// when the account has a confirmed one.
    async fn put_totp(
        &self,
        totp: &StoredTotp,
        journal: Option<&Journal>,
    ) -> Result<(), StoreError>;
    async fn totp(&self, account_id: &str) -> Result<Option<StoredTotp>, StoreError>;
    /// Confirms the account's unconfirmed secret at `now` with `step` as its last used step.
    async fn confirm_totp(
        &self,
        account_id: &str,
        step: i64,
        now: i64,
        journal: &Journal,
    ) -> Result<bool, StoreError>;
    /// Moves the last used step of a confirmed secret to `step` if it is later: false when the
    /// step (or a later one) was used already.
    async fn use_step(&self, account_id: &str, step: i64) -> Result<bool, StoreError>;
    async fn remove_totp(&self, account_id: &str, journal: &Journal) -> Result<bool, StoreError>;
    /// Replaces the account's recovery codes with these hashes.
    async fn set_recovery(
        &self,
        account_id: &str,
        hashes: &[String],
        journal: Option<&Journal>,
    ) -> Result<(), StoreError>;
    /// Removes one recovery code; false when the account has no such code.
    async fn use_recovery(&self, account_id: &str, hash: &str) -> Result<bool, StoreError>;
    async fn recovery_left(&self, account_id: &str) -> Result<u32, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("the account has a confirmed TOTP factor already: remove it first")]
    Enrolled,
    #[error("there is no TOTP enrolment to confirm")]
    NothingToConfirm,
    #[error("the code is not the one the app shows now")]
    WrongCode,
    #[error("the stored secret cannot be opened")]
    Unsealable,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(crate::audit::AuditError),
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

impl From<AuditedError<StoreError>> for FactorError {
    fn from(err: AuditedError<StoreError>) -> Self {
        match err {
            AuditedError::Audit(err) => Self::Audit(err),
            AuditedError::Action(err) => Self::Store(err),
        }
    }
}

/// What second factors an account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Factors {
    pub totp: bool,
    pub recovery_left: u32,
}

/// A TOTP enrolment under way: the secret to show (as text and as a QR code's URI).
#[derive(Debug)]
pub struct Enrolment {
    pub secret: TotpSecret,
}

/// The second-factor rules.
#[derive(Debug, Clone)]
pub struct SecondFactors {
    store: Arc<dyn FactorStore>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
}

fn context(account_id: &str) -> Vec<u8> {
    format!("totp:{account_id}").into_bytes()
}

/// A recovery code as people type it: letters and digits, case and separators ignored.
fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl SecondFactors {
    pub fn new(
        store: Arc<dyn FactorStore>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
    ) -> Self {
        Self {
            store,
            master,
            clock,
            audit,
        }
    }

    fn recovery_hash(&self, account_id: &str, code: &str) -> String {
        let data = format!("{account_id}:{}", normalize_recovery(code));
        crate::hex(
            &self
                .master
                .keyed_digest(Purpose::RecoveryCode, data.as_bytes()),
        )
    }

    /// What the account has.
    pub async fn of(&self, account_id: &str) -> Result<Factors, FactorError> {
        let totp = self
            .store
            .totp(account_id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        Ok(Factors {
            totp,
            recovery_left: self.store.recovery_left(account_id).await?,
        })
    }

    /// Starts a TOTP enrolment: a new secret, stored unconfirmed (a second start replaces it).
    pub async fn begin_totp(&self, account_id: &str) -> Result<Enrolment, FactorError> {
        let secret = TotpSecret::generate().map_err(|_| crate::RandomFailure)?;
        let sealed = self
            .master
            .seal(&context(account_id), secret.as_bytes())
            .map_err(|_| FactorError::Unsealable)?;
        let stored = StoredTotp {
            account_id: account_id.to_owned(),
            sealed,
            created_at: self.clock.now_unix(),
            confirmed_at: None,
            last_step: -1,
        };
        match self.store.put_totp(&stored, None).await {
            Ok(()) => Ok(Enrolment { secret }),
            Err(StoreError::Conflict) => Err(FactorError::Enrolled),
            Err(err) => Err(err.into()),
        }
    }

    fn open(&self, stored: &StoredTotp) -> Result<TotpSecret, FactorError> {
        let bytes = self
            .master
            .open(&context(&stored.account_id), &stored.sealed)
            .map_err(|_| FactorError::Unsealable)?;
        TotpSecret::from_bytes(&bytes).ok_or(FactorError::Unsealable)
    }

    /// Confirms the enrolment with a code from the app; returns the recovery codes, shown once.
    pub async fn confirm_totp(
        &self,
        actor: &Actor,
        account_id: &str,
        code: &str,
    ) -> Result<Vec<SecretString>, FactorError> {
        let stored = self
            .store
            .totp(account_id)
            .await?
            .filter(|t| t.confirmed_at.is_none())
            .ok_or(FactorError::NothingToConfirm)?;
        let secret = self.open(&stored)?;
        let now = self.clock.now_unix();
        let step =
            totp::matching_step(&secret, code, now, WINDOW_STEPS).ok_or(FactorError::WrongCode)?;
        let event = AuditEvent::by(
            actor,
            "account.second_factor_added",
            format!("{account_id} totp"),
        );
        let confirmed = self
            .audit
            .within(event, async |journal| {
                self.store
                    .confirm_totp(account_id, step, now, &journal)
                    .await
            })
            .await?;
        if !confirmed {
            return Err(FactorError::NothingToConfirm);
        }
        self.new_recovery_codes(None, account_id).await
    }

    /// Ten new recovery codes for the account (the old ones stop working); audited when
    /// `actor` asks for them (not when enrolment makes the first ones).
    pub async fn new_recovery_codes(
        &self,
        actor: Option<&Actor>,
        account_id: &str,
    ) -> Result<Vec<SecretString>, FactorError> {
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|_| crate::RandomFailure)?;
            let text = totp::base32_encode(&bytes).to_ascii_lowercase();
            // Ten characters (50 bits), shown as two groups of five.
            codes.push(SecretString::new(format!(
                "{}-{}",
                &text[..5],
                &text[5..10]
            )));
        }
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| self.recovery_hash(account_id, c.expose()))
            .collect();
        match actor {
            Some(actor) => {
                let event = AuditEvent::by(actor, "account.recovery_codes_renewed", account_id);
                self.audit
                    .within(event, async |journal| {
                        self.store
                            .set_recovery(account_id, &hashes, Some(&journal))
                            .await
                    })
                    .await?;
            }
            None => self.store.set_recovery(account_id, &hashes, None).await?,
        }
        Ok(codes)
    }

    /// The second step of a login: a TOTP code, used once. False for a wrong or replayed code,
    /// or an account without a confirmed secret.
    pub async fn verify_totp(&self, account_id: &str, code: &str) -> Result<bool, FactorError> {
        let Some(stored) = self
            .store
            .totp(account_id)
            .await?
            .filter(|t| t.confirmed_at.is_some())
        else {
            return Ok(false);
        };
        let secret = self.open(&stored)?;
        let now = self.clock.now_unix();
        let Some(step) = totp::matching_step(&secret, code, now, WINDOW_STEPS) else {
            return Ok(false);
        };
        Ok(self.store.use_step(account_id, step).await?)
    }

    /// The second step with a recovery code instead: it works once (audited).
    pub async fn use_recovery_code(
        &self,
        account_id: &str,
        code: &str,
    ) -> Result<bool, FactorError> {
        let hash = self.recovery_hash(account_id, code);
        let used = self.store.use_recovery(account_id, &hash).await?;
        if used {
            let event = AuditEvent::by(
                &Actor::account(account_id),
                "account.recovery_code_used",
                account_id,
            );
            self.audit.record(event).await.map_err(FactorError::Audit)?;
        }
        Ok(used)
    }

    /// Removes the TOTP factor and the recovery codes (the account's own choice, or an
    /// administrator's reset).
    pub async fn remove(&self, actor: &Actor, account_id: &str) -> Result<bool, FactorError> {
        let event = AuditEvent::by(
            actor,
            "account.second_factor_removed",
            format!("{account_id} totp"),
        );
        let removed = self
            .audit
            .within(event, async |journal| {
                self.store.remove_totp(account_id, &journal).await
            })
            .await?;
        self.store.set_recovery(account_id, &[], None).await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_recovery;

    #[test]
    fn recovery_codes_are_read_as_typed() {
        assert_eq!(normalize_recovery(" ABcde-fgh12 "), "abcdefgh12");
        assert_eq!(normalize_recovery("abcde fgh12"), "abcdefgh12");
        assert_eq!(normalize_recovery("ä-ö"), "");
    }
}
