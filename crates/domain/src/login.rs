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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kunci_crypto::password::{self, Cost};
    use time::Duration;

    use super::*;
    use crate::accounts::{AccountStore as _, PasswordPool};
    use crate::clock::Clock as _;
    use crate::lockout::{LockoutPolicy, LockoutStore as _};
    use crate::notify::EventKind;
    use crate::testing::{Base, MemoryAccounts, MemoryLockout};

    const POLICY: LockoutPolicy = LockoutPolicy {
        limit: 5,
        window_secs: 900,
        lock_secs: 12 * 3600,
    };
    const PASSWORD: &str = "correct horse battery";

    struct Setup {
        login: Login,
        accounts: Accounts,
        account_store: Arc<MemoryAccounts>,
        lockout_store: Arc<MemoryLockout>,
        base: Base,
    }

    /// A login service with one account, `alice`, whose password is [`PASSWORD`].
    async fn setup() -> Setup {
        let base = Base::new();
        let account_store = Arc::new(MemoryAccounts::default());
        let pool = PasswordPool::new(2, Cost::TESTING);
        let accounts = Accounts::new(
            account_store.clone(),
            pool,
            base.audit.clone(),
            base.clock(),
        )
        .await
        .unwrap();
        let lockout_store = Arc::new(MemoryLockout::default());
        let lockout = Lockout::new(
            lockout_store.clone(),
            POLICY,
            base.clock(),
            base.audit.clone(),
            base.heard.clone(),
        );
        let alice = SecretString::new(PASSWORD);
        accounts
            .add(&crate::audit::Actor::cli(), "alice", &alice, false)
            .await
            .unwrap();
        Setup {
            login: Login::new(accounts.clone(), lockout),
            accounts,
            account_store,
            lockout_store,
            base,
        }
    }

    impl Setup {
        async fn attempt(
            &self,
            username: &str,
            password: &str,
            device: Option<&str>,
        ) -> Result<Authenticated, LoginError> {
            let password = SecretString::new(password);
            let attempt = PasswordAttempt {
                username,
                password: &password,
                device,
                flow: Flow::Web,
                ip: None,
            };
            self.login.with_password(attempt).await
        }

        /// The `account.login` entries as `target outcome`.
        fn logins(&self) -> Vec<String> {
            self.base
                .audited()
                .into_iter()
                .filter(|d| d.action == "account.login")
                .map(|d| format!("{} {}", d.target, d.outcome))
                .collect()
        }
    }

    fn is_invalid(result: &Result<Authenticated, LoginError>) -> bool {
        matches!(result, Err(LoginError::InvalidCredentials))
    }

    fn is_locked(result: &Result<Authenticated, LoginError>) -> bool {
        matches!(result, Err(LoginError::Locked { .. }))
    }

    #[tokio::test]
    async fn the_right_password_logs_in_and_the_login_is_audited() {
        let s = setup().await;
        let password = SecretString::new(PASSWORD);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let attempt = PasswordAttempt {
            username: "  Alice ",
            password: &password,
            device: None,
            flow: Flow::Mobile,
            ip: Some(ip),
        };
        let done = s.login.with_password(attempt).await.unwrap();
        assert_eq!(done.account.username, "alice");
        assert_eq!(done.method, Method::Password);

        let entries: Vec<_> = s
            .base
            .audited()
            .into_iter()
            .filter(|d| d.action == "account.login")
            .collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].actor, "login:mobile");
        assert_eq!(entries[0].target, "alice");
        assert_eq!(entries[0].outcome, "allowed");
        let stored_ip = entries[0].ip.as_deref().unwrap();
        assert!(!stored_ip.contains("203.0.113"), "only a keyed hash");
    }

    #[tokio::test]
    async fn every_kind_of_wrong_gets_the_same_answer() {
        let s = setup().await;
        let carol = SecretString::new(PASSWORD);
        s.accounts
            .add(&crate::audit::Actor::cli(), "carol", &carol, false)
            .await
            .unwrap();
        s.accounts
            .set_disabled(&crate::audit::Actor::cli(), "carol", true)
            .await
            .unwrap();
        let wrongs = [
            ("alice", "wrong horse"),
            ("mallory", PASSWORD),
            ("not a name!", PASSWORD),
            ("carol", PASSWORD),
            ("alice", ""),
        ];
        for (name, password) in wrongs {
            let result = s.attempt(name, password, None).await;
            assert!(is_invalid(&result), "{name}: {result:?}");
        }
        let expected = [
            "alice denied",
            "mallory denied",
            "(invalid name) denied",
            "carol denied",
            "alice denied",
        ];
        assert_eq!(s.logins(), expected);
    }

    #[tokio::test]
    async fn a_locked_name_is_refused_even_with_the_right_password() {
        let s = setup().await;
        for _ in 0..5 {
            assert!(is_invalid(&s.attempt("alice", "guess", None).await));
        }
        match s.attempt("alice", PASSWORD, None).await {
            Err(LoginError::Locked { retry_after }) => assert_eq!(retry_after, POLICY.lock_secs),
            other => panic!("expected a lock, got {other:?}"),
        }
        assert_eq!(s.logins().len(), 5, "a refused attempt is not evaluated");
        assert_eq!(s.base.heard.kinds(), [EventKind::AccountLocked]);

        s.base.clock.advance(Duration::seconds(POLICY.lock_secs));
        let after = s.attempt("alice", PASSWORD, None).await;
        assert!(after.is_ok(), "the lock ends");
    }

    #[tokio::test]
    async fn unknown_and_invalid_names_are_counted_and_locked_alike() {
        let s = setup().await;
        for name in ["mallory", "Not A Name!"] {
            for _ in 0..5 {
                assert!(is_invalid(&s.attempt(name, "guess", None).await));
            }
            assert!(is_locked(&s.attempt(name, "guess", None).await), "{name}");
        }
        let lowercase = s.attempt("not a name!", "guess", None).await;
        assert!(is_locked(&lowercase), "counted in lowercase");
    }

    #[tokio::test]
    async fn names_are_counted_as_they_are_compared() {
        let s = setup().await;
        for name in ["Alice", " ALICE", "alice ", "aLiCe", "alice"] {
            assert!(is_invalid(&s.attempt(name, "guess", None).await));
        }
        assert!(is_locked(&s.attempt("alice", PASSWORD, None).await));
    }

    #[tokio::test]
    async fn a_success_before_the_limit_clears_the_count() {
        let s = setup().await;
        for _ in 0..4 {
            assert!(is_invalid(&s.attempt("alice", "guess", None).await));
        }
        s.attempt("alice", PASSWORD, None).await.unwrap();
        for _ in 0..4 {
            assert!(is_invalid(&s.attempt("alice", "guess", None).await));
        }
        s.attempt("alice", PASSWORD, None).await.unwrap();
    }

    #[tokio::test]
    async fn a_password_over_256_bytes_is_refused_before_any_reservation() {
        let s = setup().await;
        let too_long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        for _ in 0..4 {
            assert!(is_invalid(&s.attempt("alice", "guess", None).await));
        }
        for _ in 0..3 {
            let result = s.attempt("alice", &too_long, None).await;
            assert!(matches!(result, Err(LoginError::PasswordTooLong)));
        }
        let fifth = s.attempt("alice", "guess", None).await;
        assert!(is_invalid(&fifth), "the fifth reservation: {fifth:?}");
        assert!(is_locked(&s.attempt("alice", PASSWORD, None).await));
        assert_eq!(s.logins().len(), 5, "over-long attempts are not evaluated");
    }

    #[tokio::test]
    async fn a_password_of_exactly_256_bytes_is_checked_like_any_other() {
        let s = setup().await;
        let longest = "y".repeat(MAX_PASSWORD_BYTES);
        let secret = SecretString::new(longest.clone());
        s.accounts
            .add(&crate::audit::Actor::cli(), "dave", &secret, false)
            .await
            .unwrap();
        assert!(s.attempt("dave", &longest, None).await.is_ok());
    }

    #[tokio::test]
    async fn a_successful_login_that_cannot_be_audited_is_refused() {
        let s = setup().await;
        s.base.audit_store.outage.set(true);
        let result = s.attempt("alice", PASSWORD, None).await;
        assert!(matches!(result, Err(LoginError::Unavailable)));
        s.base.audit_store.outage.set(false);
        assert!(s.attempt("alice", PASSWORD, None).await.is_ok());
        assert_eq!(s.logins(), ["alice allowed"]);
    }

    #[tokio::test]
    async fn a_failed_login_that_cannot_be_audited_still_counts() {
        let s = setup().await;
        s.base.audit_store.outage.set(true);
        for _ in 0..5 {
            assert!(is_invalid(&s.attempt("alice", "guess", None).await));
        }
        assert!(is_locked(&s.attempt("alice", PASSWORD, None).await));
        assert_eq!(s.base.heard.kinds(), [EventKind::AccountLocked]);
    }

    #[tokio::test]
    async fn a_known_device_logs_in_while_the_name_is_locked() {
        let s = setup().await;
        for _ in 0..5 {
            assert!(is_invalid(&s.attempt("alice", "guess", None).await));
        }
        assert!(is_locked(&s.attempt("alice", PASSWORD, None).await));
        let own = s.attempt("alice", PASSWORD, Some("dev-1")).await;
        assert_eq!(own.unwrap().account.username, "alice");
    }

    #[tokio::test]
    async fn attempts_beyond_those_in_flight_are_asked_to_retry() {
        let s = setup().await;
        let now = s.base.clock.now_unix();
        for _ in 0..5 {
            s.lockout_store
                .reserve("name:alice", POLICY, now)
                .await
                .unwrap();
        }
        let result = s.attempt("alice", PASSWORD, None).await;
        assert!(matches!(result, Err(LoginError::Busy)), "{result:?}");
        assert!(s.logins().is_empty(), "not evaluated");
        let locked = s.lockout_store.locked_until("name:alice", now).await;
        assert_eq!(locked.unwrap(), None, "and not a lock");
    }

    #[tokio::test]
    async fn an_unavailable_store_refuses_the_login() {
        let s = setup().await;
        s.account_store.outage.set(true);
        let result = s.attempt("alice", PASSWORD, None).await;
        assert!(matches!(result, Err(LoginError::Unavailable)));
        s.account_store.outage.set(false);

        s.lockout_store.outage.set(true);
        let result = s.attempt("alice", PASSWORD, None).await;
        assert!(matches!(result, Err(LoginError::Unavailable)));
        s.lockout_store.outage.set(false);
        assert!(s.attempt("alice", PASSWORD, None).await.is_ok());
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_is_upgraded_at_login() {
        let s = setup().await;
        let older = Cost {
            m_kib: 128,
            t: 1,
            p: 1,
        };
        let old_hash = password::hash(PASSWORD.as_bytes(), older).unwrap();
        let erin = Account {
            id: "7d0c8b4e-erin".to_owned(),
            username: "erin".to_owned(),
            password_hash: old_hash.clone(),
            scopes: Vec::new(),
            disabled: false,
            created_at: 1,
            password_changed_at: 1,
        };
        let journal = s
            .base
            .audit
            .journal(crate::audit::AuditEvent::new(
                "cli",
                "test.row_added",
                "erin",
            ))
            .unwrap();
        s.account_store.insert(&erin, &journal).await.unwrap();
        s.attempt("erin", PASSWORD, None).await.unwrap();

        let stored = s.account_store.by_username("erin").await.unwrap().unwrap();
        assert_ne!(stored.password_hash, old_hash);
        assert!(!password::needs_rehash(
            &stored.password_hash,
            Cost::TESTING
        ));
        assert_eq!(stored.password_changed_at, 1, "an upgrade is not a change");
        assert!(s.attempt("erin", PASSWORD, None).await.is_ok());
    }
}
