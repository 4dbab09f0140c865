//! Logging in: the one sequence every way into an account goes through (SPEC §5, §6).
//!
//! A password login is: the lockout's check-in for the name (or the browser's device) → one
//! Argon2id verification ([`Accounts::authenticate`]) → the lockout's bookkeeping (a success
//! clears the count, a failure keeps its reservation and may lock) → the audit entry. An
//! attempt that succeeded but cannot be audited is refused; a failed one whose entry cannot be
//! written is still a failure (the lock counts it either way).
//!
//! The result is an [`Authenticated`] account, not a session: the web layer turns it into
//! cookies (browser flows) or a token pair (apps). That seam is where further steps plug in —
//! a second factor is one more step between [`Authenticated`] and the session, a passkey or an
//! external provider one more way to reach [`Authenticated`], each under the same lockout and
//! audit rules.
//!
//! What this module must not learn: cookies, headers, status codes.

use std::net::IpAddr;

use kunci_crypto::SecretString;
use kunci_crypto::password::MAX_PASSWORD_BYTES;

use crate::accounts::{Account, AccountError, Accounts, normalize_username};
use crate::audit::Outcome;
use crate::lockout::{Lockout, LockoutError};

/// How the attempt arrived: the audit log's `login:<flow>` and the metrics' label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `POST /api/v1/auth/login_web`
    Web,
    /// `POST /login`, the HTML form
    Form,
    /// `POST /api/v1/auth/login_mobile`
    Mobile,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Form => "form",
            Self::Mobile => "mobile",
        }
    }
}

/// A password login attempt, as the caller parsed it.
#[derive(Debug, Clone, Copy)]
pub struct PasswordAttempt<'a> {
    /// As typed; normalised here.
    pub username: &'a str,
    pub password: &'a SecretString,
    /// The device this browser proved it is for this name (a valid device cookie): its
    /// attempts count against its own budget, not the name's.
    pub device: Option<&'a str>,
    pub flow: Flow,
    /// The client's address, for the audit entry (stored only as a keyed hash).
    pub ip: Option<IpAddr>,
}

/// Who logged in, and how.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub account: Account,
    pub method: Method,
}

/// The way an account was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
}

/// Why a login did not happen. One answer for every kind of wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong name, wrong password, disabled account.
    #[error("invalid_credentials")]
    InvalidCredentials,
    /// Over 256 bytes: refused before any hashing.
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    /// Too many failures for this name (or device): `retry_after` seconds.
    #[error("account_locked")]
    Locked { retry_after: i64 },
    /// As many attempts of this name as the limit are being checked right now (maybe the
    /// owner's own): not a lock, try again in a second.
    #[error("too many attempts at once")]
    Busy,
    /// A store the login needs (accounts, lockout, audit) is unavailable; logged here.
    #[error("a store the login needs is unavailable")]
    Unavailable,
    /// Anything else (hashing pool shut down, randomness); logged here.
    #[error("the login failed unexpectedly")]
    Failed,
}

impl LoginError {
    /// The outcome label of `kunci_logins_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid",
            Self::Locked { .. } => "locked",
            Self::PasswordTooLong => "too_long",
            Self::Unavailable => "unavailable",
            Self::Busy | Self::Failed => "error",
        }
    }
}

impl From<LockoutError> for LoginError {
    fn from(err: LockoutError) -> Self {
        match err {
            LockoutError::Locked { retry_after } => Self::Locked { retry_after },
            LockoutError::Busy => Self::Busy,
            other => {
                tracing::error!(error = %other, "lockout store unavailable");
                Self::Unavailable
            }
        }
    }
}

/// The name the lockout counts: the normalised account name, or (for a name that cannot
/// exist) a bounded lowercase copy, counted all the same so a lock reveals nothing.
pub fn lockout_name(username: &str) -> String {
    normalize_username(username).unwrap_or_else(|| {
        username
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect()
    })
}

/// The login service: accounts and the lockout, used in the one order above.
#[derive(Debug, Clone)]
pub struct Login {
    accounts: Accounts,
    lockout: Lockout,
}

impl Login {
    pub fn new(accounts: Accounts, lockout: Lockout) -> Self {
        Self { accounts, lockout }
    }

    /// Checks a name and password and records the attempt. A locked name or device is refused
    /// before any hashing; every other attempt costs exactly one Argon2id verification.
    pub async fn with_password(
        &self,
        attempt: PasswordAttempt<'_>,
    ) -> Result<Authenticated, LoginError> {
        if attempt.password.expose().len() > MAX_PASSWORD_BYTES {
            return Err(LoginError::PasswordTooLong);
        }
        let name = lockout_name(attempt.username);
        let ticket = self.lockout.check_in(&name, attempt.device).await?;
        let flow = attempt.flow.as_str();
        match self
            .accounts
            .authenticate(attempt.username, attempt.password)
            .await
        {
            Ok(account) => {
                self.lockout.succeeded(ticket).await?;
                if let Err(err) = self
                    .accounts
                    .audit_login(attempt.username, Outcome::Allowed, attempt.ip, flow)
                    .await
                {
                    tracing::error!(error = %err, "login refused: it cannot be audited");
                    return Err(LoginError::Unavailable);
                }
                Ok(Authenticated {
                    account,
                    method: Method::Password,
                })
            }
            Err(AccountError::InvalidCredentials) => {
                self.lockout.failed(ticket).await?;
                if let Err(err) = self
                    .accounts
                    .audit_login(attempt.username, Outcome::Denied, attempt.ip, flow)
                    .await
                {
                    tracing::error!(error = %err, "a failed login could not be audited");
                }
                Err(LoginError::InvalidCredentials)
            }
            Err(AccountError::PasswordTooLong) => Err(LoginError::PasswordTooLong),
            Err(AccountError::Store(err)) => {
                tracing::error!(error = %err, "account store unavailable");
                Err(LoginError::Unavailable)
            }
            Err(err) => {
                tracing::error!(error = %err, "login failed");
                Err(LoginError::Failed)
            }
        }
    }
}
