//! What every instance must refuse although it is still signed: access tokens of revoked
//! refresh-token families, and anything of disabled accounts.
//!
//! Access tokens are verified without a database lookup (that is what keeps bearer requests
//! fast), so a logout or a detected theft would otherwise leave them valid until they expire.
//! Instead each instance keeps, in memory, the families revoked within the access-token
//! lifetime and the disabled accounts, reloaded every second (one small query per instance,
//! whatever the traffic) and updated at once for revocations made by this instance.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;

use crate::clock::Clock;
use crate::store::StoreError;

/// Where revocations are read from.
#[async_trait]
pub trait RevocationSource: Send + Sync + fmt::Debug {
    /// Ids of refresh-token families revoked at or after `since`.
    async fn revoked_families(&self, since: i64) -> Result<Vec<String>, StoreError>;
    /// Ids of disabled accounts.
    async fn disabled_accounts(&self) -> Result<Vec<String>, StoreError>;
}

#[derive(Debug, Default)]
struct Lists {
    families: HashSet<String>,
    accounts: HashSet<String>,
}

/// The in-memory revocation lists of one instance.
#[derive(Debug)]
pub struct Revocations {
    source: Arc<dyn RevocationSource>,
    clock: Arc<dyn Clock>,
    /// How far back family revocations matter: the access-token lifetime plus skew.
    horizon_secs: i64,
    lists: ArcSwap<Lists>,
}

impl Revocations {
    pub fn new(
        source: Arc<dyn RevocationSource>,
        clock: Arc<dyn Clock>,
        horizon_secs: i64,
    ) -> Self {
        Self {
            source,
            clock,
            horizon_secs,
            lists: ArcSwap::from_pointee(Lists::default()),
        }
    }

    /// Reads both lists again.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let since = self.clock.now_unix() - self.horizon_secs;
        let families = self.source.revoked_families(since).await?;
        let accounts = self.source.disabled_accounts().await?;
        self.lists.store(Arc::new(Lists {
            families: families.into_iter().collect(),
            accounts: accounts.into_iter().collect(),
        }));
        Ok(())
    }

    /// Takes a revocation made by this instance into account at once.
    pub fn note_family(&self, family: &str) {
        self.lists.rcu(|lists| {
            let mut families = lists.families.clone();
            families.insert(family.to_owned());
            Lists {
                families,
                accounts: lists.accounts.clone(),
            }
        });
    }

    /// Takes a disabled account into account at once.
    pub fn note_account(&self, account: &str) {
        self.lists.rcu(|lists| {
            let mut accounts = lists.accounts.clone();
            accounts.insert(account.to_owned());
            Lists {
                families: lists.families.clone(),
                accounts,
            }
        });
    }

    pub fn is_family_revoked(&self, family: &str) -> bool {
        self.lists.load().families.contains(family)
    }

    pub fn is_account_disabled(&self, account: &str) -> bool {
        self.lists.load().accounts.contains(account)
    }
}
