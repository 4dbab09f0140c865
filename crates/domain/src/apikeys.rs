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

mod format;
mod import;
mod status;
pub use format::{KeyFormat, KeyShape};
pub use import::{ImportError, ImportLine, ImportReport, MAX_IMPORT_LINES};
pub use status::KeyStatus;

use std::fmt;

use async_trait::async_trait;

use crate::audit::{Actor, AuditEvent, AuditedError, Journal};
use crate::hex;
use crate::store::StoreError;

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

impl Verdict {
    /// The name its hourly count goes under (the overview's chart of upstream answers).
    pub fn tally(&self) -> &'static str {
        match self {
            Self::Served => "upstream.served",
            Self::QuotaExceeded { .. } | Self::Cooling { .. } => "upstream.limited",
            Self::Invalid | Self::ClientError => "upstream.refused",
        }
    }
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync + fmt::Debug {
    /// [`StoreError::Conflict`] when the same key (by hash) exists already.
    async fn insert(&self, key: &ApiKey, journal: &Journal) -> Result<(), StoreError>;
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
    async fn update(
        &self,
        id: &str,
        change: &KeyChange,
        journal: &Journal,
    ) -> Result<bool, StoreError>;
    async fn delete(&self, id: &str, journal: &Journal) -> Result<bool, StoreError>;
    /// Counts a use of key `id` made outside [`ApiKeyStore::pick`] (an administrator's test
    /// call) in day `day`. False when there is no such key.
    async fn count_use(
        &self,
        id: &str,
        now: i64,
        day: Day,
        journal: &Journal,
    ) -> Result<bool, StoreError>;
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
    #[error(
        "a quota group is 1 to {MAX_GROUP_CHARS} characters, without control or direction-changing characters"
    )]
    BadQuotaGroup,
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

impl<E: Into<PoolError>> From<AuditedError<E>> for PoolError {
    fn from(err: AuditedError<E>) -> Self {
        match err {
            AuditedError::Audit(err) => Self::Audit(err),
            AuditedError::Action(err) => err.into(),
        }
    }
}

/// How the audit log names a key: its upstream, masked form and id.
fn audit_target(key: &ApiKey) -> String {
    format!("{} {} ({})", key.upstream, key.masked, key.id)
}

/// The longest quota group kept (a Cloud project number, or a name an administrator gives).
pub const MAX_GROUP_CHARS: usize = 128;

/// A quota group as kept: trimmed; none when blank. Refused when longer than
/// [`MAX_GROUP_CHARS`] or holding characters that would garble a page, a log line or a
/// terminal (controls, and the Unicode marks that reorder text, such as U+202E).
pub fn clean_quota_group(text: Option<String>) -> Result<Option<String>, PoolError> {
    let Some(text) = text else { return Ok(None) };
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let reorders = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if text.chars().count() > MAX_GROUP_CHARS || text.chars().any(|c| c.is_control() || reorders(c))
    {
        return Err(PoolError::BadQuotaGroup);
    }
    Ok(Some(text.to_owned()))
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
    /// Uses per key and day, and the upstreams' answers per hour, for the console's charts
    /// (the server's pool counts them; the command line's does not).
    tallies: Option<(
        std::sync::Arc<crate::tally::Tallies>,
        std::sync::Arc<crate::tally::Tallies>,
    )>,
}

/// How long a recovering key is reserved for the one request that probes it.
pub const PROBE_SECS: i64 = 60;

