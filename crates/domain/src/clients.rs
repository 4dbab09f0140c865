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

use crate::audit::{Actor, AuditEvent, AuditLog, AuditedError, Journal};
use crate::clock::Clock;
use crate::session::Scope;
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
    /// What the client may do besides `basic`: `user`, and `admin` for an administrative
    /// client (a deploy job driving the admin API).
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl StoredClient {
    /// The scopes of a request this client signed: `basic` and `user`, and `admin` when given.
    pub fn request_scopes(&self) -> Vec<Scope> {
        let mut scopes = vec![Scope::Basic, Scope::User];
        if self.scopes.contains(&Scope::Admin) {
            scopes.push(Scope::Admin);
        }
        scopes
    }
}

#[async_trait]
pub trait ClientStore: Send + Sync + fmt::Debug {
    /// Adds a client; [`StoreError::Conflict`] when the name is taken (revoked ones included).
    async fn insert(&self, client: &StoredClient, journal: &Journal) -> Result<(), StoreError>;
    async fn get(&self, name: &str) -> Result<Option<StoredClient>, StoreError>;
    async fn list(&self) -> Result<Vec<StoredClient>, StoreError>;
    /// Revokes an active client; false when there is none by that name or it is revoked.
    async fn revoke(&self, name: &str, now: i64, journal: &Journal) -> Result<bool, StoreError>;
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

