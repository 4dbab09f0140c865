//! Background loops: the key ring reload and schedule, verification counters, the purges of
//! expired sessions, used nonces and old audit IP hashes, the usage counts. Each runs on its own interval until
//! [`Jobs::stop`], which also flushes what is held in memory (counters, notifications).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kunci_domain::audit::AuditLog;
use kunci_domain::clock::Clock;
use kunci_domain::keys::KeyRingService;
use kunci_domain::ratelimit::Limiter;
use kunci_domain::revocation::Revocations;
use kunci_domain::session::SessionStore;
use kunci_domain::tally::Tallies;
use kunci_domain::usage::BufferedUsage;
use kunci_store::{Database, RedisServer};
use kunci_upstream::notify::Dispatcher;
use tokio::task::JoinHandle;

/// What the loops work on.
#[derive(Debug)]
pub struct JobDeps {
    pub keys: Arc<KeyRingService>,
    pub sessions: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    pub key_reload: Duration,
    pub redis: Option<RedisServer>,
    pub database: Database,
    pub audit: AuditLog,
    pub audit_retention_days: u32,
    pub notifier: Arc<Dispatcher>,
    pub limiter: Arc<Limiter>,
    pub revocations: Arc<Revocations>,
    pub usage: Arc<BufferedUsage>,
    /// The charts' counts (key uses per day, activity per hour), written each second like the
    /// usage counts.
    pub tallies: Vec<Arc<Tallies>>,
    /// Scheduled backups and their interval, when `[backup]` asks for them.
    pub backup: Option<(crate::backup::Schedule, Duration)>,
    /// The certificate served over HTTPS, read again when its files change.
    pub certificate: Option<Arc<crate::tls::CertificateFiles>>,
}

/// How often the certificate files are checked for a renewal.
const CERTIFICATE_CHECK: Duration = Duration::from_secs(30);

/// The running loops.
#[derive(Debug)]
pub struct Jobs {
    keys: Arc<KeyRingService>,
    usage: Arc<BufferedUsage>,
    tallies: Vec<Arc<Tallies>>,
    notifier: Arc<Dispatcher>,
    tasks: Vec<JoinHandle<()>>,
}

impl Jobs {
    pub fn start(deps: JobDeps) -> Self {
        let mut tasks = key_ring_jobs(&deps);
        tasks.extend(purge_jobs(&deps));
        tasks.extend(file_jobs(&deps));
        let revocations = deps.revocations.clone();
        tasks.push(every(
            deps.key_reload,
            "reload revocation lists",
            move || {
                let revocations = revocations.clone();
                async move { revocations.reload().await.map_err(|e| e.to_string()) }
            },
        ));
        let counts = deps.usage.clone();
        tasks.push(every(
            Duration::from_secs(1),
            "write usage counts",
            move || {
                let usage = counts.clone();
                async move { usage.flush().await.map_err(|e| e.to_string()) }
            },
        ));
        for tallies in &deps.tallies {
            let tallies = tallies.clone();
            tasks.push(every(
                Duration::from_secs(1),
                "write the charts' counts",
                move || {
                    let tallies = tallies.clone();
                    async move { tallies.flush().await.map_err(|e| e.to_string()) }
                },
            ));
        }
        Self {
            keys: deps.keys,
            usage: deps.usage,
            tallies: deps.tallies,
            notifier: deps.notifier,
            tasks,
        }
    }

    /// Stops every loop, flushes the verification counters and gives queued notifications a
    /// few seconds to go out.
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Err(err) = self.usage.flush().await {
            tracing::warn!(error = %err, "could not write usage counts at shutdown");
        }
        for tallies in &self.tallies {
            if let Err(err) = tallies.flush().await {
                tracing::warn!(error = %err, "could not write the charts' counts at shutdown");
            }
        }
        if let Err(err) = self.keys.flush_verifications().await {
            tracing::warn!(error = %err, "could not flush key verification counters at shutdown");
        }
        self.notifier.finish(Duration::from_secs(5)).await;
    }
}

