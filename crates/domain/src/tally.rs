//! Counts per name and time bucket, for the console's charts: uses per API key and day, requests
//! and upstream answers per hour. Counted in memory where things happen and written in batches
//! ([`Tallies::flush`], every second from the server's jobs and at shutdown), so no request
//! waits for a write of its own. A crash loses at most the last second's counts: the charts are
//! a picture, and what must be exact (budgets, the audit log) is counted elsewhere.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::store::StoreError;

/// The count of one name in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub name: String,
    /// The bucket: the Unix time divided by the bucket's length (days or hours since 1970, UTC).
    pub bucket: i64,
    pub count: i64,
}

/// Where counts live.
#[async_trait]
pub trait TallyStore: Send + Sync + fmt::Debug {
    /// Adds `count` to `name` in `bucket`.
    async fn add(&self, name: &str, bucket: i64, count: i64) -> Result<(), StoreError>;
    /// Every count from `bucket` on.
    async fn since(&self, bucket: i64) -> Result<Vec<Tally>, StoreError>;
}

/// A day, in seconds.
pub const DAY: i64 = 86_400;
/// An hour, in seconds.
pub const HOUR: i64 = 3_600;

/// Counts held in memory between writes, in buckets of `bucket_secs`.
#[derive(Debug)]
pub struct Tallies {
    inner: Arc<dyn TallyStore>,
    bucket_secs: i64,
    /// Name → bucket → count: a count of a name seen before allocates nothing.
    pending: Mutex<HashMap<String, HashMap<i64, i64>>>,
}

impl Tallies {
    pub fn new(inner: Arc<dyn TallyStore>, bucket_secs: i64) -> Self {
        Self {
            inner,
            bucket_secs: bucket_secs.max(1),
            pending: Mutex::default(),
        }
    }

    /// The bucket of a Unix time.
    pub fn bucket_of(&self, unix: i64) -> i64 {
        unix.div_euclid(self.bucket_secs)
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, HashMap<i64, i64>>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add_pending(&self, name: &str, bucket: i64, count: i64) {
        let mut pending = self.pending();
        let buckets = match pending.get_mut(name) {
            Some(buckets) => buckets,
            None => pending.entry(name.to_owned()).or_default(),
        };
        *buckets.entry(bucket).or_insert(0) += count;
    }

    /// One more of `name` at `now`.
    pub fn count(&self, name: &str, now: i64) {
        self.add_pending(name, self.bucket_of(now), 1);
    }

    /// Writes what was counted since the last flush; what cannot be written is kept for the
    /// next one.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let batch: Vec<(String, i64, i64)> = self
            .pending()
            .drain()
            .flat_map(|(name, buckets)| {
                buckets
                    .into_iter()
                    .map(move |(bucket, count)| (name.clone(), bucket, count))
            })
            .collect();
        let mut rest = batch.into_iter();
        while let Some((name, bucket, count)) = rest.next() {
            if let Err(err) = self.inner.add(&name, bucket, count).await {
                self.add_pending(&name, bucket, count);
                for (name, bucket, count) in rest {
                    self.add_pending(&name, bucket, count);
                }
                return Err(err);
            }
        }
        Ok(())
    }

    /// Every count from `bucket` on, this instance's own included (it flushes first).
    pub async fn since(&self, bucket: i64) -> Result<Vec<Tally>, StoreError> {
        self.flush().await?;
        self.inner.since(bucket).await
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
    impl TallyStore for Memory {
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

        async fn since(&self, day: i64) -> Result<Vec<Tally>, StoreError> {
            let mut out: Vec<Tally> = self
                .rows
                .lock()
                .unwrap()
                .iter()
                .filter(|((_, d), _)| *d >= day)
                .map(|((k, d), u)| Tally {
                    name: k.clone(),
                    bucket: *d,
                    count: *u,
                })
                .collect();
            out.sort_by(|a, b| (a.bucket, &a.name).cmp(&(b.bucket, &b.name)));
            Ok(out)
        }
    }

    #[tokio::test]
    async fn counts_add_up_by_day_and_survive_a_failed_write() {
        let store = Arc::new(Memory::default());
        let daily = Tallies::new(store.clone(), DAY);
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
            .map(|c| (c.name.as_str(), c.bucket, c.count))
            .collect();
        assert_eq!(shown, [("k1", 11, 1), ("k2", 11, 1)]);
        assert_eq!(
            daily.since(10).await.unwrap()[0].count,
            2,
            "nothing lost or doubled"
        );
        assert_eq!(daily.bucket_of(-1), -1);
        assert_eq!(Tallies::new(store, HOUR).bucket_of(7_199), 1);
    }
}
