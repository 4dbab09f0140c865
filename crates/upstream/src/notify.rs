//! Delivery of notifications: the log, a signed webhook, e-mail.
//!
//! [`Dispatcher::notify`] writes the log line at once and queues the rest; a background task
//! delivers each queued notification to every channel that wants its kind, with a timeout per
//! attempt and retries with backoff. Nothing here can delay the request that raised the
//! notification: a full queue drops (and says so in the log) rather than waits.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit as _, Mac as _};
use kunci_crypto::SecretString;
use kunci_domain::clock::Clock;
use kunci_domain::notify::{EventKind, MailWording, Notification, Notifier};
use sha2::{Digest as _, Sha256};
use tokio::sync::{Semaphore, mpsc};

/// How many notifications may wait for delivery.
const QUEUE: usize = 1024;
/// How many deliveries run at once.
const PARALLEL: usize = 8;

/// Which kinds a channel takes: every kind, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Option<BTreeSet<EventKind>>);

impl EventFilter {
    /// From configuration: names of kinds, `*` for all. Unknown names are ignored (the
    /// configuration check has refused them already).
    pub fn from_names(names: &[String]) -> Self {
        if names.iter().any(|n| n == "*") {
            return Self(None);
        }
        Self(Some(
            names.iter().filter_map(|n| EventKind::parse(n)).collect(),
        ))
    }

    pub fn all() -> Self {
        Self(None)
    }

    pub fn wants(&self, kind: EventKind) -> bool {
        self.0.as_ref().is_none_or(|set| set.contains(&kind))
    }
}

/// `[notification]` webhook settings.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: SecretString,
    pub secret: SecretString,
    pub events: EventFilter,
    pub timeout: Duration,
    pub retries: u32,
}

/// `[notification]` e-mail settings.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// The words of the mails, in the deployment's language.
    pub wording: Arc<dyn MailWording>,
    pub url: SecretString,
    pub from: String,
    pub to: Vec<String>,
    pub events: EventFilter,
    pub timeout: Duration,
    pub retries: u32,
}

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub log: EventFilter,
    pub webhook: Option<WebhookSettings>,
    pub smtp: Option<SmtpSettings>,
    /// The first wait between attempts (doubling after each); 1 s in production.
    pub backoff: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the webhook client cannot be built: {0}")]
    Http(String),
    #[error("the SMTP settings are not usable: {0}")]
    Smtp(String),
    #[error("`{0}` is not an e-mail address")]
    Address(String),
}

