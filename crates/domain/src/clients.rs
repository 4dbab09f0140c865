//! Service clients and their signed, replay-protected requests (SPEC §6).
//!
//! A client is a name and a secret (`kcs_…`, shown once by `kunci client add`). The secret is
//! stored sealed under the master key, because verifying an HMAC needs it. A request is
//! accepted when its signature verifies, its timestamp is within ±300 s of the server's clock,
//! and its nonce was never seen in that window, on any instance. A nonce store that restarted
//! empty records when it did (its watermark); requests signed before that are refused, so a
//! flush never reopens the window for a captured request.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::signed_request;
use kunci_crypto::{MasterKey, SecretString};

use crate::audit::{AuditEvent, AuditLog, AuditedError};
use crate::clock::Clock;
use crate::store::StoreError;

/// How far a request's timestamp may be from the server's clock, either way.
pub const WINDOW_SECS: i64 = 300;
/// How long a nonce is remembered: the whole window on both sides, and a margin.
pub const NONCE_TTL_SECS: i64 = 2 * WINDOW_SECS + 60;

/// A service client as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    pub name: String,
    /// The secret sealed under the master key with the context `service_client:<name>`.
    pub sealed: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[async_trait]
pub trait ClientStore: Send + Sync + fmt::Debug {
    /// Adds a client; [`StoreError::Conflict`] when the name is taken (revoked ones included).
    async fn insert(&self, client: &StoredClient) -> Result<(), StoreError>;
    async fn get(&self, name: &str) -> Result<Option<StoredClient>, StoreError>;
    async fn list(&self) -> Result<Vec<StoredClient>, StoreError>;
    /// Revokes an active client; false when there is none by that name or it is revoked.
    async fn revoke(&self, name: &str, now: i64) -> Result<bool, StoreError>;
}

/// What a nonce store says about one nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First use: the request may go on.
    Fresh,
    /// Seen before within its lifetime.
    Replayed,
    /// Signed before the store's watermark (it restarted empty since): it may have been seen.
    BeforeWatermark,
}

#[async_trait]
pub trait NonceStore: Send + Sync + fmt::Debug {
    /// Records `key` as used for `ttl_secs`, atomically across instances, unless it is already
    /// recorded or `timestamp` predates the store's watermark.
    async fn claim(
        &self,
        key: &str,
        timestamp: i64,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Claim, StoreError>;
}

/// Why a signed request was refused. The `error` codes of SPEC §6.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    /// Missing or malformed headers, unknown or revoked client, wrong signature: one answer
    /// for all, so the response tells an attacker nothing about which.
    #[error("bad_signature")]
    BadSignature,
    #[error("stale_timestamp")]
    StaleTimestamp,
    #[error("replayed_nonce")]
    ReplayedNonce,
    /// A store could not be asked: fail closed.
    #[error("store_unavailable: {0}")]
    Unavailable(String),
}

/// The four headers of a signed request, as received.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    pub client: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "`{0}` is not a client name: 1 to 64 lowercase letters, digits, `-` and `_`, starting with a letter or digit"
    )]
    BadName(String),
    #[error("a client named `{0}` exists already (revoked names stay taken)")]
    Exists(String),
    #[error("there is no active client named `{0}`")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(crate::audit::AuditError),
    #[error("sealing failed: {0}")]
    Seal(String),
    #[error(transparent)]
    Random(#[from] crate::RandomFailure),
}

/// Whether `name` can name a client.
pub fn is_client_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn context(name: &str) -> Vec<u8> {
    format!("service_client:{name}").into_bytes()
}

/// Service clients: managing them and verifying their requests.
#[derive(Debug, Clone)]
pub struct ServiceClients {
    store: Arc<dyn ClientStore>,
    nonces: Arc<dyn NonceStore>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
}

impl ServiceClients {
    pub fn new(
        store: Arc<dyn ClientStore>,
        nonces: Arc<dyn NonceStore>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
    ) -> Self {
        Self {
            store,
            nonces,
            master,
            clock,
            audit,
        }
    }