    /// Creates a client with scope `user` or `admin` and returns its secret, the only time it
    /// is shown.
    pub async fn add(
        &self,
        actor: &Actor,
        name: &str,
        scope: Scope,
    ) -> Result<SecretString, ClientError> {
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
        let scopes = match scope {
            Scope::Admin => vec![Scope::User, Scope::Admin],
            _ => vec![Scope::User],
        };
        let client = StoredClient {
            name: name.to_owned(),
            sealed,
            scopes,
            created_at: self.clock.now_unix(),
            revoked_at: None,
        };
        let target = match scope {
            Scope::Admin => format!("{name} (admin)"),
            _ => name.to_owned(),
        };
        let event = AuditEvent::by(actor, "service_client.created", target);
        self.audit
            .within(event, async |journal| {
                self.store.insert(&client, &journal).await
            })
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
    pub async fn revoke(&self, actor: &Actor, name: &str) -> Result<(), ClientError> {
        let event = AuditEvent::by(actor, "service_client.revoked", name);
        let now = self.clock.now_unix();
        let revoked = self
            .audit
            .within(event, async |journal| {
                self.store.revoke(name, now, &journal).await
            })
            .await;
        match revoked {
            Ok(true) => Ok(()),
            Ok(false) => Err(ClientError::Unknown(name.chars().take(64).collect())),
            Err(AuditedError::Audit(err)) => Err(ClientError::Audit(err)),
            Err(AuditedError::Action(err)) => Err(err.into()),
        }
    }

    /// Verifies a signed request. Returns the client as stored (its name and scopes).
    ///
    /// Order matters: the cheap checks first, the nonce last, so that nobody can use up
    /// nonces (or fill the store) without a valid signature.
    pub async fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: Signature<'_>,
        body: &[u8],
    ) -> Result<StoredClient, SignedRequestError> {
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
            Ok(Claim::Fresh) => Ok(client),
            Ok(Claim::Replayed | Claim::BeforeWatermark) => Err(ReplayedNonce),
            Err(err) => Err(Unavailable(err.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::testing::{Base, MemoryClients, MemoryNonces};

    use super::SignedRequestError::{BadSignature, ReplayedNonce, StaleTimestamp, Unavailable};

    const METHOD: &str = "POST";
    const PATH: &str = "/api/v1/service/ping?source=test";
    const BODY: &[u8] = br#"{"hello":"world"}"#;

    struct Setup {
        clients: ServiceClients,
        store: Arc<MemoryClients>,
        nonces: Arc<MemoryNonces>,
        /// The secret of `billing`, added at the start.
        secret: SecretString,
        base: Base,
    }

    async fn setup() -> Setup {
        let base = Base::new();
        let store = Arc::new(MemoryClients::default());
        let nonces = Arc::new(MemoryNonces::default());
        let clients = ServiceClients::new(
            store.clone(),
            nonces.clone(),
            base.master.clone(),
            base.clock(),
            base.audit.clone(),
        );
        let secret = clients
            .add(&Actor::cli(), "billing", Scope::User)
            .await
            .unwrap();
        Setup {
            clients,
            store,
            nonces,
            secret,
            base,
        }
    }

    /// The four headers of a request, as a client sends them.
    struct Signed {
        client: String,
        timestamp: String,
        nonce: String,
        signature: String,
    }

    impl Signed {
        fn headers(&self) -> Signature<'_> {
            Signature {
                client: Some(&self.client),
                timestamp: Some(&self.timestamp),
                nonce: Some(&self.nonce),
                signature: Some(&self.signature),
            }
        }
    }

    /// Nonce number `n`: 18 bytes, base64url.
    fn nonce(n: u8) -> String {
        format!("bm9uY2Vub25jZW5vbmNlLS{n:02}")
    }

    /// Signs [`METHOD`] [`PATH`] with [`BODY`] as a client does, the timestamp as given.
    fn sign(secret: &SecretString, client: &str, timestamp: &str, nonce: &str) -> Signed {
        let canonical = signed_request::canonical(METHOD, PATH, timestamp, nonce, BODY);
        Signed {
            client: client.to_owned(),
            timestamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
            signature: signed_request::sign(secret.expose().as_bytes(), &canonical),
        }
    }

    impl Setup {
        fn now(&self) -> i64 {
            self.base.clock.now_unix()
        }

        /// A request of `billing` signed at `ts` with nonce number `n`.
        fn signed(&self, ts: i64, n: u8) -> Signed {
            sign(&self.secret, "billing", &ts.to_string(), &nonce(n))
        }

        async fn verify(&self, request: &Signed) -> Result<String, SignedRequestError> {
            let headers = request.headers();
            let client = self.clients.verify(METHOD, PATH, headers, BODY).await?;
            Ok(client.name)
        }
    }

    fn accepted(name: &str) -> Result<String, SignedRequestError> {
        Ok(name.to_owned())
    }

    #[tokio::test]
    async fn a_signed_request_is_accepted_once() {
        let s = setup().await;
        let request = s.signed(s.now(), 1);
        assert_eq!(s.verify(&request).await, accepted("billing"));
        let replayed = s.verify(&request).await;
        assert_eq!(replayed, Err(ReplayedNonce));
        s.base.clock.advance(Duration::seconds(WINDOW_SECS));
        let replayed = s.verify(&request).await;
        assert_eq!(replayed, Err(ReplayedNonce));
    }

    #[tokio::test]
    async fn a_nonce_is_remembered_across_the_whole_window_on_both_sides() {
        let s = setup().await;
        // Signed by a clock five minutes ahead, replayed ten minutes later: still in the window.
        let request = s.signed(s.now() + WINDOW_SECS, 2);
        assert_eq!(s.verify(&request).await, accepted("billing"));
        s.base.clock.advance(Duration::seconds(2 * WINDOW_SECS));
        let replayed = s.verify(&request).await;
        assert_eq!(replayed, Err(ReplayedNonce));
        s.base.clock.advance(Duration::seconds(1));
        let stale = s.verify(&request).await;
        assert_eq!(stale, Err(StaleTimestamp));
    }

    #[tokio::test]
    async fn the_window_is_300_seconds_either_way() {
        let s = setup().await;
        let now = s.now();
        for (n, ts) in [(1, now - WINDOW_SECS), (2, now + WINDOW_SECS)] {
            assert_eq!(s.verify(&s.signed(ts, n)).await, accepted("billing"));
        }
        for (n, ts) in [(3, now - WINDOW_SECS - 1), (4, now + WINDOW_SECS + 1)] {
            let refused = s.verify(&s.signed(ts, n)).await;
            assert_eq!(refused, Err(StaleTimestamp), "{ts}");
        }
    }

    #[tokio::test]
    async fn a_stale_timestamp_is_refused_before_the_client_and_signature_are_checked() {
        let s = setup().await;
        let stale = (s.now() - WINDOW_SECS - 1).to_string();
        let wrong = SecretString::new("kcs_not-the-secret");
        let forged = sign(&wrong, "billing", &stale, &nonce(5));
        let refused = s.verify(&forged).await;
        assert_eq!(refused, Err(StaleTimestamp));

        s.store.outage.set(true);
        let unknown = sign(&wrong, "nobody", &stale, &nonce(6));
        let refused = s.verify(&unknown).await;
        assert_eq!(refused, Err(StaleTimestamp), "no store asked");
    }

    #[tokio::test]
    async fn refused_requests_do_not_use_up_their_nonce() {
        let s = setup().await;
        let now = s.now();
        let wrong = SecretString::new("kcs_not-the-secret");
        let forged = sign(&wrong, "billing", &now.to_string(), &nonce(7));
        let refused = s.verify(&forged).await;
        assert_eq!(refused, Err(BadSignature));
        let stale = s.signed(now - WINDOW_SECS - 1, 7);
        let refused = s.verify(&stale).await;
        assert_eq!(refused, Err(StaleTimestamp));

        let genuine = s.signed(now, 7);
        assert_eq!(s.verify(&genuine).await, accepted("billing"));
    }

    #[tokio::test]
    async fn every_bad_signature_gets_the_same_answer() {
        let s = setup().await;
        let now = s.now().to_string();
        let wrong = SecretString::new("kcs_not-the-secret");
        let requests = [
            sign(&wrong, "billing", &now, &nonce(10)),
            sign(&s.secret, "nobody", &now, &nonce(11)),
            sign(&s.secret, "Billing", &now, &nonce(12)),
        ];
        for request in &requests {
            let refused = s.verify(request).await;
            assert_eq!(refused, Err(BadSignature));
        }

        let genuine = s.signed(s.now(), 13);
        let headers = genuine.headers();
        let changed = [
            ("PUT", PATH, BODY),
            (METHOD, "/api/v1/service/ping?source=other", BODY),
            (METHOD, PATH, br#"{"hello":"there"}"#.as_slice()),
        ];
        for (method, path, body) in changed {
            let refused = s.clients.verify(method, path, headers, body).await;
            assert_eq!(refused, Err(BadSignature), "{method} {path}");
        }
        assert_eq!(s.verify(&genuine).await, accepted("billing"));
    }

    #[tokio::test]
    async fn missing_or_malformed_headers_are_a_bad_signature() {
        let s = setup().await;
        let genuine = s.signed(s.now(), 20);
        let h = genuine.headers();
        let cases = [
            Signature { client: None, ..h },
            Signature {
                timestamp: None,
                ..h
            },
            Signature { nonce: None, ..h },
            Signature {
                signature: None,
                ..h
            },
            Signature {
                nonce: Some("c2hvcnQ"),
                ..h
            },
        ];
        for headers in cases {
            let refused = s.clients.verify(METHOD, PATH, headers, BODY).await;
            assert_eq!(refused, Err(BadSignature), "{headers:?}");
        }
        // Timestamps that parse as numbers but are not plain digits (or are too long), each
        // signed as sent: refused for their form, not for their signature.
        let now = s.now();
        let odd = [format!("+{now}"), format!("000{now}"), format!(" {now}")];
        for (n, timestamp) in (21..).zip(&odd) {
            let request = sign(&s.secret, "billing", timestamp, &nonce(n));
            let refused = s.verify(&request).await;
            assert_eq!(refused, Err(BadSignature), "{timestamp:?}");
        }
        assert_eq!(s.verify(&genuine).await, accepted("billing"));
    }

    #[tokio::test]
    async fn a_nonce_is_per_client() {
        let s = setup().await;
        let reports = s
            .clients
            .add(&Actor::cli(), "reports", Scope::User)
            .await
            .unwrap();
        let now = s.now().to_string();
        let theirs = sign(&reports, "reports", &now, &nonce(30));
        assert_eq!(s.verify(&theirs).await, accepted("reports"));
        let ours = sign(&s.secret, "billing", &now, &nonce(30));
        assert_eq!(s.verify(&ours).await, accepted("billing"));
    }

    #[tokio::test]
    async fn a_revoked_client_is_refused_from_the_next_request_on() {
        let s = setup().await;
        let before = s.signed(s.now(), 31);
        assert_eq!(s.verify(&before).await, accepted("billing"));
        s.clients.revoke(&Actor::cli(), "billing").await.unwrap();
        let after = s.signed(s.now(), 32);
        let refused = s.verify(&after).await;
        assert_eq!(refused, Err(BadSignature));
    }

    #[tokio::test]
    async fn a_request_signed_before_the_nonce_store_restarted_empty_is_refused() {
        let s = setup().await;
        let captured = s.signed(s.now() - 10, 40);
        assert_eq!(s.verify(&captured).await, accepted("billing"));
        s.nonces.restart_empty();
        s.base.clock.advance(Duration::seconds(5));
        let replayed = s.verify(&captured).await;
        assert_eq!(replayed, Err(ReplayedNonce), "it may have been seen");
        let fresh = s.signed(s.now(), 41);
        assert_eq!(s.verify(&fresh).await, accepted("billing"));
    }

    #[tokio::test]
    async fn unavailable_stores_fail_closed() {
        let s = setup().await;
        let request = s.signed(s.now(), 50);
        s.nonces.outage.set(true);
        let refused = s.verify(&request).await;
        assert!(matches!(refused, Err(Unavailable(_))));
        s.nonces.outage.set(false);
        s.store.outage.set(true);
        let refused = s.verify(&request).await;
        assert!(matches!(refused, Err(Unavailable(_))));
        s.store.outage.set(false);
        assert_eq!(s.verify(&request).await, accepted("billing"));
    }

    #[tokio::test]
    async fn the_secret_is_stored_sealed_and_bound_to_its_client() {
        let s = setup().await;
        assert!(s.secret.expose().starts_with("kcs_"));
        let stored = s.store.get("billing").await.unwrap().unwrap();
        assert!(!stored.sealed.contains(s.secret.expose()));
        let opened = s.base.master.open(&context("billing"), &stored.sealed);
        assert_eq!(opened.unwrap().as_slice(), s.secret.expose().as_bytes());
        let moved = s.base.master.open(&context("payroll"), &stored.sealed);
        assert!(moved.is_err(), "another client's row cannot hold it");
    }

    #[tokio::test]
    async fn clients_are_audited_and_names_are_never_reused() {
        let s = setup().await;
        let again = s.clients.add(&Actor::cli(), "billing", Scope::User).await;
        assert!(matches!(again, Err(ClientError::Exists(_))));
        s.clients.revoke(&Actor::cli(), "billing").await.unwrap();
        let twice = s.clients.revoke(&Actor::cli(), "billing").await;
        assert!(matches!(twice, Err(ClientError::Unknown(_))));
        let reused = s.clients.add(&Actor::cli(), "billing", Scope::User).await;
        assert!(matches!(reused, Err(ClientError::Exists(_))), "kept");
        let bad = s.clients.add(&Actor::cli(), "Bad Name", Scope::User).await;
        assert!(matches!(bad, Err(ClientError::BadName(_))));

        let entries: Vec<String> = s
            .base
            .audited()
            .into_iter()
            .map(|d| format!("{} {} {}", d.action, d.target, d.outcome))
            .collect();
        // The entry commits with the write: what failed left no `allowed` behind.
        let expected = [
            "service_client.created billing allowed",
            "service_client.created billing failed",
            "service_client.revoked billing allowed",
            "service_client.revoked billing failed",
            "service_client.created billing failed",
        ];
        assert_eq!(entries, expected);
        let names: Vec<String> = s
            .clients
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["billing"]);
    }

    #[tokio::test]
    async fn a_client_is_not_created_when_its_audit_entry_cannot_be_written() {
        let s = setup().await;
        s.base.audit_store.outage.set(true);
        let added = s.clients.add(&Actor::cli(), "payroll", Scope::User).await;
        assert!(matches!(added, Err(ClientError::Audit(_))));
        assert_eq!(s.store.get("payroll").await.unwrap(), None);
    }
}