/// The [`Notifier`] the application uses.
pub struct Dispatcher {
    log: EventFilter,
    queue: Mutex<Option<mpsc::Sender<Notification>>>,
    worker: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Builds the channels and starts the delivery task (stopped when the dispatcher and every
    /// clone of its sender are dropped). Must run inside a Tokio runtime.
    pub fn start(settings: DispatchSettings, clock: Arc<dyn Clock>) -> Result<Self, NotifyError> {
        let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
        if let Some(webhook) = settings.webhook {
            channels.push(Arc::new(Webhook::new(webhook, clock.clone())?));
        }
        if let Some(smtp) = settings.smtp {
            channels.push(Arc::new(Email::new(smtp)?));
        }
        if channels.is_empty() {
            return Ok(Self {
                log: settings.log,
                queue: Mutex::new(None),
                worker: tokio::sync::Mutex::new(None),
            });
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let worker = tokio::spawn(deliver_all(rx, channels, settings.backoff));
        Ok(Self {
            log: settings.log,
            queue: Mutex::new(Some(tx)),
            worker: tokio::sync::Mutex::new(Some(worker)),
        })
    }

    /// Stops taking notifications and waits, at most `within`, for the queued ones to be
    /// delivered (retries included). For shutdown and for commands that exit right after.
    pub async fn finish(&self, within: Duration) {
        drop(self.queue.lock().map(|mut q| q.take()));
        let Some(worker) = self.worker.lock().await.take() else {
            return;
        };
        if tokio::time::timeout(within, worker).await.is_err() {
            tracing::warn!("notifications still undelivered at shutdown were dropped");
        }
    }
}

impl Notifier for Dispatcher {
    fn notify(&self, n: Notification) {
        if self.log.wants(n.kind) {
            tracing::warn!(
                target: "kunci::notification",
                kind = n.kind.as_str(),
                subject = %n.subject,
                details = ?n.details,
                "{}", n.kind.title()
            );
        }
        let queue = self.queue.lock().ok().and_then(|q| q.clone());
        if let Some(queue) = queue
            && let Err(err) = queue.try_send(n)
        {
            tracing::error!(kind = %err.into_inner().kind, "the notification queue is full; a notification was dropped");
        }
    }
}

/// A way out.
#[async_trait::async_trait]
trait Channel: Send + Sync {
    fn name(&self) -> &'static str;
    fn wants(&self, kind: EventKind) -> bool;
    fn retries(&self) -> u32;
    /// One attempt; the error is for the log and holds no secret.
    async fn send(&self, n: &Notification) -> Result<(), String>;
}

async fn deliver_all(
    mut rx: mpsc::Receiver<Notification>,
    channels: Vec<Arc<dyn Channel>>,
    backoff: Duration,
) {
    let slots = Arc::new(Semaphore::new(PARALLEL));
    let mut running = tokio::task::JoinSet::new();
    while let Some(n) = rx.recv().await {
        let n = Arc::new(n);
        for channel in channels.iter().filter(|c| c.wants(n.kind)) {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (channel, n) = (channel.clone(), n.clone());
            running.spawn(async move {
                deliver(channel.as_ref(), &n, backoff).await;
                drop(slot);
            });
            // Reap what has finished so the set stays small.
            while running.try_join_next().is_some() {}
        }
    }
    // The queue closed: finish what is in flight.
    while running.join_next().await.is_some() {}
}

async fn deliver(channel: &dyn Channel, n: &Notification, backoff: Duration) {
    let mut wait = backoff;
    for attempt in 0..=channel.retries() {
        match channel.send(n).await {
            Ok(()) => {
                tracing::debug!(
                    channel = channel.name(),
                    kind = n.kind.as_str(),
                    "notification delivered"
                );
                return;
            }
            Err(err) if attempt < channel.retries() => {
                tracing::info!(channel = channel.name(), kind = n.kind.as_str(), attempt = attempt + 1, error = %err, "notification delivery failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            Err(err) => {
                tracing::error!(channel = channel.name(), kind = n.kind.as_str(), error = %err, "notification could not be delivered");
            }
        }
    }
}

/// The JSON a webhook receives.
pub fn payload(n: &Notification, id: &str) -> serde_json::Value {
    let at = time::OffsetDateTime::from_unix_timestamp(n.at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    serde_json::json!({
        "id": id,
        "kind": n.kind.as_str(),
        "title": n.kind.title(),
        "at": at,
        "subject": n.subject,
        "details": n.details,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The key id of a webhook secret: the first 8 hex digits of its SHA-256, so receivers can hold
/// two secrets while rotating and know which one signed.
pub fn webhook_kid(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes())[..4])
}

/// `X-Kunci-Signature` for a body sent at `timestamp`: `t=<unix>,kid=<kid>,v1=<hex HMAC-SHA256
/// of "<unix>.<body>">`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256>>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},kid={},v1={}",
        webhook_kid(secret),
        hex(&mac.finalize().into_bytes())
    )
}

struct Webhook {
    settings: WebhookSettings,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl Webhook {
    fn new(settings: WebhookSettings, clock: Arc<dyn Clock>) -> Result<Self, NotifyError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError::Http(e.to_string()))?;
        Ok(Self {
            settings,
            client,
            clock,
        })
    }
}

#[async_trait::async_trait]
impl Channel for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn wants(&self, kind: EventKind) -> bool {
        self.settings.events.wants(kind)
    }

    fn retries(&self) -> u32 {
        self.settings.retries
    }

    async fn send(&self, n: &Notification) -> Result<(), String> {
        // The same id on every attempt, so a receiver can drop the duplicates of a retry.
        let id = hex(&Sha256::digest(format!("{}|{}|{}", n.kind, n.at, n.subject))[..16]);
        let body = serde_json::to_vec(&payload(n, &id)).map_err(|e| e.to_string())?;
        let now = self.clock.now_unix();
        let signature = webhook_signature(self.settings.secret.expose(), now, &body);
        let response = self
            .client
            .post(self.settings.url.expose())
            .header("content-type", "application/json")
            .header("x-kunci-event", n.kind.as_str())
            .header("x-kunci-signature", signature)
            .body(body)
            .send()
            .await
            // Without the URL: it may hold a token.
            .map_err(|e| describe_http_error(&e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered {}", response.status()))
        }
    }
}

fn describe_http_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "the webhook timed out".to_owned()
    } else if err.is_connect() {
        "the webhook could not be reached".to_owned()
    } else {
        "the webhook request failed".to_owned()
    }
}

