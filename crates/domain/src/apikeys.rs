//! The pool of third-party API keys (SPEC §8): stored sealed, chosen atomically, marked by
//! what the upstream answered, recovering by themselves.
//!
//! - **Choosing** a key and counting its use is one atomic step in the database: the usable key
//!   of the upstream with the highest priority, then the least recently used. Concurrent
//!   requests (on any instance) get different keys.
//! - **Usable** means `active`, or `cooling`/`quota_exceeded` whose `available_at` has passed.
//!   Such a recovering key is handed to one request only — the *probe* — by moving it to
//!   `probing` for a short while in the same atomic step; the probe's answer decides. Recovery
//!   spends no quota of its own.
//! - **Marks** are compare-and-set and keep the later `available_at`; a daily quota marks the
//!   whole quota group (a Google Cloud project shares one quota among its keys).

use std::fmt;

use async_trait::async_trait;

use crate::store::StoreError;

/// A key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    Active,
    /// Throttled for a short while (per-minute limit, 5xx).
    Cooling,
    /// Its (group's) daily quota is spent until `available_at`.
    QuotaExceeded,
    /// Handed to one request to find out whether it recovered.
    Probing,
    /// Refused by the upstream as invalid; only an administrator brings it back.
    Invalid,
    /// Turned off by an administrator.
    Disabled,
}

