//! Calls per account and upstream, for the leaderboard: the port, and the buffer that keeps
//! counting off the request path.

use std::fmt;

use async_trait::async_trait;

use crate::store::StoreError;

/// One line of the usage leaderboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    pub account_id: String,
    pub upstream: String,
    pub calls: i64,
    pub last_call: i64,
}

/// Calls per account, for the leaderboard.
#[async_trait]
pub trait UsageStore: Send + Sync + fmt::Debug {
    /// Adds `calls` calls of `account_id` to `upstream`, the last at `last_call`.
    async fn add(
        &self,
        account_id: &str,
        upstream: &str,
        calls: i64,
        last_call: i64,
    ) -> Result<(), StoreError>;
    /// Counts one call of `account_id` to `upstream`.
    async fn count(&self, account_id: &str, upstream: &str, now: i64) -> Result<(), StoreError> {
        self.add(account_id, upstream, 1, now).await
    }
    /// The accounts with the most calls, most first.
    async fn top(&self, limit: u32) -> Result<Vec<UsageLine>, StoreError>;
}

/// Counts held in memory and written in batches ([`BufferedUsage::flush`], every second from
/// the server's jobs and at shutdown), so a served call never waits for a write. A crash loses
/// at most the last interval's counts; `top` flushes first, so this instance's own calls are
/// always in it.
#[derive(Debug)]
pub struct BufferedUsage {
    inner: std::sync::Arc<dyn UsageStore>,
    pending: std::sync::Mutex<std::collections::HashMap<(String, String), (i64, i64)>>,
}

/// Distinct account/upstream pairs held before a count is written at once instead.
const MAX_PENDING: usize = 100_000;

impl BufferedUsage {
    pub fn new(inner: std::sync::Arc<dyn UsageStore>) -> Self {
        Self {
            inner,
            pending: std::sync::Mutex::default(),
        }
    }

    fn pending(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), (i64, i64)>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn merge(&self, key: (String, String), calls: i64, last_call: i64) {
        let mut pending = self.pending();
        let entry = pending.entry(key).or_insert((0, last_call));
        entry.0 += calls;
        entry.1 = entry.1.max(last_call);
    }

    /// Writes what was counted since the last flush. What cannot be written is kept for the
    /// next flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let batch: Vec<_> = self.pending().drain().collect();
        let mut rest = batch.into_iter();
        while let Some(((account_id, upstream), (calls, last_call))) = rest.next() {
            if let Err(err) = self
                .inner
                .add(&account_id, &upstream, calls, last_call)
                .await
            {
                self.merge((account_id, upstream), calls, last_call);
                for (key, (calls, last_call)) in rest {
                    self.merge(key, calls, last_call);
                }
                return Err(err);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl UsageStore for BufferedUsage {
    async fn add(
        &self,
        account_id: &str,
        upstream: &str,
        calls: i64,
        last_call: i64,
    ) -> Result<(), StoreError> {
        let key = (account_id.to_owned(), upstream.to_owned());
        let full = {
            let pending = self.pending();
            pending.len() >= MAX_PENDING && !pending.contains_key(&key)
        };
        if full {
            return self.inner.add(account_id, upstream, calls, last_call).await;
        }
        self.merge(key, calls, last_call);
        Ok(())
    }

    async fn top(&self, limit: u32) -> Result<Vec<UsageLine>, StoreError> {
        if let Err(err) = self.flush().await {
            tracing::warn!(error = %err, "usage counts not written yet");
        }
        self.inner.top(limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Records every write; fails while `down` is set.
    #[derive(Debug, Default)]
    struct Recorder {
        writes: Mutex<Vec<(String, String, i64, i64)>>,
        down: Mutex<bool>,
    }

    #[async_trait]
    impl UsageStore for Recorder {
        async fn add(&self, a: &str, u: &str, calls: i64, last: i64) -> Result<(), StoreError> {
            if *self.down.lock().unwrap() {
                return Err(StoreError::unavailable("test", "down"));
            }
            self.writes
                .lock()
                .unwrap()
                .push((a.to_owned(), u.to_owned(), calls, last));
            Ok(())
        }

        async fn top(&self, _limit: u32) -> Result<Vec<UsageLine>, StoreError> {
            let mut lines: Vec<UsageLine> = Vec::new();
            for (account_id, upstream, calls, last_call) in self.writes.lock().unwrap().iter() {
                match lines
                    .iter_mut()
                    .find(|l| &l.account_id == account_id && &l.upstream == upstream)
                {
                    Some(line) => line.calls += calls,
                    None => lines.push(UsageLine {
                        account_id: account_id.clone(),
                        upstream: upstream.clone(),
                        calls: *calls,
                        last_call: *last_call,
                    }),
                }
            }
            Ok(lines)
        }
    }

    #[tokio::test]
    async fn counts_are_written_in_one_batch_per_pair_and_kept_when_the_store_fails() {
        let store = Arc::new(Recorder::default());
        let buffered = BufferedUsage::new(store.clone());
        for now in [10, 30, 20] {
            buffered.count("a", "search", now).await.unwrap();
        }
        buffered.count("b", "openai", 5).await.unwrap();
        assert!(
            store.writes.lock().unwrap().is_empty(),
            "nothing written per call"
        );

        *store.down.lock().unwrap() = true;
        assert!(buffered.flush().await.is_err());
        buffered.count("a", "search", 40).await.unwrap();
        *store.down.lock().unwrap() = false;
        buffered.flush().await.unwrap();
        let mut writes = store.writes.lock().unwrap().clone();
        writes.sort();
        assert_eq!(
            writes,
            [
                ("a".to_owned(), "search".to_owned(), 4, 40),
                ("b".to_owned(), "openai".to_owned(), 1, 5)
            ],
            "one write per pair, nothing lost to the failed flush"
        );
        buffered.flush().await.unwrap();
        assert_eq!(
            store.writes.lock().unwrap().len(),
            2,
            "an empty flush writes nothing"
        );

        buffered.count("b", "openai", 6).await.unwrap();
        let top = buffered.top(10).await.unwrap();
        let b = top.iter().find(|l| l.account_id == "b").unwrap();
        assert_eq!(b.calls, 2, "top includes what was still held");
    }
}
