//! The usage leaderboard (SPEC §8): which accounts and which keys serve the most calls. Calls
//! are counted through the [`UsageStore`] port (buffered, `usage.rs`); the standings join the
//! counts with account names and the pool's keys.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::apikeys::{ApiKey, ApiKeyPool};
use crate::store::StoreError;
use crate::usage::{UsageLine, UsageStore};

/// An account's line: its counts and, when the account still exists, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopAccount {
    pub line: UsageLine,
    pub username: Option<String>,
}

/// The standings.
#[derive(Debug, Clone)]
pub struct Standings {
    /// Accounts by calls, most first.
    pub accounts: Vec<TopAccount>,
    /// Keys by use, most first (ties by id), shown masked.
    pub keys: Vec<ApiKey>,
}

/// Counting calls and reading the standings.
#[derive(Debug, Clone)]
pub struct Leaderboard {
    usage: Arc<dyn UsageStore>,
    accounts: Accounts,
    pool: ApiKeyPool,
}

impl Leaderboard {
    pub fn new(usage: Arc<dyn UsageStore>, accounts: Accounts, pool: ApiKeyPool) -> Self {
        Self {
            usage,
            accounts,
            pool,
        }
    }

    /// Counts one served call of `account_id` to `upstream`.
    pub async fn count(
        &self,
        account_id: &str,
        upstream: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.usage.count(account_id, upstream, now).await
    }

    /// The top `limit` accounts and keys.
    pub async fn standings(&self, limit: u32) -> Result<Standings, StoreError> {
        let mut accounts = Vec::new();
        for line in self.usage.top(limit).await? {
            let username = match self.accounts.by_id(&line.account_id).await {
                Ok(account) => account.map(|a| a.username),
                Err(crate::accounts::AccountError::Store(err)) => return Err(err),
                Err(_) => None,
            };
            accounts.push(TopAccount { line, username });
        }
        let mut keys = self.pool.store().list(None).await?;
        keys.sort_by(|a, b| b.usage_count.cmp(&a.usage_count).then(a.id.cmp(&b.id)));
        keys.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(Standings { accounts, keys })
    }
}