impl KeyStatus {
    pub const ALL: [Self; 6] = [
        Self::Active,
        Self::Cooling,
        Self::QuotaExceeded,
        Self::Probing,
        Self::Invalid,
        Self::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Cooling => "cooling",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Probing => "probing",
            Self::Invalid => "invalid",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as stored. `sealed` is the key encrypted under the master key; `hash` a keyed hash
/// for duplicates; `masked` the only form ever shown.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub upstream: String,
    pub sealed: String,
    pub hash: String,
    pub masked: String,
    pub status: KeyStatus,
    pub priority: i64,
    pub quota_group: Option<String>,
    pub usage_count: i64,
    pub last_used: Option<i64>,
    pub created_at: i64,
    pub quota_exceeded_at: Option<i64>,
    pub available_at: Option<i64>,
    pub last_error: Option<String>,
    /// Uses allowed per upstream day, if limited.
    pub daily_budget: Option<i64>,
    /// Uses in the day `budget_day`.
    pub used_today: i64,
    pub budget_day: Option<i64>,
}

/// The upstream's day: its number and when the next one starts (Google: midnight in Los
/// Angeles). Daily budgets count per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub number: i64,
    pub next_starts_at: i64,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("upstream", &self.upstream)
            .field("masked", &self.masked)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// How an upstream's answer bears on the key that made the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Served: the key is fine (a probe brings it back to `active`).
    Served,
    /// A daily quota is spent: the key — and its whole group, named here when the answer
    /// revealed it — until `until`.
    QuotaExceeded { until: i64, group: Option<String> },
    /// Throttled or a transient failure: cool until `until`.
    Cooling { until: i64 },
    /// The upstream refused the key itself.
    Invalid,
    /// The request was wrong (a bad `cx`, a bad argument): no key is blamed.
    ClientError,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync + fmt::Debug {
    /// [`StoreError::Conflict`] when the same key (by hash) exists already.
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    /// All keys, or those of one upstream, by upstream, priority (high first), creation.
    async fn list(&self, upstream: Option<&str>) -> Result<Vec<ApiKey>, StoreError>;
    /// Chooses and counts one usable key of `upstream`, not one of `exclude`, atomically: see
    /// the module documentation. A recovering key is moved to `probing` until
    /// `now + probe_secs`.
    async fn pick(
        &self,
        upstream: &str,
        exclude: &[String],
        now: i64,
        day: Day,
        probe_secs: i64,
    ) -> Result<Option<ApiKey>, StoreError>;
    /// Applies a verdict to key `id` (and its group for a daily quota), compare-and-set: a
    /// disabled or invalid key is never revived by a verdict, and the later `available_at` wins.
    async fn mark(
        &self,
        id: &str,
        verdict: &Verdict,
        error: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// An administrator's change. False when there is no such key.
    async fn update(&self, id: &str, change: &KeyChange) -> Result<bool, StoreError>;
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// Counts a use of key `id` made outside [`ApiKeyStore::pick`] (an administrator's test
    /// call) in day `day`. False when there is no such key.
    async fn count_use(&self, id: &str, now: i64, day: Day) -> Result<bool, StoreError>;
    /// The earliest time a key of `upstream` that is not usable now becomes usable.
    async fn earliest_available(
        &self,
        upstream: &str,
        now: i64,
        day: Day,
    ) -> Result<Option<i64>, StoreError>;
}

/// What an administrator may change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyChange {
    /// Only `Active` or `Disabled`.
    pub status: Option<KeyStatus>,
    pub priority: Option<i64>,
    /// `Some(None)` clears it.
    pub quota_group: Option<Option<String>>,
    /// `Some(None)` removes the budget.
    pub daily_budget: Option<Option<i64>>,
}

/// Checks a key's format before it is stored (per adapter).
pub trait KeyFormat: Send + Sync {
    fn accepts(&self, key: &str) -> bool;
    /// What a valid key looks like, for the error message.
    fn describe(&self) -> String;
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the key does not look like a key of `{upstream}`: {expected}")]
    BadFormat { upstream: String, expected: String },
    #[error("this key is in the pool already (as {0})")]
    Duplicate(String),
    #[error("there is no API key {0}")]
    Unknown(String),
    #[error("a key's status can only be set to `active` or `disabled`")]
    BadStatus,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(crate::audit::AuditError),
    #[error("the key {0} cannot be opened: re-enter it")]
    Unsealable(String),
    #[error("sealing failed")]
    Seal,
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

impl From<crate::audit::AuditedError<PoolError>> for PoolError {
    fn from(err: crate::audit::AuditedError<PoolError>) -> Self {
        match err {
            crate::audit::AuditedError::Audit(err) => Self::Audit(err),
            crate::audit::AuditedError::Action(err) => err,
        }
    }
}

/// The pool's rules over its store.
#[derive(Debug, Clone)]
pub struct ApiKeyPool {
    store: std::sync::Arc<dyn ApiKeyStore>,
    master: kunci_crypto::MasterKey,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    audit: crate::audit::AuditLog,
    notifier: std::sync::Arc<dyn crate::notify::Notifier>,
    episodes: crate::notify::Episodes,
}

/// How long a recovering key is reserved for the one request that probes it.
pub const PROBE_SECS: i64 = 60;

fn context(id: &str) -> Vec<u8> {
    format!("api_key:{id}").into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ApiKeyPool {
    pub fn new(
        store: std::sync::Arc<dyn ApiKeyStore>,
        master: kunci_crypto::MasterKey,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
        audit: crate::audit::AuditLog,
        notifier: std::sync::Arc<dyn crate::notify::Notifier>,
        episodes: crate::notify::Episodes,
    ) -> Self {
        Self {
            store,
            master,
            clock,
            audit,
            notifier,
            episodes,
        }
    }

    /// The port itself, for the adapters' tests and for the outbound gateway; handlers use the
    /// service's own methods.
    pub fn store(&self) -> &std::sync::Arc<dyn ApiKeyStore> {
        &self.store
    }

    /// Every key (of `upstream`, when given), as stored: sealed, shown only masked.
    pub async fn list(&self, upstream: Option<&str>) -> Result<Vec<ApiKey>, PoolError> {
        Ok(self.store.list(upstream).await?)
    }

    /// Adds a key after checking its format and that it is not in the pool already.
    pub async fn add(
        &self,
        actor: &str,
        upstream: &str,
        key: &kunci_crypto::SecretString,
        format: &dyn KeyFormat,
        priority: i64,
        quota_group: Option<String>,
    ) -> Result<ApiKey, PoolError> {
        let text = key.expose().trim();
        if !format.accepts(text) {
            return Err(PoolError::BadFormat {
                upstream: upstream.to_owned(),
                expected: format.describe(),
            });
        }
        let hash = hex(&self
            .master
            .keyed_digest(kunci_crypto::Purpose::Duplicate, text.as_bytes()));
        let mut id = [0u8; 9];
        getrandom::fill(&mut id).map_err(|_| crate::RandomFailure)?;
        let id = format!("key_{}", hex(&id));
        let sealed = self
            .master
            .seal(&context(&id), text.as_bytes())
            .map_err(|_| PoolError::Seal)?;
        let masked = kunci_crypto::mask(text);
        let entry = ApiKey {
            id: id.clone(),
            upstream: upstream.to_owned(),
            sealed,
            hash,
            masked: masked.clone(),
            status: KeyStatus::Active,
            priority,
            quota_group,
            usage_count: 0,
            last_used: None,
            created_at: self.clock.now_unix(),
            quota_exceeded_at: None,
            available_at: None,
            last_error: None,
            daily_budget: None,
            used_today: 0,
            budget_day: None,
        };
        let event = crate::audit::AuditEvent::new(
            actor,
            "admin.api_key.created",
            format!("{upstream} {masked} ({id})"),
        );
        self.audit
            .around(event, async {
                match self.store.insert(&entry).await {
                    Err(StoreError::Conflict) => Err(PoolError::Duplicate(masked.clone())),
                    other => Ok(other?),
                }
            })
            .await?;
        Ok(entry)
    }

    /// An administrator's change, audited with the masked key.
    pub async fn change(
        &self,
        actor: &str,
        id: &str,
        change: &KeyChange,
    ) -> Result<ApiKey, PoolError> {
        if change
            .status
            .is_some_and(|s| !matches!(s, KeyStatus::Active | KeyStatus::Disabled))
        {
            return Err(PoolError::BadStatus);
        }
        let key = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| PoolError::Unknown(id.to_owned()))?;
        let mut what = Vec::new();
        if let Some(status) = change.status {
            what.push(format!("status={status}"));
        }
        if let Some(priority) = change.priority {
            what.push(format!("priority={priority}"));
        }
        if let Some(group) = &change.quota_group {
            what.push(format!("quota_group={}", group.as_deref().unwrap_or("-")));
        }
        if let Some(budget) = change.daily_budget {
            what.push(format!(
                "daily_budget={}",
                budget.map_or("-".to_owned(), |b| b.to_string())
            ));
        }
        let event = crate::audit::AuditEvent::new(
            actor,
            "admin.api_key.updated",
            format!(
                "{} {} ({}) {}",
                key.upstream,
                key.masked,
                key.id,
                what.join(" ")
            ),
        );
        self.audit
            .around(event, async {
                Ok::<_, PoolError>(self.store.update(id, change).await?)
            })
            .await?;
        self.store
            .get(id)
            .await?
            .ok_or_else(|| PoolError::Unknown(id.to_owned()))
    }

    /// Removes a key, audited with its masked form.
    pub async fn remove(&self, actor: &str, id: &str) -> Result<(), PoolError> {
        let key = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| PoolError::Unknown(id.to_owned()))?;
        let event = crate::audit::AuditEvent::new(
            actor,
            "admin.api_key.deleted",
            format!("{} {} ({})", key.upstream, key.masked, key.id),
        );
        self.audit
            .around(event, async {
                Ok::<_, PoolError>(self.store.delete(id).await?)
            })
            .await?;
        Ok(())
    }