/// The key ring: reloads (at once on another instance's announcement, with Redis; always on
/// the interval), the rotation schedule, the verification counters.
fn key_ring_jobs(deps: &JobDeps) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(server) = deps.redis.clone() {
        // Other instances announce rotations here: reload at once.
        let listener = deps.keys.clone();
        tasks.push(tokio::spawn(async move {
            server
                .listen_for_ring_changes(|| {
                    let keys = listener.clone();
                    async move {
                        if let Err(err) = keys.reload().await {
                            tracing::warn!(error = %err, "reload after a key-ring announcement failed");
                        }
                    }
                })
                .await;
        }));
    }
    let reload = deps.keys.clone();
    tasks.push(every(deps.key_reload, "reload signing keys", move || {
        let keys = reload.clone();
        async move { keys.reload().await.map(drop).map_err(|e| e.to_string()) }
    }));
    let schedule = deps.keys.clone();
    tasks.push(every(
        Duration::from_secs(60),
        "signing-key schedule",
        move || {
            let keys = schedule.clone();
            async move {
                let done = keys.run_schedule().await.map_err(|e| e.to_string())?;
                for action in done {
                    tracing::info!(%action, "signing-key schedule");
                }
                Ok(())
            }
        },
    ));
    let counters = deps.keys.clone();
    tasks.push(every(
        Duration::from_secs(10),
        "flush key verification counters",
        move || {
            let keys = counters.clone();
            async move { keys.flush_verifications().await.map_err(|e| e.to_string()) }
        },
    ));
    tasks
}

/// What expires: sessions (where the store does not expire them itself), used nonces, idle
/// rate-limit buckets, audit IP hashes past their retention.
fn purge_jobs(deps: &JobDeps) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if !deps.sessions.capabilities().expires_by_itself {
        let (sessions, clock) = (deps.sessions.clone(), deps.clock.clone());
        tasks.push(every(
            Duration::from_secs(300),
            "purge expired sessions",
            move || {
                let (sessions, clock) = (sessions.clone(), clock.clone());
                async move {
                    let purged = sessions
                        .purge_expired(clock.now_unix())
                        .await
                        .map_err(|e| e.to_string())?;
                    if purged > 0 {
                        tracing::debug!(purged, "purged expired sessions");
                    }
                    Ok(())
                }
            },
        ));
    }
    let (database, clock) = (deps.database.clone(), deps.clock.clone());
    tasks.push(every(
        Duration::from_secs(60),
        "purge used nonces",
        move || {
            let (database, clock) = (database.clone(), clock.clone());
            async move {
                database
                    .purge_nonces(clock.now_unix())
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        },
    ));
    let limiter = deps.limiter.clone();
    tasks.push(every(
        Duration::from_secs(60),
        "prune rate limits",
        move || {
            let limiter = limiter.clone();
            async move {
                limiter.prune();
                Ok(())
            }
        },
    ));
    let (audit, retention_days) = (deps.audit.clone(), deps.audit_retention_days);
    tasks.push(every(
        Duration::from_secs(3600),
        "purge old audit IP hashes",
        move || {
            let audit = audit.clone();
            async move {
                let purged = audit
                    .purge_ips(retention_days)
                    .await
                    .map_err(|e| e.to_string())?;
                if purged > 0 {
                    tracing::info!(purged, "erased audit IP hashes past their retention");
                }
                Ok(())
            }
        },
    ));
    tasks
}

/// Files: the served certificate read again when renewed, the scheduled backups.
fn file_jobs(deps: &JobDeps) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(files) = deps.certificate.clone() {
        tasks.push(every(CERTIFICATE_CHECK, "certificate reload", move || {
            let files = files.clone();
            async move {
                match files.reload_if_changed() {
                    Ok(true) => {
                        tracing::info!("the TLS certificate changed on disk: now serving it");
                        Ok(())
                    }
                    Ok(false) => Ok(()),
                    Err(err) => Err(format!("{err:#}; still serving the previous one")),
                }
            }
        }));
    }
    if let Some((schedule, interval)) = &deps.backup {
        let (clock, notifier) = (deps.clock.clone(), deps.notifier.clone());
        let schedule = Arc::new(schedule.clone());
        tasks.push(every(*interval, "scheduled backup", move || {
            let (schedule, clock, notifier) = (schedule.clone(), clock.clone(), notifier.clone());
            async move {
                schedule
                    .run(clock.now_unix(), notifier.as_ref())
                    .await
                    .map(drop)
                    .map_err(|e| format!("{e:#}"))
            }
        }));
    }
    tasks
}

fn every<F, Fut>(interval: Duration, name: &'static str, mut job: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(err) = job().await {
                tracing::warn!(job = name, error = %err, "background job failed; will retry");
            }
        }
    })
}