struct Email {
    settings: SmtpSettings,
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    to: Vec<lettre::message::Mailbox>,
}

impl Email {
    fn new(settings: SmtpSettings) -> Result<Self, NotifyError> {
        let address = |a: &str| {
            a.parse::<lettre::message::Mailbox>()
                .map_err(|_| NotifyError::Address(a.to_owned()))
        };
        let transport =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(settings.url.expose())
                // lettre's message may quote the URL: say only what kind of problem it is.
                .map_err(|_| {
                    NotifyError::Smtp("`notification.smtp_url` cannot be used".to_owned())
                })?
                .timeout(Some(settings.timeout))
                .build();
        Ok(Self {
            from: address(&settings.from)?,
            to: settings
                .to
                .iter()
                .map(|a| address(a))
                .collect::<Result<_, _>>()?,
            settings,
            transport,
        })
    }
}

/// The plain-text body of a notification mail, in the wording's language: the title, then a
/// line per field (the kind and subject, the time, each detail).
fn mail_body(n: &Notification, wording: &dyn MailWording) -> String {
    let label = |field: &str| wording.label(field).unwrap_or_else(|| field.to_owned());
    let mut body = format!(
        "{}\n\n{}: {}\n{}: {}\n{}: {}\n",
        wording.title(n.kind),
        label("kind"),
        n.kind,
        label("subject"),
        n.subject,
        label("at"),
        wording.time(n.at)
    );
    for (key, value) in &n.details {
        // A lock's end is a time like the mail's own.
        let value = match value.parse::<i64>() {
            Ok(unix) if key == "until" => wording.time(unix),
            _ => value.clone(),
        };
        body.push_str(&format!("{}: {value}\n", label(key)));
    }
    body
}

#[async_trait::async_trait]
impl Channel for Email {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn wants(&self, kind: EventKind) -> bool {
        self.settings.events.wants(kind)
    }

    fn retries(&self) -> u32 {
        self.settings.retries
    }

    async fn send(&self, n: &Notification) -> Result<(), String> {
        use lettre::AsyncTransport as _;
        let mut message = lettre::Message::builder()
            .from(self.from.clone())
            .subject(format!(
                "[kunci] {}: {}",
                self.settings.wording.title(n.kind),
                n.subject
            ));
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail_body(n, self.settings.wording.as_ref()))
            .map_err(|e| format!("the mail cannot be built: {e}"))?;
        self.transport.send(message).await.map(drop).map_err(|e| {
            if e.is_permanent() {
                "the mail server refused the message".to_owned()
            } else if e.is_transient() {
                "the mail server asked to try again later".to_owned()
            } else {
                "the mail server could not be reached".to_owned()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_names_or_everything() {
        let some = EventFilter::from_names(&["account_locked".to_owned()]);
        assert!(some.wants(EventKind::AccountLocked));
        assert!(!some.wants(EventKind::BackupFailed));
        assert!(EventFilter::from_names(&["*".to_owned()]).wants(EventKind::BackupFailed));
        assert!(!EventFilter::from_names(&[]).wants(EventKind::BackupFailed));
    }

    #[test]
    fn the_signature_covers_timestamp_and_body_and_names_its_key() {
        let secret = "a-webhook-secret-of-some-length";
        let one = webhook_signature(secret, 1_700_000_000, b"{}");
        assert!(one.starts_with("t=1700000000,kid="), "{one}");
        assert!(one.contains(&format!("kid={}", webhook_kid(secret))));
        assert_ne!(one, webhook_signature(secret, 1_700_000_001, b"{}"));
        assert_ne!(one, webhook_signature(secret, 1_700_000_000, b"{ }"));
        assert_ne!(
            one,
            webhook_signature("another-secret-entirely", 1_700_000_000, b"{}")
        );
        assert!(!one.contains(secret));
    }
}
