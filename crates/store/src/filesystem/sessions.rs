//! The `filesystem` session store: a private folder of JSON files, one per session.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kunci_domain::session::{Capabilities, SessionRecord, SessionStore};
use kunci_domain::store::StoreError;

use crate::fs::{create_private_dir_all, create_private_file, write_private_atomic};

/// One JSON file per session (`data.session_store = "filesystem"`), named by the session's
/// storage key (hex, so never a path trick), mode 0600, written atomically.
#[derive(Debug, Clone)]
pub struct FileSessions {
    dir: PathBuf,
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::unavailable("filesystem", err)
}

impl FileSessions {
    /// Uses `dir`, creating it (0700) if needed.
    pub fn new(dir: &Path) -> io::Result<Self> {
        create_private_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::corrupt("filesystem", "session keys are hex"));
        }
        Ok(self.dir.join(format!("{key}.json")))
    }

    async fn read(&self, path: PathBuf) -> Result<Option<SessionRecord>, StoreError> {
        match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::corrupt("filesystem", e)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn all(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(unavailable)?;
        let mut records = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(unavailable)? {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                // A file removed meanwhile, or one that does not parse, is skipped here; `load`
                // reports unreadable records for the session they belong to.
                if let Ok(Some(record)) = self.read(path).await {
                    records.push(record);
                }
            }
        }
        Ok(records)
    }
}

fn encode(record: &SessionRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| StoreError::corrupt("filesystem", e))
}

#[async_trait]
impl SessionStore for FileSessions {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared: false,
            durable: true,
            expires_by_itself: false,
        }
    }

    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let path = self.path(&record.key)?;
        let bytes = encode(record)?;
        tokio::task::spawn_blocking(move || create_private_file(&path, &bytes))
            .await
            .map_err(unavailable)?
            .map_err(|err| {
                if err.kind() == io::ErrorKind::AlreadyExists {
                    StoreError::Conflict
                } else {
                    unavailable(err)
                }
            })
    }

    async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .read(self.path(key)?)
            .await?
            .filter(|r| !r.is_expired(now)))
    }

    async fn save(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let path = self.path(&record.key)?;
        if !path.exists() {
            return Ok(());
        }
        let bytes = encode(record)?;
        tokio::task::spawn_blocking(move || write_private_atomic(&path, &bytes))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn list_by_account(&self, sub: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let mut found: Vec<SessionRecord> = self
            .all()
            .await?
            .into_iter()
            .filter(|r| r.sub.as_deref() == Some(sub) && !r.is_expired(now))
            .collect();
        found.sort_by_key(|r| r.expires_at);
        Ok(found)
    }

    async fn delete_by_account(&self, sub: &str) -> Result<u64, StoreError> {
        let mut removed = 0;
        for record in self
            .all()
            .await?
            .into_iter()
            .filter(|r| r.sub.as_deref() == Some(sub))
        {
            self.delete(&record.key).await?;
            removed += 1;
        }
        Ok(removed)
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut removed = 0;
        for record in self.all().await?.into_iter().filter(|r| r.is_expired(now)) {
            self.delete(&record.key).await?;
            removed += 1;
        }
        Ok(removed)
    }
}
