//! Scenarios 5 and 5b: the API-key pick-and-count on PostgreSQL (one statement with
//! `FOR UPDATE SKIP LOCKED`) and on MariaDB (a short transaction per key taken), as the pool
//! runs them, from many clients at once; afterwards every key's count is checked against its
//! budget.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kunci_domain::apikeys::{ApiKey, ApiKeyStore, Day, KeyStatus};
use kunci_domain::audit::{AuditEvent, AuditLog};
use kunci_domain::clock::SystemClock;
use kunci_store::testing::{TestBackend, TestDatabase};
use kunci_store::{ConnectOptions, Database, DatabaseTarget};

/// What the run measured.
#[derive(Debug)]
pub struct Picks {
    pub picks: u64,
    pub per_sec: f64,
    /// Budgeted keys whose count reached their budget exactly.
    pub budgets_spent: usize,
    /// Uses handed out past a budget, over all keys.
    pub overspent: i64,
}

/// Keys in the pool, and how many of them have a (small) daily budget.
const KEYS: usize = 64;
const BUDGETED: usize = 16;

fn key(n: usize, now: i64, budget: i64) -> ApiKey {
    ApiKey {
        id: format!("bench-{n:03}"),
        upstream: "bench".to_owned(),
        sealed: "not-a-sealed-key".to_owned(),
        hash: format!("hash-{n:03}"),
        masked: format!("bench…{n:03}"),
        status: KeyStatus::Active,
        priority: 0,
        quota_group: None,
        usage_count: 0,
        last_used: None,
        created_at: now,
        quota_exceeded_at: None,
        available_at: None,
        last_error: None,
        daily_budget: (n < BUDGETED).then_some(budget),
        used_today: 0,
        budget_day: None,
    }
}

/// `clients` tasks pick for `duration`; 16 of the 64 keys allow `budget` uses a day.
pub async fn run(
    backend: TestBackend,
    clients: usize,
    duration: Duration,
    budget: i64,
) -> anyhow::Result<Picks> {
    let dir = std::env::temp_dir();
    let test = TestDatabase::new(backend, &dir)
        .await
        .ok_or_else(|| anyhow::anyhow!("the {backend:?} test server is not configured"))?;
    let target = DatabaseTarget::parse(&test.url, Path::new("/"))?;
    let options = ConnectOptions {
        max_connections: u32::try_from(clients)? + 2,
        acquire_timeout: Duration::from_secs(10),
    };
    let db = Arc::new(Database::connect(&target, &options).await?);
    db.migrate().await?;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let audit = AuditLog::new(
        db.clone(),
        kunci_crypto::MasterKey::generate()?,
        Arc::new(SystemClock),
    );
    for n in 0..KEYS {
        let journal = audit.journal(AuditEvent::new("cli", "admin.api_key.created", "bench"))?;
        db.insert(&key(n, now, budget), &journal).await?;
    }
    let day = Day {
        number: now / 86_400,
        next_starts_at: (now / 86_400 + 1) * 86_400,
    };
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let db = db.clone();
        let count = count.clone();
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < duration {
                if db.pick("bench", &[], now, day, 60).await?.is_some() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let picks = count.load(Ordering::Relaxed);
    let keys = db.list(Some("bench")).await?;
    let mut overspent = 0;
    let mut budgets_spent = 0;
    let mut counted = 0;
    for key in &keys {
        counted += key.usage_count;
        if let Some(budget) = key.daily_budget {
            overspent += (key.used_today - budget).max(0);
            budgets_spent += usize::from(key.used_today == budget);
        }
    }
    anyhow::ensure!(
        u64::try_from(counted)? == picks,
        "{picks} picks handed out but {counted} counted"
    );
    #[expect(clippy::as_conversions, clippy::cast_precision_loss, reason = "a rate")]
    let per_sec = picks as f64 / elapsed;
    Ok(Picks {
        picks,
        per_sec,
        budgets_spent,
        overspent,
    })
}
