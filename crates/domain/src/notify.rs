//! Notifications: what happened that an operator should hear of, and the port that carries it.
//!
//! [`Notifier::notify`] never blocks and never fails: delivery (log, webhook, SMTP) happens
//! elsewhere, in the background, so a slow mail server never delays the request that triggered
//! it. Conditions that last (all API keys exhausted) are *episodes*: [`Episodes`] sends one
//! notification when one starts and one when it ends, however many requests see it, across
//! every instance sharing the database.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::store::StoreError;

/// The kinds of notification, each with a stable name used in configuration and payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    AccountLocked,
    ApiKeysExhausted,
    ApiKeysRecovered,
    ApiKeyInvalid,
    RefreshTokenReuse,
    SigningKeyRotated,
    BackupFailed,
}

impl EventKind {
    pub const ALL: [Self; 7] = [
        Self::AccountLocked,
        Self::ApiKeysExhausted,
        Self::ApiKeysRecovered,
        Self::ApiKeyInvalid,
        Self::RefreshTokenReuse,
        Self::SigningKeyRotated,
        Self::BackupFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountLocked => "account_locked",
            Self::ApiKeysExhausted => "api_keys_exhausted",
            Self::ApiKeysRecovered => "api_keys_recovered",
            Self::ApiKeyInvalid => "api_key_invalid",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::SigningKeyRotated => "signing_key_rotated",
            Self::BackupFailed => "backup_failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// A line for people: the subject of a mail, the message of a log line.
    pub fn title(self) -> &'static str {
        match self {
            Self::AccountLocked => "an account was locked after repeated failed logins",
            Self::ApiKeysExhausted => "every API key of an upstream is exhausted",
            Self::ApiKeysRecovered => "API keys of an upstream are available again",
            Self::ApiKeyInvalid => "an API key was refused as invalid",
            Self::RefreshTokenReuse => "a refresh token was reused: its family was revoked",
            Self::SigningKeyRotated => "a signing key was rotated",
            Self::BackupFailed => "a scheduled backup failed",
        }
    }
}

/// How a mail names things, in the deployment's language (the web layer's catalogs give it).
pub trait MailWording: Send + Sync + fmt::Debug {
    /// The event's title: the subject line and the mail's first line.
    fn title(&self, kind: EventKind) -> String;
    /// The label of a line of the body (`kind`, `subject`, `at`, or a detail's key); `None`:
    /// the key itself.
    fn label(&self, field: &str) -> Option<String>;
    /// A time, as the pages show one.
    fn time(&self, unix: i64) -> String;
}

/// The code's own English: titles from [`EventKind::title`], keys as labels, RFC 3339 times.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainWording;

impl MailWording for PlainWording {
    fn title(&self, kind: EventKind) -> String {
        kind.title().to_owned()
    }

    fn label(&self, _field: &str) -> Option<String> {
        None
    }

    fn time(&self, unix: i64) -> String {
        time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| unix.to_string())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification. `subject` and `details` must hold no secret: masked forms only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: EventKind,
    /// Unix seconds.
    pub at: i64,
    /// What it is about: an account name, an upstream, a key id.
    pub subject: String,
    pub details: BTreeMap<String, String>,
}

impl Notification {
    pub fn new(kind: EventKind, at: i64, subject: impl Into<String>) -> Self {
        Self {
            kind,
            at,
            subject: subject.into(),
            details: BTreeMap::new(),
        }
    }

    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// Hands notifications to delivery. Must return at once.
pub trait Notifier: Send + Sync + fmt::Debug {
    fn notify(&self, notification: Notification);
}

/// A notifier that drops everything (tests of other features, commands that send nothing).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Notifier for Silent {
    fn notify(&self, _: Notification) {}
}

/// Remembers which episodes are open, shared by every instance.
#[async_trait]
pub trait EpisodeStore: Send + Sync + fmt::Debug {
    /// Sets episode `key` to `open`; true when that changed its state (this caller is the one
    /// that notifies).
    async fn transition(&self, key: &str, open: bool, now: i64) -> Result<bool, StoreError>;
}

/// Starts and ends episodes, notifying once per change.
#[derive(Debug, Clone)]
pub struct Episodes {
    store: Arc<dyn EpisodeStore>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
}

impl Episodes {
    pub fn new(
        store: Arc<dyn EpisodeStore>,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            notifier,
            clock,
        }
    }

    /// The condition `key` holds: notify `notification` if it did not already.
    pub async fn begin(&self, key: &str, notification: Notification) {
        self.change(key, true, notification).await;
    }

    /// The condition `key` ended: notify `notification` if it was open.
    pub async fn end(&self, key: &str, notification: Notification) {
        self.change(key, false, notification).await;
    }

    async fn change(&self, key: &str, open: bool, notification: Notification) {
        match self
            .store
            .transition(key, open, self.clock.now_unix())
            .await
        {
            Ok(true) => self.notifier.notify(notification),
            Ok(false) => {}
            Err(err) => {
                // Better a repeated notification than a lost one.
                tracing::warn!(error = %err, episode = key, "episode state unavailable; notifying anyway");
                self.notifier.notify(notification);
            }
        }
    }
}
