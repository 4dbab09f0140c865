//! Uses per key and day (UTC), for the console's 30-day charts. Counted in memory as keys are
//! handed out and written in batches ([`DailyUses::flush`], every second from the server's jobs
//! and at shutdown), so a pick never waits for a second write. A crash loses at most the last
//! second's counts: the charts are a picture, and the budgets — counted in the pick itself —
//! stay exact.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::store::StoreError;

/// The uses of one key on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUse {
    pub key_id: String,
    /// Days since 1970-01-01, UTC.
    pub day: i64,
    pub uses: i64,
}

/// Where the daily counts live.
#[async_trait]
pub trait DailyUseStore: Send + Sync + fmt::Debug {
    /// Adds `uses` to key `key_id` on `day`.
    async fn add(&self, key_id: &str, day: i64, uses: i64) -> Result<(), StoreError>;
    /// Every count from `day` on.
    async fn since(&self, day: i64) -> Result<Vec<DailyUse>, StoreError>;
}

/// The day (UTC) of a Unix time.
pub fn utc_day(unix: i64) -> i64 {
    unix.div_euclid(86_400)
}

/// Counts held in memory between writes.
#[derive(Debug)]
pub struct DailyUses {
    inner: Arc<dyn DailyUseStore>,
    pending: Mutex<HashMap<(String, i64), i64>>,
}

impl DailyUses {
    pub fn new(inner: Arc<dyn DailyUseStore>) -> Self {
        Self {
            inner,
            pending: Mutex::default(),
        }
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<(String, i64), i64>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One use of `key_id` at `now`.
    pub fn count(&self, key_id: &str, now: i64) {
        *self
            .pending()
            .entry((key_id.to_owned(), utc_day(now)))
            .or_insert(0) += 1;
    }

    /// Writes what was counted since the last flush; what cannot be written is kept for the
    /// next one.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let batch: Vec<_> = self.pending().drain().collect();
        let mut rest = batch.into_iter();
        while let Some(((key_id, day), uses)) = rest.next() {
            if let Err(err) = self.inner.add(&key_id, day, uses).await {
                let mut pending = self.pending();
                *pending.entry((key_id, day)).or_insert(0) += uses;
                for (key, uses) in rest {
                    *pending.entry(key).or_insert(0) += uses;
                }
                return Err(err);
            }
        }
        Ok(())
    }

    /// Every count from `day` on, this instance's own included (it flushes first).
    pub async fn since(&self, day: i64) -> Result<Vec<DailyUse>, StoreError> {
        self.flush().await?;
        self.inner.since(day).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Memory {
        rows: Mutex<HashMap<(String, i64), i64>>,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl DailyUseStore for Memory {
        async fn add(&self, key_id: &str, day: i64, uses: i64) -> Result<(), StoreError> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::unavailable("daily", "down"));
            }
            *self
                .rows
                .lock()
                .unwrap()
                .entry((key_id.to_owned(), day))
                .or_insert(0) += uses;
            Ok(())
        }

        async fn since(&self, day: i64) -> Result<Vec<DailyUse>, StoreError> {
            let mut out: Vec<DailyUse> = self
                .rows
                .lock()
                .unwrap()
                .iter()
                .filter(|((_, d), _)| *d >= day)
                .map(|((k, d), u)| DailyUse {
                    key_id: k.clone(),
                    day: *d,
                    uses: *u,
                })
                .collect();
            out.sort_by(|a, b| (a.day, &a.key_id).cmp(&(b.day, &b.key_id)));
            Ok(out)
        }
    }

    #[tokio::test]
    async fn counts_add_up_by_day_and_survive_a_failed_write() {
        let store = Arc::new(Memory::default());
        let daily = DailyUses::new(store.clone());
        daily.count("k1", 86_400 * 10 + 5);
        daily.count("k1", 86_400 * 10 + 80_000);
        daily.count("k1", 86_400 * 11);
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(daily.flush().await.is_err());
        daily.count("k2", 86_400 * 11);
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        let counts = daily.since(11).await.unwrap();
        let shown: Vec<(&str, i64, i64)> = counts
            .iter()
            .map(|c| (c.key_id.as_str(), c.day, c.uses))
            .collect();
        assert_eq!(shown, [("k1", 11, 1), ("k2", 11, 1)]);
        assert_eq!(
            daily.since(10).await.unwrap()[0].uses,
            2,
            "nothing lost or doubled"
        );
        assert_eq!(utc_day(-1), -1);
    }
}