    /// Key `id` and its text for an administrator's test call, whatever its status: audited
    /// (with the masked key) before the call is made, and counted as a use in `day`.
    pub async fn lease_for_test(
        &self,
        actor: &str,
        id: &str,
        day: Day,
    ) -> Result<(ApiKey, kunci_crypto::SecretString), PoolError> {
        let key = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| PoolError::Unknown(id.to_owned()))?;
        let secret = self.open(&key)?;
        let event = crate::audit::AuditEvent::new(
            actor,
            "admin.api_key.tested",
            format!("{} {} ({})", key.upstream, key.masked, key.id),
        );
        let now = self.clock.now_unix();
        self.audit
            .around(event, async {
                Ok::<_, PoolError>(self.store.count_use(id, now, day).await?)
            })
            .await?;
        Ok((key, secret))
    }

    /// The key text, for a call. Only the upstream transport ever sees it.
    pub fn open(&self, key: &ApiKey) -> Result<kunci_crypto::SecretString, PoolError> {
        let bytes = self
            .master
            .open(&context(&key.id), &key.sealed)
            .map_err(|_| PoolError::Unsealable(key.masked.clone()))?;
        String::from_utf8(bytes.to_vec())
            .map(kunci_crypto::SecretString::new)
            .map_err(|_| PoolError::Unsealable(key.masked.clone()))
    }

