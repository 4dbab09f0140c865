//! Accounts: names, Argon2id password hashes, scopes; and the one way to check a password.
//!
//! Hashing runs on Tokio's blocking pool behind a semaphore ([`PasswordPool`]): a login storm
//! queues there instead of taking every core and hundreds of MiB at once, so the rest of the
//! site keeps answering. An unknown name costs the same verification as a known one (against
//! a dummy hash made at start with the same parameters), and a disabled account answers like a
//! wrong password: the answer never tells which names exist.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use kunci_crypto::SecretString;
use kunci_crypto::password::{self, Cost, MAX_PASSWORD_BYTES, PasswordError};
use tokio::sync::Semaphore;

use crate::audit::{Actor, AuditEvent, AuditLog, AuditedError, Journal, Outcome};
use crate::clock::Clock;
use crate::session::Scope;
use crate::store::StoreError;

/// An account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Stable id (a random UUID): the `sub` of sessions and tokens.
    pub id: String,
    /// Lowercase; see [`normalize_username`].
    pub username: String,
    pub password_hash: String,
    /// What logging in grants besides `basic`: `user`, and `admin` for administrators.
    pub scopes: Vec<Scope>,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("scopes", &self.scopes)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The scopes of a session logged in to this account.
    pub fn session_scopes(&self) -> Vec<Scope> {
        let mut scopes = vec![Scope::Basic, Scope::User];
        if self.scopes.contains(&Scope::Admin) {
            scopes.push(Scope::Admin);
        }
        scopes
    }
}

#[async_trait]
///
/// The writes an administrator makes take the [`Journal`] of their audit entry and commit it
/// with themselves (see [`Journal`] for the contract).
pub trait AccountStore: Send + Sync + fmt::Debug {
    /// [`StoreError::Conflict`] when the name is taken.
    async fn insert(&self, account: &Account, journal: &Journal) -> Result<(), StoreError>;
    async fn by_username(&self, username: &str) -> Result<Option<Account>, StoreError>;
    async fn by_id(&self, id: &str) -> Result<Option<Account>, StoreError>;
    async fn list(&self) -> Result<Vec<Account>, StoreError>;
    /// False when there is no such account.
    async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        journal: &Journal,
    ) -> Result<bool, StoreError>;
    /// False when there is no such account. No journal: a rehash after a login, which changes
    /// no one's access.
    async fn set_password(
        &self,
        username: &str,
        hash: &str,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<bool, StoreError>;
    /// Replaces the account's scopes. False when there is no such account.
    async fn set_scopes(
        &self,
        username: &str,
        scopes: &[Scope],
        journal: &Journal,
    ) -> Result<bool, StoreError>;
}

/// A name as stored and compared: trimmed and lowercased. `None` when it is not acceptable:
/// 1 to 64 characters of `a-z 0-9 . _ @ + -`, so that names are unambiguous in logs, audit
/// entries and URLs (no look-alike Unicode, no spaces, no control characters).
pub fn normalize_username(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@+-".contains(&b));
    ok.then_some(name)
}

/// Runs Argon2id off the async threads, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    cost: Cost,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashingError {
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("the password hashing pool is shut down")]
    Closed,
}

impl PasswordPool {
    /// `parallel` hashes at most at once (each takes `cost.m_kib` of memory).
    pub fn new(parallel: usize, cost: Cost) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(parallel.max(1))),
            cost,
        }
    }

    pub fn cost(&self) -> Cost {
        self.cost
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, HashingError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashingError::Closed)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| HashingError::Closed)?
            .map_err(HashingError::Password)
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, HashingError> {
        let (password, cost) = (password.clone(), self.cost);
        self.run(move || password::hash(password.expose().as_bytes(), cost))
            .await
    }

    pub async fn verify(&self, password: &SecretString, phc: &str) -> Result<bool, HashingError> {
        let (password, phc) = (password.clone(), phc.to_owned());
        self.run(move || password::verify(password.expose().as_bytes(), &phc))
            .await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(
        "`{0}` is not an account name: 1 to 64 characters of a-z, 0-9 and . _ @ + - (compared in lowercase)"
    )]
    BadName(String),
    #[error("an account named `{0}` exists already")]
    Exists(String),
    #[error("there is no account named `{0}`")]
    Unknown(String),
    #[error("passwords are 1 to {MAX_PASSWORD_BYTES} bytes")]
    BadPassword,
    /// Wrong name, wrong password or disabled account: one answer for all.
    #[error("invalid_credentials")]
    InvalidCredentials,
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(crate::audit::AuditError),
    #[error("password hashing failed: {0}")]
    Hashing(HashingError),
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

