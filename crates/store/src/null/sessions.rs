//! The `null` session store: stores nothing, for tests and trials.

use async_trait::async_trait;
use kunci_domain::session::{Capabilities, SessionRecord, SessionStore};
use kunci_domain::store::StoreError;

/// Accepts every write and forgets it (`data.session_store = "null"`): every request looks
/// like a new browser. Refused outside development and test.
#[derive(Debug, Default)]
pub struct NullSessions;

#[async_trait]
impl SessionStore for NullSessions {
    fn name(&self) -> &'static str {
        "null"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared: false,
            durable: false,
            expires_by_itself: true,
        }
    }

    async fn create(&self, _: &SessionRecord) -> Result<(), StoreError> {
        Ok(())
    }

    async fn load(&self, _: &str, _: i64) -> Result<Option<SessionRecord>, StoreError> {
        Ok(None)
    }

    async fn save(&self, _: &SessionRecord) -> Result<(), StoreError> {
        Ok(())
    }

    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn list_by_account(&self, _: &str, _: i64) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(Vec::new())
    }

    async fn delete_by_account(&self, _: &str) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn purge_expired(&self, _: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
}
