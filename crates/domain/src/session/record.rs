//! What a session is: its scopes and the [`SessionRecord`] kept by the store (browser id,
//! account, CSRF secret, times, small data). Plain data: the rules are `service.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a session may do. Every bootstrapped browser has `basic`; a login adds `user`, and
/// `admin` for administrators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Basic,
    User,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic" => Ok(Self::Basic),
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err(()),
        }
    }
}

/// A stored session. Times are Unix seconds, so every backend stores them alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// [`super::SessionId::storage_key`]: stores never see the id itself.
    pub key: String,
    /// The browser's id (`kunci_uid`).
    pub uid: String,
    /// The account, once logged in.
    #[serde(default)]
    pub sub: Option<String>,
    pub scopes: Vec<Scope>,
    /// The session's CSRF secret (base64url).
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
    /// The absolute limit: no activity extends the session past it.
    pub absolute_expires_at: i64,
    /// When the session ends if nothing happens: `min(last_seen + idle, absolute)`. Stores use
    /// it as their expiry.
    pub expires_at: i64,
    /// Small per-session values (flash messages, …).
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

impl SessionRecord {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// Seconds until the store may forget this record (at least 1).
    pub fn ttl(&self, now: i64) -> u64 {
        u64::try_from(self.expires_at.saturating_sub(now))
            .unwrap_or(0)
            .max(1)
    }
}