    /// Chooses a key for one call of `upstream`, none of `exclude`. `None` when no key is
    /// usable: the exhaustion episode begins (one notification however many requests see it).
    pub async fn acquire(
        &self,
        upstream: &str,
        exclude: &[String],
        day: Day,
    ) -> Result<Option<(ApiKey, kunci_crypto::SecretString)>, PoolError> {
        let now = self.clock.now_unix();
        loop {
            let Some(key) = self
                .store
                .pick(upstream, exclude, now, day, PROBE_SECS)
                .await?
            else {
                if exclude.is_empty() {
                    let notice = crate::notify::Notification::new(
                        crate::notify::EventKind::ApiKeysExhausted,
                        now,
                        upstream,
                    );
                    self.episodes
                        .begin(&format!("pool:{upstream}"), notice)
                        .await;
                }
                return Ok(None);
            };
            match self.open(&key) {
                Ok(secret) => return Ok(Some((key, secret))),
                Err(err) => {
                    // A row that will not decrypt is never used in clear, and never again.
                    tracing::error!(error = %err, key = %key.masked, "an API key cannot be opened");
                    self.store
                        .mark(
                            &key.id,
                            &Verdict::Invalid,
                            Some("cannot be decrypted: re-enter it"),
                            now,
                        )
                        .await?;
                }
            }
        }
    }

    /// Records how the upstream answered a call made with `key`.
    pub async fn report(
        &self,
        key: &ApiKey,
        verdict: &Verdict,
        error: Option<&str>,
    ) -> Result<(), PoolError> {
        let now = self.clock.now_unix();
        self.store.mark(&key.id, verdict, error, now).await?;
        match verdict {
            Verdict::Served => {
                let notice = crate::notify::Notification::new(
                    crate::notify::EventKind::ApiKeysRecovered,
                    now,
                    key.upstream.clone(),
                );
                self.episodes
                    .end(&format!("pool:{}", key.upstream), notice)
                    .await;
            }
            Verdict::Invalid => {
                self.notifier.notify(
                    crate::notify::Notification::new(
                        crate::notify::EventKind::ApiKeyInvalid,
                        now,
                        key.masked.clone(),
                    )
                    .detail("upstream", key.upstream.clone())
                    .detail("key_id", key.id.clone())
                    .detail(
                        "error",
                        error
                            .unwrap_or_default()
                            .chars()
                            .take(200)
                            .collect::<String>(),
                    ),
                );
                let event = crate::audit::AuditEvent::new(
                    "system",
                    "api_key.invalidated",
                    format!("{} {} ({})", key.upstream, key.masked, key.id),
                )
                .outcome(crate::audit::Outcome::Denied);
                if let Err(err) = self.audit.record(event).await {
                    tracing::error!(error = %err, "could not audit an invalidated key");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// When the pool of `upstream` has a usable key again at the earliest.
    pub async fn earliest_available(
        &self,
        upstream: &str,
        day: Day,
    ) -> Result<Option<i64>, PoolError> {
        Ok(self
            .store
            .earliest_available(upstream, self.clock.now_unix(), day)
            .await?)
    }
}