impl<E: Into<AccountError>> From<AuditedError<E>> for AccountError {
    fn from(err: AuditedError<E>) -> Self {
        match err {
            AuditedError::Audit(err) => Self::Audit(err),
            AuditedError::Action(err) => err.into(),
        }
    }
}

fn hashing(err: HashingError) -> AccountError {
    match err {
        HashingError::Password(PasswordError::TooLong) => AccountError::PasswordTooLong,
        HashingError::Password(PasswordError::Empty) => AccountError::BadPassword,
        other => AccountError::Hashing(other),
    }
}

/// A random UUID v4, hyphenated.
fn new_id() -> Result<String, crate::RandomFailure> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| crate::RandomFailure)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// Accounts and the checking of passwords.
#[derive(Debug, Clone)]
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    pool: PasswordPool,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
    /// What unknown names are verified against, so they cost the same.
    dummy: Arc<str>,
}

impl Accounts {
    /// Makes the dummy hash (one hashing, on the pool).
    pub async fn new(
        store: Arc<dyn AccountStore>,
        pool: PasswordPool,
        audit: AuditLog,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AccountError> {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|_| crate::RandomFailure)?;
        let throwaway: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let throwaway = SecretString::new(throwaway);
        let dummy = pool.hash(&throwaway).await.map_err(hashing)?;
        Ok(Self {
            store,
            pool,
            audit,
            clock,
            dummy: dummy.into(),
        })
    }