    /// Creates a client and returns its secret, the only time it is shown.
    pub async fn add(&self, actor: &str, name: &str) -> Result<SecretString, ClientError> {
        if !is_client_name(name) {
            return Err(ClientError::BadName(name.chars().take(64).collect()));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| crate::RandomFailure)?;
        let secret = SecretString::new(format!("kcs_{}", URL_SAFE_NO_PAD.encode(bytes)));
        let sealed = self
            .master
            .seal(&context(name), secret.expose().as_bytes())
            .map_err(|e| ClientError::Seal(e.to_string()))?;
        let client = StoredClient {
            name: name.to_owned(),
            sealed,
            created_at: self.clock.now_unix(),
            revoked_at: None,
        };
        let event = AuditEvent::new(actor, "service_client.created", name);
        self.audit
            .around(event, self.store.insert(&client))
            .await
            .map_err(|err| match err {
                AuditedError::Audit(err) => ClientError::Audit(err),
                AuditedError::Action(StoreError::Conflict) => ClientError::Exists(name.to_owned()),
                AuditedError::Action(err) => ClientError::Store(err),
            })?;
        Ok(secret)
    }

    pub async fn list(&self) -> Result<Vec<StoredClient>, ClientError> {
        Ok(self.store.list().await?)
    }

    /// Revokes a client: its requests are refused from now on, on every instance.
    pub async fn revoke(&self, actor: &str, name: &str) -> Result<(), ClientError> {
        let event = AuditEvent::new(actor, "service_client.revoked", name);
        let revoked = self
            .audit
            .around(event, async {
                match self.store.revoke(name, self.clock.now_unix()).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(ClientError::Unknown(name.chars().take(64).collect())),
                    Err(err) => Err(err.into()),
                }
            })
            .await;
        revoked.map_err(|err| match err {
            AuditedError::Audit(err) => ClientError::Audit(err),
            AuditedError::Action(err) => err,
        })
    }

    /// Verifies a signed request. Returns the client's name.
    ///
    /// Order matters: the cheap checks first, the nonce last, so that nobody can use up
    /// nonces (or fill the store) without a valid signature.
    pub async fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: Signature<'_>,
        body: &[u8],
    ) -> Result<String, SignedRequestError> {
        use SignedRequestError::{BadSignature, ReplayedNonce, StaleTimestamp, Unavailable};
        let (Some(name), Some(timestamp), Some(nonce), Some(signature)) = (
            headers.client,
            headers.timestamp,
            headers.nonce,
            headers.signature,
        ) else {
            return Err(BadSignature);
        };
        if !is_client_name(name)
            || !signed_request::nonce_is_valid(nonce)
            || timestamp.is_empty()
            || timestamp.len() > 12
            || !timestamp.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(BadSignature);
        }
        let ts: i64 = timestamp.parse().map_err(|_| BadSignature)?;
        let now = self.clock.now_unix();
        if (now - ts).abs() > WINDOW_SECS {
            return Err(StaleTimestamp);
        }
        let client = self
            .store
            .get(name)
            .await
            .map_err(|e| Unavailable(e.to_string()))?
            .filter(|c| c.revoked_at.is_none())
            .ok_or(BadSignature)?;
        let secret = self
            .master
            .open(&context(name), &client.sealed)
            .map_err(|_| BadSignature)?;
        let canonical = signed_request::canonical(method, path_and_query, timestamp, nonce, body);
        if !signed_request::verify(&secret, &canonical, signature) {
            return Err(BadSignature);
        }
        match self
            .nonces
            .claim(&format!("{name}:{nonce}"), ts, now, NONCE_TTL_SECS)
            .await
        {
            Ok(Claim::Fresh) => Ok(client.name),
            Ok(Claim::Replayed | Claim::BeforeWatermark) => Err(ReplayedNonce),
            Err(err) => Err(Unavailable(err.to_string())),
        }
    }
}