fn context(id: &str) -> Vec<u8> {
    format!("api_key:{id}").into_bytes()
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
            tallies: None,
        }
    }

    /// Counts each key's uses per day in `daily` (by key id) and the upstreams' answers per
    /// hour in `hourly` (`upstream.<verdict>`), for the console's charts.
    pub fn with_tallies(
        mut self,
        daily: std::sync::Arc<crate::tally::Tallies>,
        hourly: std::sync::Arc<crate::tally::Tallies>,
    ) -> Self {
        self.tallies = Some((daily, hourly));
        self
    }

    /// The uses per key and day, when this pool counts them.
    pub fn daily(&self) -> Option<&crate::tally::Tallies> {
        self.tallies.as_ref().map(|(daily, _)| daily.as_ref())
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
        actor: &Actor,
        upstream: &str,
        key: &kunci_crypto::SecretString,
        format: &dyn KeyFormat,
        priority: i64,
        quota_group: Option<String>,
    ) -> Result<ApiKey, PoolError> {
        let quota_group = clean_quota_group(quota_group)?;
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
        let event = AuditEvent::by(
            actor,
            "admin.api_key.created",
            format!("{upstream} {masked} ({id})"),
        );
        self.audit
            .within(event, async |journal| {
                self.store.insert(&entry, &journal).await
            })
            .await
            .map_err(|err| match err {
                AuditedError::Action(StoreError::Conflict) => PoolError::Duplicate(masked.clone()),
                err => err.into(),
            })?;
        Ok(entry)
    }

    /// An administrator's change, audited with the masked key.
    pub async fn change(
        &self,
        actor: &Actor,
        id: &str,
        change: &KeyChange,
    ) -> Result<ApiKey, PoolError> {
        if change
            .status
            .is_some_and(|s| !matches!(s, KeyStatus::Active | KeyStatus::Disabled))
        {
            return Err(PoolError::BadStatus);
        }
        let mut change = change.clone();
        if let Some(group) = change.quota_group.take() {
            change.quota_group = Some(clean_quota_group(group)?);
        }
        let change = &change;
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
        let event = AuditEvent::by(
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
            .within(event, async |journal| {
                self.store.update(id, change, &journal).await
            })
            .await?;
        self.store
            .get(id)
            .await?
            .ok_or_else(|| PoolError::Unknown(id.to_owned()))
    }

    /// Removes a key, audited with its masked form.
    pub async fn remove(&self, actor: &Actor, id: &str) -> Result<(), PoolError> {
        let key = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| PoolError::Unknown(id.to_owned()))?;
        let event = AuditEvent::by(actor, "admin.api_key.deleted", audit_target(&key));
        self.audit
            .within(event, async |journal| self.store.delete(id, &journal).await)
            .await?;
        Ok(())
    }

    /// Key `id` and its text for an administrator's test call, whatever its status: audited
    /// (with the masked key) before the call is made, and counted as a use in `day`.
    pub async fn lease_for_test(
        &self,
        actor: &Actor,
        id: &str,
        day: Day,
    ) -> Result<(ApiKey, kunci_crypto::SecretString), PoolError> {
        let key = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| PoolError::Unknown(id.to_owned()))?;
        let secret = self.open(&key)?;
        let event = AuditEvent::by(actor, "admin.api_key.tested", audit_target(&key));
        let now = self.clock.now_unix();
        self.audit
            .within(event, async |journal| {
                self.store.count_use(id, now, day, &journal).await
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
                Ok(secret) => {
                    if let Some((daily, _)) = &self.tallies {
                        daily.count(&key.id, now);
                    }
                    return Ok(Some((key, secret)));
                }
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
        if let Some((_, hourly)) = &self.tallies {
            hourly.count(verdict.tally(), now);
        }
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
                let event = AuditEvent::new(
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

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::sync::{Arc, Mutex, MutexGuard};

    use kunci_crypto::SecretString;
    use time::Duration;

    use super::*;
    use crate::clock::Clock as _;
    use crate::notify::{Episodes, EventKind};
    use crate::testing::{Base, MemoryEpisodes};

    const UPSTREAM: &str = "search";
    /// The upstream's day in these tests (the clock starts on 2026-11-23).
    const DAY: Day = Day {
        number: 20_415,
        next_starts_at: 1_795_507_200,
    };

    /// Keys of the test upstream: `tk_` and 16 letters or digits.
    struct TestFormat;

    impl KeyFormat for TestFormat {
        fn accepts(&self, key: &str) -> bool {
            key.len() == 19
                && key.starts_with("tk_")
                && key[3..].bytes().all(|b| b.is_ascii_alphanumeric())
        }

        fn shape(&self) -> KeyShape {
            KeyShape::Prefixed {
                prefix: "tk_",
                total: 19,
            }
        }
    }

    fn key_text(n: u32) -> String {
        format!("tk_{n:016}")
    }

    /// The pool's store as the SQL adapter keeps it, without the cross-instance locking (one
    /// `Mutex` makes every call atomic here).
    #[derive(Debug, Default)]
    struct MemoryApiKeys {
        rows: Mutex<Vec<ApiKey>>,
    }

    impl MemoryApiKeys {
        fn rows(&self) -> MutexGuard<'_, Vec<ApiKey>> {
            self.rows.lock().unwrap()
        }
    }

    /// Active, or waiting no longer, and within its daily budget.
    fn usable(key: &ApiKey, now: i64, day: Day) -> bool {
        let waited = match key.status {
            KeyStatus::Active => true,
            KeyStatus::Cooling | KeyStatus::QuotaExceeded | KeyStatus::Probing => {
                key.available_at.is_some_and(|at| at <= now)
            }
            KeyStatus::Invalid | KeyStatus::Disabled => false,
        };
        let within_budget = match (key.daily_budget, key.budget_day) {
            (Some(budget), Some(counted)) if counted == day.number => key.used_today < budget,
            _ => true,
        };
        waited && within_budget
    }

    /// The later of a stored `available_at` and `until`.
    fn later(available_at: Option<i64>, until: i64) -> Option<i64> {
        Some(available_at.map_or(until, |at| at.max(until)))
    }

    impl MemoryApiKeys {
        /// Appends `journal` when key `id` exists; false (and no entry) when it does not.
        async fn journal_for(&self, id: &str, journal: &Journal) -> Result<bool, StoreError> {
            if !self.rows().iter().any(|k| k.id == id) {
                return Ok(false);
            }
            journal.append_alone().await?;
            Ok(true)
        }
    }

    /// Counts a use in `day`.
    fn count(key: &mut ApiKey, now: i64, day: Day) {
        key.usage_count += 1;
        key.last_used = Some(now);
        key.used_today = if key.budget_day == Some(day.number) {
            key.used_today + 1
        } else {
            1
        };
        key.budget_day = Some(day.number);
    }

    #[async_trait]
    impl ApiKeyStore for MemoryApiKeys {
        async fn insert(&self, key: &ApiKey, journal: &Journal) -> Result<(), StoreError> {
            if self
                .rows()
                .iter()
                .any(|k| k.hash == key.hash || k.id == key.id)
            {
                return Err(StoreError::Conflict);
            }
            journal.append_alone().await?;
            self.rows().push(key.clone());
            Ok(())
        }

        async fn get(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
            Ok(self.rows().iter().find(|k| k.id == id).cloned())
        }

        async fn list(&self, upstream: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
            let mut keys: Vec<ApiKey> = self
                .rows()
                .iter()
                .filter(|k| upstream.is_none_or(|u| k.upstream == u))
                .cloned()
                .collect();
            keys.sort_by_key(|k| {
                let order = (Reverse(k.priority), k.created_at, k.id.clone());
                (k.upstream.clone(), order)
            });
            Ok(keys)
        }

        async fn pick(
            &self,
            upstream: &str,
            exclude: &[String],
            now: i64,
            day: Day,
            probe_secs: i64,
        ) -> Result<Option<ApiKey>, StoreError> {
            let mut rows = self.rows();
            let best = rows
                .iter_mut()
                .filter(|k| k.upstream == upstream && !exclude.contains(&k.id))
                .filter(|k| usable(k, now, day))
                .min_by_key(|k| {
                    let recency = (k.last_used.is_some(), k.last_used, k.usage_count);
                    (Reverse(k.priority), recency, k.id.clone())
                });
            let Some(key) = best else {
                return Ok(None);
            };
            count(key, now, day);
            if key.status != KeyStatus::Active {
                key.available_at = Some(now + probe_secs);
                key.status = KeyStatus::Probing;
            }
            Ok(Some(key.clone()))
        }

        async fn mark(
            &self,
            id: &str,
            verdict: &Verdict,
            error: Option<&str>,
            now: i64,
        ) -> Result<(), StoreError> {
            use KeyStatus::{Active, Cooling, Disabled, Invalid, Probing, QuotaExceeded};
            let error = error.map(|e| e.chars().take(200).collect::<String>());
            let mut rows = self.rows();
            let Some(at) = rows.iter().position(|k| k.id == id) else {
                return Ok(());
            };
            let key = &mut rows[at];
            match verdict {
                Verdict::Served | Verdict::ClientError => {
                    if matches!(key.status, Active | Probing) {
                        key.status = Active;
                        key.available_at = None;
                        key.last_error = error;
                    }
                }
                Verdict::Cooling { until } => {
                    if matches!(key.status, Active | Probing | Cooling) {
                        key.status = Cooling;
                        key.available_at = later(key.available_at, *until);
                        key.last_error = error;
                    }
                }
                Verdict::Invalid => {
                    if key.status != Disabled {
                        key.status = Invalid;
                        key.available_at = None;
                        key.last_error = error;
                    }
                }
                Verdict::QuotaExceeded { until, group } => {
                    if key.quota_group.is_none() {
                        key.quota_group.clone_from(group);
                    }
                    let (upstream, group) = (key.upstream.clone(), key.quota_group.clone());
                    for k in &mut *rows {
                        let shared = group.is_some() && k.quota_group == group;
                        let hit = k.id == id || (shared && k.upstream == upstream);
                        if hit && !matches!(k.status, Disabled | Invalid) {
                            k.status = QuotaExceeded;
                            k.available_at = later(k.available_at, *until);
                            k.quota_exceeded_at = Some(now);
                            k.last_error.clone_from(&error);
                        }
                    }
                }
            }
            Ok(())
        }

        async fn update(
            &self,
            id: &str,
            change: &KeyChange,
            journal: &Journal,
        ) -> Result<bool, StoreError> {
            if !self.journal_for(id, journal).await? {
                return Ok(false);
            }
            let mut rows = self.rows();
            let Some(key) = rows.iter_mut().find(|k| k.id == id) else {
                return Ok(false);
            };
            if let Some(status) = change.status {
                key.status = status;
                key.available_at = None;
                key.last_error = None;
            }
            if let Some(priority) = change.priority {
                key.priority = priority;
            }
            if let Some(group) = &change.quota_group {
                key.quota_group.clone_from(group);
            }
            if let Some(budget) = change.daily_budget {
                key.daily_budget = budget;
            }
            Ok(true)
        }

        async fn delete(&self, id: &str, journal: &Journal) -> Result<bool, StoreError> {
            if !self.journal_for(id, journal).await? {
                return Ok(false);
            }
            let mut rows = self.rows();
            let before = rows.len();
            rows.retain(|k| k.id != id);
            Ok(rows.len() < before)
        }

        async fn count_use(
            &self,
            id: &str,
            now: i64,
            day: Day,
            journal: &Journal,
        ) -> Result<bool, StoreError> {
            if !self.journal_for(id, journal).await? {
                return Ok(false);
            }
            let mut rows = self.rows();
            let Some(key) = rows.iter_mut().find(|k| k.id == id) else {
                return Ok(false);
            };
            count(key, now, day);
            Ok(true)
        }

        async fn earliest_available(
            &self,
            upstream: &str,
            now: i64,
            day: Day,
        ) -> Result<Option<i64>, StoreError> {
            use KeyStatus::{Active, Cooling, Probing, QuotaExceeded};
            let rows = self.rows();
            let waiting = rows
                .iter()
                .filter(|k| k.upstream == upstream)
                .filter(|k| matches!(k.status, Cooling | QuotaExceeded | Probing))
                .filter_map(|k| k.available_at.filter(|at| *at > now));
            let spent = rows
                .iter()
                .filter(|k| k.upstream == upstream && k.status == Active)
                .filter(|k| k.budget_day == Some(day.number))
                .filter(|k| k.daily_budget.is_some_and(|budget| k.used_today >= budget))
                .map(|_| day.next_starts_at);
            Ok(waiting.chain(spent).min())
        }
    }

    struct Setup {
        pool: ApiKeyPool,
        store: Arc<MemoryApiKeys>,
        base: Base,
    }

    fn setup() -> Setup {
        let base = Base::new();
        let store = Arc::new(MemoryApiKeys::default());
        let episodes = Episodes::new(
            Arc::new(MemoryEpisodes::default()),
            base.heard.clone(),
            base.clock(),
        );
        let pool = ApiKeyPool::new(
            store.clone(),
            base.master.clone(),
            base.clock(),
            base.audit.clone(),
            base.heard.clone(),
            episodes,
        );
        Setup { pool, store, base }
    }

    impl Setup {
        async fn add_text(&self, text: &str, priority: i64) -> Result<ApiKey, PoolError> {
            let text = SecretString::new(text);
            self.pool
                .add(&Actor::cli(), UPSTREAM, &text, &TestFormat, priority, None)
                .await
        }

        /// Adds key number `n` of the test upstream.
        async fn add(&self, n: u32) -> ApiKey {
            self.add_text(&key_text(n), 0).await.unwrap()
        }

        async fn report(&self, key: &ApiKey, verdict: Verdict, error: Option<&str>) {
            self.pool.report(key, &verdict, error).await.unwrap();
        }

        async fn acquire(&self, exclude: &[String]) -> Option<(ApiKey, SecretString)> {
            self.pool.acquire(UPSTREAM, exclude, DAY).await.unwrap()
        }

        async fn stored(&self, id: &str) -> ApiKey {
            self.store.get(id).await.unwrap().unwrap()
        }

        /// The audit entries of `action` as `actor target outcome`.
        fn audited(&self, action: &str) -> Vec<String> {
            self.base
                .audited()
                .into_iter()
                .filter(|d| d.action == action)
                .map(|d| format!("{} {} {}", d.actor, d.target, d.outcome))
                .collect()
        }
    }

    #[tokio::test]
    async fn a_key_is_checked_for_its_format_and_stored_only_sealed_and_masked() {
        let s = setup();
        let refused = s.add_text("sk-not-this-upstream", 0).await;
        assert!(matches!(refused, Err(PoolError::BadFormat { .. })));

        let key = s.add(1).await;
        let text = key_text(1);
        for stored in [&key.sealed, &key.hash, &key.masked] {
            assert!(!stored.contains(&text), "{stored}");
        }
        assert_eq!(key.masked, kunci_crypto::mask(&text));
        assert_eq!(s.pool.open(&key).unwrap().expose(), text);
        assert_eq!(
            s.pool.list(Some(UPSTREAM)).await.unwrap(),
            std::slice::from_ref(&key)
        );
        let created = format!("cli {UPSTREAM} {} ({}) allowed", key.masked, key.id);
        assert_eq!(s.audited("admin.api_key.created"), [created]);
    }

    #[tokio::test]
    async fn the_same_key_twice_is_a_duplicate() {
        let s = setup();
        let first = s.add(1).await;
        let again = format!("  {}\n", key_text(1));
        let added = s.add_text(&again, 5).await;
        match added {
            Err(PoolError::Duplicate(masked)) => assert_eq!(masked, first.masked),
            other => panic!("expected a duplicate, got {other:?}"),
        }
        assert_eq!(s.pool.list(None).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_key_is_not_added_when_its_audit_entry_cannot_be_written() {
        let s = setup();
        s.base.audit_store.outage.set(true);
        let added = s.add_text(&key_text(1), 0).await;
        assert!(matches!(added, Err(PoolError::Audit(_))));
        assert!(s.pool.list(None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_administrator_sets_only_active_or_disabled() {
        let s = setup();
        let key = s.add(1).await;
        for status in [
            KeyStatus::Cooling,
            KeyStatus::QuotaExceeded,
            KeyStatus::Probing,
            KeyStatus::Invalid,
        ] {
            let change = KeyChange {
                status: Some(status),
                ..KeyChange::default()
            };
            let refused = s.pool.change(&Actor::cli(), &key.id, &change).await;
            assert!(matches!(refused, Err(PoolError::BadStatus)), "{status}");
        }
        let disable = KeyChange {
            status: Some(KeyStatus::Disabled),
            ..KeyChange::default()
        };
        let unknown = s.pool.change(&Actor::cli(), "key_nothing", &disable).await;
        assert!(matches!(unknown, Err(PoolError::Unknown(_))));

        let changed = s
            .pool
            .change(&Actor::cli(), &key.id, &disable)
            .await
            .unwrap();
        assert_eq!(changed.status, KeyStatus::Disabled);
        assert!(s.acquire(&[]).await.is_none(), "never handed out");
        let target = format!("{UPSTREAM} {} ({}) status=disabled", key.masked, key.id);
        let expected = format!("cli {target} allowed");
        assert_eq!(s.audited("admin.api_key.updated"), [expected]);
    }

    #[tokio::test]
    async fn exhaustion_and_recovery_are_notified_once_each() {
        let s = setup();
        s.add(1).await;
        let (key, secret) = s.acquire(&[]).await.unwrap();
        assert_eq!(secret.expose(), key_text(1));
        let now = s.base.clock.now_unix();
        let cooling = Verdict::Cooling { until: now + 60 };
        s.report(&key, cooling, Some("429")).await;
        for _ in 0..3 {
            assert!(s.acquire(&[]).await.is_none());
        }
        assert_eq!(s.base.heard.kinds(), [EventKind::ApiKeysExhausted]);
        assert_eq!(s.base.heard.heard()[0].subject, UPSTREAM);
        let earliest = s.pool.earliest_available(UPSTREAM, DAY).await.unwrap();
        assert_eq!(earliest, Some(now + 60));

        s.base.clock.advance(Duration::seconds(60));
        let (probe, _) = s.acquire(&[]).await.unwrap();
        assert_eq!(probe.status, KeyStatus::Probing, "handed out as the probe");
        for _ in 0..2 {
            s.report(&probe, Verdict::Served, None).await;
        }
        assert_eq!(
            s.base.heard.kinds(),
            [EventKind::ApiKeysExhausted, EventKind::ApiKeysRecovered]
        );
        assert_eq!(s.stored(&key.id).await.status, KeyStatus::Active);
    }

    #[tokio::test]
    async fn a_retry_that_excludes_every_key_starts_no_episode() {
        let s = setup();
        let key = s.add(1).await;
        assert!(s.acquire(std::slice::from_ref(&key.id)).await.is_none());
        assert!(s.base.heard.heard().is_empty());
    }

    #[tokio::test]
    async fn an_invalid_key_is_notified_and_audited_without_its_text() {
        let s = setup();
        let key = s.add(1).await;
        let error = "x".repeat(300);
        s.report(&key, Verdict::Invalid, Some(&error)).await;
        assert_eq!(s.stored(&key.id).await.status, KeyStatus::Invalid);
        assert!(s.acquire(&[]).await.is_none());

        let heard = s.base.heard.heard();
        assert_eq!(heard[0].kind, EventKind::ApiKeyInvalid);
        assert_eq!(heard[0].subject, key.masked);
        let detail = |name: &str| heard[0].details.get(name).cloned().unwrap_or_default();
        assert_eq!(detail("upstream"), UPSTREAM);
        assert_eq!(detail("key_id"), key.id);
        assert_eq!(detail("error").chars().count(), 200);
        let text = key_text(1);
        assert!(heard.iter().all(|n| !format!("{n:?}").contains(&text)));

        let target = format!("{UPSTREAM} {} ({})", key.masked, key.id);
        let expected = format!("system {target} denied");
        assert_eq!(s.audited("api_key.invalidated"), [expected]);
    }

    #[tokio::test]
    async fn a_row_that_cannot_be_opened_is_marked_invalid_and_skipped() {
        let s = setup();
        let good = s.add(1).await;
        // A row copied under another id: its seal is bound to the id it was made for.
        let moved = ApiKey {
            id: "key_moved".to_owned(),
            hash: "another-hash".to_owned(),
            priority: 10,
            ..good.clone()
        };
        let journal = s
            .base
            .audit
            .journal(AuditEvent::new("cli", "test.row_copied", "key_moved"))
            .unwrap();
        s.store.insert(&moved, &journal).await.unwrap();

        let (picked, secret) = s.acquire(&[]).await.unwrap();
        assert_eq!(picked.id, good.id);
        assert_eq!(secret.expose(), key_text(1));
        let marked = s.stored("key_moved").await;
        assert_eq!(marked.status, KeyStatus::Invalid);
        let error = marked.last_error.as_deref();
        assert_eq!(error, Some("cannot be decrypted: re-enter it"));
    }

    #[tokio::test]
    async fn a_test_call_is_audited_before_it_is_made_and_counted() {
        let s = setup();
        let key = s.add(1).await;
        s.base.audit_store.outage.set(true);
        let leased = s.pool.lease_for_test(&Actor::cli(), &key.id, DAY).await;
        assert!(matches!(leased, Err(PoolError::Audit(_))));
        s.base.audit_store.outage.set(false);
        assert_eq!(s.stored(&key.id).await.usage_count, 0, "no use counted");

        let disable = KeyChange {
            status: Some(KeyStatus::Disabled),
            ..KeyChange::default()
        };
        s.pool
            .change(&Actor::cli(), &key.id, &disable)
            .await
            .unwrap();
        let (leased, secret) = s
            .pool
            .lease_for_test(&Actor::cli(), &key.id, DAY)
            .await
            .unwrap();
        assert_eq!(leased.id, key.id, "whatever its status");
        assert_eq!(secret.expose(), key_text(1));
        let stored = s.stored(&key.id).await;
        assert_eq!((stored.usage_count, stored.used_today), (1, 1));
        let target = format!("{UPSTREAM} {} ({})", key.masked, key.id);
        let expected = format!("cli {target} allowed");
        assert_eq!(s.audited("admin.api_key.tested"), [expected]);

        let unknown = s
            .pool
            .lease_for_test(&Actor::cli(), "key_nothing", DAY)
            .await;
        assert!(matches!(unknown, Err(PoolError::Unknown(_))));
    }

    #[tokio::test]
    async fn a_removal_is_audited() {
        let s = setup();
        let key = s.add(1).await;
        s.pool.remove(&Actor::cli(), &key.id).await.unwrap();
        assert!(s.pool.list(None).await.unwrap().is_empty());
        let target = format!("{UPSTREAM} {} ({})", key.masked, key.id);
        let expected = format!("cli {target} allowed");
        assert_eq!(s.audited("admin.api_key.deleted"), [expected]);
        let again = s.pool.remove(&Actor::cli(), &key.id).await;
        assert!(matches!(again, Err(PoolError::Unknown(_))));
    }

    #[tokio::test]
    async fn an_import_reports_each_line_and_never_its_key() {
        let s = setup();
        s.add(1).await;
        let text = format!(
            "# keys of the test upstream\n{}\n\n  {}  \nnot a key\n{}\n{}",
            key_text(2),
            key_text(3),
            key_text(1),
            key_text(2)
        );
        let report = s
            .pool
            .import(&Actor::cli(), UPSTREAM, &text, &TestFormat, 4)
            .await
            .unwrap();
        let numbers: Vec<usize> = report.lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            numbers,
            [2, 4, 5, 6, 7],
            "comments and blank lines are not lines of keys"
        );
        assert_eq!(
            (
                report.added(),
                report.duplicates(),
                report.invalid(),
                report.failed()
            ),
            (2, 2, 1, 0)
        );
        let shown = format!("{report:?}");
        assert!(
            !shown.contains(&key_text(2)[5..]),
            "a key never in the report: {shown}"
        );
        assert_eq!(s.pool.list(None).await.unwrap().len(), 3);
        assert!(
            s.pool
                .list(None)
                .await
                .unwrap()
                .iter()
                .all(|k| k.priority == 4 || k.priority == 0)
        );
        let empty = s
            .pool
            .import(&Actor::cli(), UPSTREAM, "# nothing\n\n", &TestFormat, 0)
            .await;
        assert_eq!(empty, Err(ImportError::Empty));
        let long = "x\n".repeat(MAX_IMPORT_LINES + 1);
        let refused = s
            .pool
            .import(&Actor::cli(), UPSTREAM, &long, &TestFormat, 0)
            .await;
        assert_eq!(refused, Err(ImportError::TooLong));
        assert_eq!(
            s.pool.list(None).await.unwrap().len(),
            3,
            "a refused text adds nothing"
        );
    }
}
