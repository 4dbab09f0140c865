//! Load that wrk cannot make: a steady rate of logins, each on its own task, and many new
//! browsers, each starting a session.

use std::time::{Duration, Instant};

use crate::process::Server;
use crate::{PAGE_ACCEPT, PASSWORD, USER, median};

/// What the login storm did.
#[derive(Debug)]
pub struct Storm {
    pub sent: usize,
    pub ok: usize,
    pub p50_ms: f64,
    /// What the others got: a status, or the client's error.
    pub failures: std::collections::BTreeMap<String, usize>,
}

/// Sends `per_sec` browser logins a second for `duration`, each on its own task so slow
/// answers never lower the rate.
pub async fn login_storm(
    http: &reqwest::Client,
    server: &Server,
    per_sec: u32,
    duration: Duration,
) -> anyhow::Result<Storm> {
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / per_sec);
    let started = Instant::now();
    let mut tasks = Vec::new();
    while started.elapsed() < duration {
        ticker.tick().await;
        let http = http.clone();
        let url = server.url("/api/v1/auth/login_web");
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = http
                .post(url)
                .json(&serde_json::json!({"username": USER, "password": PASSWORD}))
                .send()
                .await;
            let outcome = match answer {
                Ok(a) if a.status() == 200 => None,
                Ok(a) => Some(a.status().to_string()),
                Err(e) if e.is_timeout() => Some("timeout".to_owned()),
                Err(e) if e.is_connect() => Some("connect error".to_owned()),
                Err(_) => Some("client error".to_owned()),
            };
            (outcome, sent.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let sent = tasks.len();
    let mut ok = 0;
    let mut times = Vec::new();
    let mut failures = std::collections::BTreeMap::new();
    for task in tasks {
        let (outcome, ms) = task.await?;
        match outcome {
            None => ok += 1,
            Some(why) => *failures.entry(why).or_insert(0) += 1,
        }
        times.push(ms);
    }
    Ok(Storm {
        sent,
        ok,
        p50_ms: median(times),
        failures,
    })
}

/// `count` new browsers each fetch a page: kunci starts a session for each. Returns how many
/// were started (answers that set a session cookie).
pub async fn new_browsers(
    http: &reqwest::Client,
    server: &Server,
    count: usize,
) -> anyhow::Result<usize> {
    let url = server.url("/");
    let workers = 32;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut started = 0usize;
            for _ in (worker..count).step_by(workers) {
                let answer = http.get(&url).header("accept", PAGE_ACCEPT).send().await?;
                started += usize::from(
                    answer
                        .headers()
                        .get_all("set-cookie")
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .any(|v| {
                            v.split(';')
                                .next()
                                .is_some_and(|c| c.contains("kunci_session="))
                        }),
                );
            }
            anyhow::Ok(started)
        }));
    }
    let mut started = 0;
    for task in tasks {
        started += task.await??;
    }
    anyhow::ensure!(
        started == count,
        "only {started} of {count} browsers got a session"
    );
    Ok(started)
}