    /// The port itself, for the adapters' tests and for the outbound gateway; handlers use the
    /// service's own methods.
    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.store
    }

    /// The account of id `id`, if it exists and is not disabled: what a token may still be
    /// minted for.
    pub async fn active_by_id(&self, id: &str) -> Result<Option<Account>, AccountError> {
        Ok(self.store.by_id(id).await?.filter(|a| !a.disabled))
    }

    /// The account of id `id`, disabled or not.
    pub async fn by_id(&self, id: &str) -> Result<Option<Account>, AccountError> {
        Ok(self.store.by_id(id).await?)
    }

    /// The account named `name` (compared normalised); none for a name that cannot exist.
    pub async fn by_name(&self, name: &str) -> Result<Option<Account>, AccountError> {
        match normalize_username(name) {
            Some(name) => Ok(self.store.by_username(&name).await?),
            None => Ok(None),
        }
    }

    /// Creates an account with scope `user` (and `admin` when asked).
    pub async fn add(
        &self,
        actor: &Actor,
        username: &str,
        password: &SecretString,
        admin: bool,
    ) -> Result<Account, AccountError> {
        let name = normalize_username(username)
            .ok_or_else(|| AccountError::BadName(username.chars().take(64).collect()))?;
        let hash = self.pool.hash(password).await.map_err(hashing)?;
        let now = self.clock.now_unix();
        let mut scopes = vec![Scope::User];
        if admin {
            scopes.push(Scope::Admin);
        }
        let account = Account {
            id: new_id()?,
            username: name.clone(),
            password_hash: hash,
            scopes,
            disabled: false,
            created_at: now,
            password_changed_at: now,
        };
        let target = if admin {
            format!("{name} (admin)")
        } else {
            name.clone()
        };
        let event = AuditEvent::by(actor, "account.created", target);
        self.audit
            .within(event, async |journal| {
                self.store.insert(&account, &journal).await
            })
            .await
            .map_err(|err| match err {
                AuditedError::Action(StoreError::Conflict) => AccountError::Exists(name.clone()),
                err => err.into(),
            })?;
        Ok(account)
    }

    /// Checks a name and password. Always performs exactly one Argon2id verification.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<Account, AccountError> {
        if password.expose().len() > MAX_PASSWORD_BYTES {
            return Err(AccountError::PasswordTooLong);
        }
        let account = match normalize_username(username) {
            Some(name) => self.store.by_username(&name).await?,
            None => None,
        };
        let phc = account
            .as_ref()
            .map_or_else(|| self.dummy.to_string(), |a| a.password_hash.clone());
        let matches = match self.pool.verify(password, &phc).await {
            Ok(matches) => matches,
            Err(HashingError::Password(PasswordError::Empty)) => false,
            Err(err) => return Err(hashing(err)),
        };
        match account {
            Some(account) if matches && !account.disabled => {
                self.upgrade_hash(&account, password).await;
                Ok(account)
            }
            _ => Err(AccountError::InvalidCredentials),
        }
    }

    /// Rehashes with the current parameters after a successful login, when they changed.
    async fn upgrade_hash(&self, account: &Account, password: &SecretString) {
        if !password::needs_rehash(&account.password_hash, self.pool.cost()) {
            return;
        }
        if let Ok(hash) = self.pool.hash(password).await
            && let Err(err) = self
                .store
                .set_password(&account.username, &hash, account.password_changed_at, None)
                .await
        {
            tracing::warn!(error = %err, "could not store an upgraded password hash");
        }
    }

    pub async fn list(&self) -> Result<Vec<Account>, AccountError> {
        Ok(self.store.list().await?)
    }

    pub async fn set_disabled(
        &self,
        actor: &Actor,
        username: &str,
        disabled: bool,
    ) -> Result<(), AccountError> {
        let name = normalize_username(username)
            .ok_or_else(|| AccountError::BadName(username.chars().take(64).collect()))?;
        let action = if disabled {
            "account.disabled"
        } else {
            "account.enabled"
        };
        let event = AuditEvent::by(actor, action, name.clone());
        let done = self
            .audit
            .within(event, async |journal| {
                self.store.set_disabled(&name, disabled, &journal).await
            })
            .await?;
        if done {
            Ok(())
        } else {
            Err(AccountError::Unknown(name))
        }
    }

    pub async fn set_password(
        &self,
        actor: &Actor,
        username: &str,
        password: &SecretString,
    ) -> Result<(), AccountError> {
        let name = normalize_username(username)
            .ok_or_else(|| AccountError::BadName(username.chars().take(64).collect()))?;
        let hash = self.pool.hash(password).await.map_err(hashing)?;
        let now = self.clock.now_unix();
        let event = AuditEvent::by(actor, "account.password_changed", name.clone());
        let done = self
            .audit
            .within(event, async |journal| {
                self.store
                    .set_password(&name, &hash, now, Some(&journal))
                    .await
            })
            .await?;
        if done {
            Ok(())
        } else {
            Err(AccountError::Unknown(name))
        }
    }

    /// Gives or takes the `admin` scope (`user` stays). Audited; the account's sessions and
    /// app logins keep the scopes they were given, so the caller ends them
    /// (`kunci user scope` does) when a scope is taken away.
    pub async fn set_admin(
        &self,
        actor: &Actor,
        username: &str,
        admin: bool,
    ) -> Result<Account, AccountError> {
        let name = normalize_username(username)
            .ok_or_else(|| AccountError::BadName(username.chars().take(64).collect()))?;
        let mut scopes = vec![Scope::User];
        if admin {
            scopes.push(Scope::Admin);
        }
        let shown: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let event = AuditEvent::by(
            actor,
            "account.scopes_changed",
            format!("{name}: {}", shown.join(" ")),
        );
        let done = self
            .audit
            .within(event, async |journal| {
                self.store.set_scopes(&name, &scopes, &journal).await
            })
            .await?;
        if !done {
            return Err(AccountError::Unknown(name));
        }
        self.store
            .by_username(&name)
            .await?
            .ok_or(AccountError::Unknown(name))
    }

    /// Records a login attempt's outcome.
    pub async fn audit_login(
        &self,
        username: &str,
        outcome: Outcome,
        ip: Option<std::net::IpAddr>,
        flow: &str,
    ) -> Result<(), AccountError> {
        let target = normalize_username(username).unwrap_or_else(|| "(invalid name)".to_owned());
        let event = AuditEvent::new(Actor::login(flow), "account.login", target)
            .outcome(outcome)
            .ip(ip);
        self.audit
            .record(event)
            .await
            .map(drop)
            .map_err(AccountError::Audit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_or_refused() {
        assert_eq!(
            normalize_username("  Alice@Example.com "),
            Some("alice@example.com".into())
        );
        assert_eq!(
            normalize_username("bob_1.x+y-z"),
            Some("bob_1.x+y-z".into())
        );
        for bad in [
            "",
            " ",
            "a b",
            "ålice",
            "a/b",
            "a\nb",
            &"a".repeat(65),
            "a;b",
            "<a>",
        ] {
            assert_eq!(normalize_username(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ids_are_uuid_v4() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn session_scopes_add_basic_and_user() {
        let account = Account {
            id: "x".into(),
            username: "a".into(),
            password_hash: String::new(),
            scopes: vec![Scope::User, Scope::Admin],
            disabled: false,
            created_at: 0,
            password_changed_at: 0,
        };
        assert_eq!(
            account.session_scopes(),
            [Scope::Basic, Scope::User, Scope::Admin]
        );
    }
}
