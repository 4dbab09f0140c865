//! The wait between a correct password and the second factor (SPEC §12): a challenge that
//! gives no session yet. A mobile login gets its secret as `mfa_token` (opaque, five minutes,
//! bound to the `client_id`); a browser's is its own session cookie, so the second step needs
//! no token in the page. Only the secret's SHA-256 is stored; a challenge is taken — once — by
//! the step that completes the login.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::SecretString;

use crate::clock::Clock;
use crate::store::StoreError;

/// How long a challenge waits for its second step.
pub const CHALLENGE_SECS: i64 = 300;

/// A login waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub account_id: String,
    /// `web` or `mobile`: how the login goes on once the factor is given.
    pub flow: String,
    /// The app's `client_id` of a mobile login; the second step must name the same.
    pub client_id: Option<String>,
    pub expires_at: i64,
}

#[async_trait]
pub trait ChallengeStore: Send + Sync + std::fmt::Debug {
    /// Stores a challenge under `hash`, replacing one there.
    async fn put(&self, hash: &str, challenge: &Challenge) -> Result<(), StoreError>;
    /// The challenge live at `now`, left in place.
    async fn live(&self, hash: &str, now: i64) -> Result<Option<Challenge>, StoreError>;
    /// Removes a challenge live at `now` and returns it: of two takes at once, one gets it.
    async fn take(&self, hash: &str, now: i64) -> Result<Option<Challenge>, StoreError>;
}

fn hash(secret: &str) -> String {
    crate::sha256_hex(secret)
}

/// Making and finding challenges.
#[derive(Debug, Clone)]
pub struct Challenges {
    store: Arc<dyn ChallengeStore>,
    clock: Arc<dyn Clock>,
}

impl Challenges {
    pub fn new(store: Arc<dyn ChallengeStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// A challenge for a mobile login of `account_id` by app `client_id`: its `mfa_token`.
    pub async fn for_app(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> Result<SecretString, ChallengeError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| crate::RandomFailure)?;
        let token = SecretString::new(format!("kmt_{}", URL_SAFE_NO_PAD.encode(bytes)));
        self.put(token.expose(), account_id, "mobile", Some(client_id))
            .await?;
        Ok(token)
    }

    /// A challenge for a browser login, under the browser's own session id.
    pub async fn for_browser(
        &self,
        session_id: &str,
        account_id: &str,
    ) -> Result<(), ChallengeError> {
        self.put(&format!("session:{session_id}"), account_id, "web", None)
            .await
    }

    async fn put(
        &self,
        secret: &str,
        account_id: &str,
        flow: &str,
        client_id: Option<&str>,
    ) -> Result<(), ChallengeError> {
        let challenge = Challenge {
            account_id: account_id.to_owned(),
            flow: flow.to_owned(),
            client_id: client_id.map(str::to_owned),
            expires_at: self.clock.now_unix() + CHALLENGE_SECS,
        };
        Ok(self.store.put(&hash(secret), &challenge).await?)
    }

    fn secret(token: Option<&str>, session_id: Option<&str>) -> Option<String> {
        match (token, session_id) {
            (Some(token), _) => token
                .strip_prefix("kmt_")
                .is_some_and(|rest| rest.len() == 43)
                .then(|| token.to_owned()),
            (None, Some(session)) => Some(format!("session:{session}")),
            (None, None) => None,
        }
    }

    /// The live challenge of an `mfa_token`, or else of the browser's session.
    pub async fn find(
        &self,
        token: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<Option<Challenge>, ChallengeError> {
        self.lookup(token, session_id, false).await
    }

    /// Takes the challenge for the step that completes the login: `None` when it is gone
    /// (used, expired, or taken by another request at the same moment).
    pub async fn take(
        &self,
        token: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<Option<Challenge>, ChallengeError> {
        self.lookup(token, session_id, true).await
    }

    async fn lookup(
        &self,
        token: Option<&str>,
        session_id: Option<&str>,
        take: bool,
    ) -> Result<Option<Challenge>, ChallengeError> {
        let Some(secret) = Self::secret(token, session_id) else {
            return Ok(None);
        };
        let (hash, now) = (hash(&secret), self.clock.now_unix());
        Ok(if take {
            self.store.take(&hash, now).await?
        } else {
            self.store.live(&hash, now).await?
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

#[cfg(test)]
mod tests {
    use super::Challenges;

    #[test]
    fn only_a_token_s_shape_or_a_session_is_looked_up() {
        let good = format!("kmt_{}", "a".repeat(43));
        assert_eq!(Challenges::secret(Some(&good), None), Some(good.clone()));
        assert_eq!(
            Challenges::secret(Some("kmt_short"), Some("s")),
            None,
            "a bad token is no fallback"
        );
        assert_eq!(
            Challenges::secret(None, Some("sid")).as_deref(),
            Some("session:sid")
        );
        assert_eq!(Challenges::secret(None, None), None);
    }
}
