//! A key's state, as stored and shown.

use std::fmt;

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
