//! `kunci-bench`: kunci's hot paths under load against a bare-axum baseline, in one run.
//! `bench/run` builds the binaries and calls this; see BENCHMARKS.md for the scenarios and the
//! goals they are held to. Speed is measured here, never asserted in tests.
#![allow(
    clippy::disallowed_methods,
    reason = "a load harness reads the wall clock and its own environment: measuring is its job"
)]

mod drivers;
mod picks;
mod process;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use drivers::{login_storm, new_browsers};
use kunci_store::testing::TestBackend;
use process::{Project, Server};
use wrk::{Load, Wrk};

/// The login every scenario uses.
const USER: &str = "bench";
const PASSWORD: &str = "bench password 0123";
/// A key in Google's format for the cached-search scenario (never sent anywhere real).
/// What a browser sends when it loads a page (kunci tells pages from API calls by it).
const PAGE_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const GOOGLE_KEY: &str = "AIzaSyBENCH0000000000000000000000000000";

#[derive(Debug)]
struct Options {
    quick: bool,
    kunci: PathBuf,
    baseline: PathBuf,
    script: PathBuf,
    out: Option<PathBuf>,
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut options = Self {
            quick: false,
            kunci: PathBuf::new(),
            baseline: PathBuf::new(),
            script: PathBuf::from("bench/wrk/carry.lua"),
            out: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
            };
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--kunci" => options.kunci = value()?,
                "--baseline" => options.baseline = value()?,
                "--script" => options.script = value()?,
                "--out" => options.out = Some(value()?),
                other => anyhow::bail!(
                    "unknown argument {other}; usage: kunci-bench --kunci BIN --baseline BIN \
                     [--script carry.lua] [--out FILE] [--quick]"
                ),
            }
        }
        anyhow::ensure!(
            options.kunci.is_file() && options.baseline.is_file(),
            "--kunci and --baseline must name the built binaries"
        );
        Ok(options)
    }

    /// How long one wrk run lasts, and how many times baseline and kunci alternate.
    fn plan(&self) -> (Duration, usize) {
        if self.quick {
            (Duration::from_secs(1), 1)
        } else {
            (Duration::from_secs(5), 3)
        }
    }
}

/// A test service's URL: `None` (skip, said once) when unset, an error in CI.
fn service(variable: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            anyhow::bail!("{variable} is unset, but CI=true")
        }
        _ => Ok(None),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median of several loads (requests/s, p50 and p99 each on its own).
fn typical(loads: &[Load]) -> Load {
    Load {
        requests_per_sec: median(loads.iter().map(|l| l.requests_per_sec).collect()),
        p50_ms: median(loads.iter().map(|l| l.p50_ms).collect()),
        p99_ms: median(loads.iter().map(|l| l.p99_ms).collect()),
        errors: loads.iter().map(|l| l.errors).sum(),
    }
}

/// One line of the results table.
#[derive(Debug)]
struct Row {
    scenario: String,
    baseline: String,
    kunci: String,
    ratio: String,
    goal: String,
    met: Option<bool>,
}

impl Row {
    fn skipped(scenario: &str, goal: &str, why: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            baseline: "—".to_owned(),
            kunci: format!("skipped: {why}"),
            ratio: "—".to_owned(),
            goal: goal.to_owned(),
            met: None,
        }
    }
}

fn describe(load: &Load) -> String {
    format!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        load.requests_per_sec, load.p50_ms, load.p99_ms
    )
}

/// Runs baseline and kunci alternately and compares them.
fn compare(
    wrk: &Wrk<'_>,
    plan: (Duration, usize),
    baseline: &Server,
    url: &str,
    headers: &[(String, String)],
    scenario: &str,
    goal_ratio: f64,
) -> anyhow::Result<(Row, Load)> {
    let (duration, rounds) = plan;
    let mut base = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..rounds {
        base.push(wrk.run(&baseline.url("/"), &[], duration)?);
        ours.push(wrk.run(url, headers, duration)?);
    }
    let (base, ours) = (typical(&base), typical(&ours));
    anyhow::ensure!(
        ours.errors == 0 && base.errors == 0,
        "{scenario}: {} failed requests (kunci) and {} (baseline): not a valid measurement",
        ours.errors,
        base.errors
    );
    let ratio = ours.requests_per_sec / base.requests_per_sec;
    Ok((
        Row {
            scenario: scenario.to_owned(),
            baseline: describe(&base),
            kunci: describe(&ours),
            ratio: format!("{ratio:.2}×"),
            goal: format!("≥ {goal_ratio}×"),
            met: Some(ratio >= goal_ratio),
        },
        ours,
    ))
}

/// Logs in with the browser endpoint; the `Cookie` header that carries the session.
async fn browser_login(http: &reqwest::Client, server: &Server) -> anyhow::Result<String> {
    let answer = http
        .post(server.url("/api/v1/auth/login_web"))
        .json(&serde_json::json!({"username": USER, "password": PASSWORD}))
        .send()
        .await?;
    anyhow::ensure!(answer.status() == 200, "login_web: {}", answer.status());
    let cookies: Vec<String> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let cookie = cookies.join("; ");
    // The page must be the signed-in page itself, not a redirect to bootstrap or log in.
    let page = http
        .get(server.url("/"))
        .header("cookie", &cookie)
        .header("accept", PAGE_ACCEPT)
        .send()
        .await?;
    anyhow::ensure!(
        page.status() == 200,
        "GET / with the session answered {}",
        page.status()
    );
    Ok(cookie)
}

/// A kunci project configured for the scenarios; `extra` adds or replaces variables.
fn project(
    options: &Options,
    baseline: &Server,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Project {
    let mut variables: Vec<(String, String)> = [
        ("KUNCI__DATA__SESSION_STORE", "memory"),
        ("KUNCI__SECURITY__API_REQUESTS_PER_SECOND", "100000"),
        ("KUNCI__SECURITY__API_BURST", "1000000"),
        ("KUNCI__SECURITY__LOGIN_REQUESTS_PER_MINUTE", "100000"),
        ("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse"),
        ("KUNCI__UPSTREAM__GOOGLE__CX", "bench-search-engine"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    variables.push((
        "KUNCI__UPSTREAM__GOOGLE__BASE_URL".to_owned(),
        baseline.url("/customsearch/v1"),
    ));
    for (name, value) in extra {
        variables.retain(|(n, _)| n != name);
        variables.push(((*name).to_owned(), (*value).to_owned()));
    }
    Project {
        binary: options.kunci.clone(),
        root: dir.to_owned(),
        variables,
    }
}

/// The user and the pool key every scenario needs, then `serve`.
fn prepared(project: &Project) -> anyhow::Result<Server> {
    project.run(&["db", "migrate"], "")?;
    project.run(
        &["user", "add", USER, "--scope", "admin"],
        &format!("{PASSWORD}\n"),
    )?;
    project.run(&["apikey", "add", "google"], &format!("{GOOGLE_KEY}\n"))?;
    project.serve("127.0.0.1:0")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    let plan = options.plan();
    // The HTTP client needs a TLS provider even for plain HTTP; ring, as kunci uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let wrk = Wrk {
        script: &options.script,
        threads: 1,
        connections: 16,
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    let baseline = process::baseline(&options.baseline)?;
    let mut rows = Vec::new();
    let say = |what: &str| eprintln_progress(what);

    // 1, 3, 4 and 6 on the memory session store.
    let dir = tempdir()?;
    let memory = prepared(&project(&options, &baseline, &dir, &[]))?;
    let cookie = browser_login(&http, &memory).await?;
    let browser = [
        ("Cookie".to_owned(), cookie.clone()),
        ("Accept".to_owned(), PAGE_ACCEPT.to_owned()),
    ];
    say("1. page GET, memory sessions");
    let (row, page_alone) = compare(
        &wrk,
        plan,
        &baseline,
        &memory.url("/"),
        &browser,
        "1. page GET with valid cookies, memory sessions",
        0.8,
    )?;
    rows.push(row);

    say("2. page GET, Redis sessions");
    let redis_goal = "≥ 0.5×";
    match service("KUNCI_TEST_REDIS_URL")? {
        None => rows.push(Row::skipped(
            "2. page GET, Redis sessions",
            redis_goal,
            "KUNCI_TEST_REDIS_URL unset",
        )),
        Some(url) => {
            let prefix = format!("kunci-bench-{}:", uuid::Uuid::new_v4().simple());
            let dir = tempdir()?;
            let on_redis = prepared(&project(
                &options,
                &baseline,
                &dir,
                &[
                    ("KUNCI__DATA__SESSION_STORE", "redis"),
                    ("KUNCI__DATA__REDIS_URL", &url),
                    ("KUNCI__DATA__REDIS_PREFIX", &prefix),
                ],
            ))?;
            let cookie = browser_login(&http, &on_redis).await?;
            let (row, _) = compare(
                &wrk,
                plan,
                &baseline,
                &on_redis.url("/"),
                &[
                    ("Cookie".to_owned(), cookie),
                    ("Accept".to_owned(), PAGE_ACCEPT.to_owned()),
                ],
                "2. page GET with valid cookies, Redis sessions",
                0.5,
            )?;
            rows.push(row);
        }
    }

    say("3. GET /api/v1/me with a bearer JWT");
    let mobile: serde_json::Value = http
        .post(memory.url("/api/v1/auth/login_mobile"))
        .json(&serde_json::json!({"username": USER, "password": PASSWORD, "client_id": "bench-app-1"}))
        .send()
        .await?
        .json()
        .await?;
    let token = mobile["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login_mobile gave no access token: {mobile}"))?;
    let bearer = [("Authorization".to_owned(), format!("Bearer {token}"))];
    let me = http
        .get(memory.url("/api/v1/me"))
        .header("authorization", &bearer[0].1)
        .send()
        .await?;
    anyhow::ensure!(me.status() == 200, "/api/v1/me answered {}", me.status());
    let (row, _) = compare(
        &wrk,
        plan,
        &baseline,
        &memory.url("/api/v1/me"),
        &bearer,
        "3. GET /api/v1/me with a bearer JWT",
        0.8,
    )?;
    rows.push(row);

    say("4. GET /api/v1/search from the cache");
    let search = memory.url("/api/v1/search?q=kunci+bench");
    for expected in ["miss", "hit"] {
        let answer = http.get(&search).header("cookie", &cookie).send().await?;
        let cache = answer
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(
            answer.status() == 200 && cache == expected,
            "search answered {} with X-Cache {cache:?}, expected {expected}",
            answer.status()
        );
    }
    let (row, _) = compare(
        &wrk,
        plan,
        &baseline,
        &search,
        &browser,
        "4. GET /api/v1/search served from the cache",
        0.7,
    )?;
    rows.push(row);

    for (scenario, variable, backend) in [
        (
            "5. API-key picks on PostgreSQL, 32 clients",
            "KUNCI_TEST_DATABASE_URL",
            TestBackend::Postgres,
        ),
        (
            "5b. API-key picks on MariaDB, 32 clients",
            "KUNCI_TEST_MYSQL_URL",
            TestBackend::MySql,
        ),
    ] {
        say(scenario);
        let goal = "≥ 20 000 picks/s, 0 over budget";
        if service(variable)?.is_none() {
            rows.push(Row::skipped(scenario, goal, &format!("{variable} unset")));
            continue;
        }
        let budget = if options.quick { 20 } else { 500 };
        let result = picks::run(backend, 32, plan.0 * u32::try_from(plan.1)?, budget).await?;
        rows.push(Row {
            scenario: scenario.to_owned(),
            baseline: "—".to_owned(),
            kunci: format!(
                "{:.0} picks/s ({} picks; {} budgets spent exactly, {} over budget)",
                result.per_sec, result.picks, result.budgets_spent, result.overspent
            ),
            ratio: "—".to_owned(),
            goal: goal.to_owned(),
            met: Some(result.per_sec >= 20_000.0 && result.overspent == 0),
        });
    }

    say("6. login storm: page GETs while 50 logins/s hash");
    let storm_for = plan.0 * u32::try_from(plan.1)?;
    rows.push(
        storm_row(
            &http,
            &options.script,
            &memory,
            &browser,
            storm_for,
            "6. page GET p99 while 50 logins/s hash (password_hash_parallel = 2, the default)",
            &page_alone,
        )
        .await?,
    );
    say("6b. the same with password_hash_parallel = 1");
    let dir = tempdir()?;
    let one_hasher = prepared(&project(
        &options,
        &baseline,
        &dir,
        &[("KUNCI__SECURITY__PASSWORD_HASH_PARALLEL", "1")],
    ))?;
    let cookie = browser_login(&http, &one_hasher).await?;
    rows.push(
        storm_row(
            &http,
            &options.script,
            &one_hasher,
            &[
                ("Cookie".to_owned(), cookie),
                ("Accept".to_owned(), PAGE_ACCEPT.to_owned()),
            ],
            storm_for,
            "6b. the same, password_hash_parallel = 1",
            &page_alone,
        )
        .await?,
    );
    drop(one_hasher);
    drop(memory);

    say("7. memory: idle, and with many live sessions");
    let sessions = if options.quick { 2_000 } else { 100_000 };
    let dir = tempdir()?;
    let fresh = prepared(&project(&options, &baseline, &dir, &[]))?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = fresh.rss_bytes()?;
    let created = new_browsers(&http, &fresh, sessions).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = fresh.rss_bytes()?;
    let per_session = loaded.saturating_sub(idle) / u64::try_from(created.max(1))?;
    rows.push(Row {
        scenario: format!("7. RSS idle / with {created} live sessions (memory store)"),
        baseline: format!("baseline idle {:.1} MiB", mib(baseline.rss_bytes()?)),
        kunci: format!(
            "idle {:.1} MiB; {:.1} MiB with sessions (~{per_session} B each)",
            mib(idle),
            mib(loaded)
        ),
        ratio: "—".to_owned(),
        goal: "measured".to_owned(),
        met: None,
    });
    drop(fresh);

    say("8. cold start to /readyz on a fresh SQLite database");
    let mut starts = Vec::new();
    for _ in 0..plan.1.max(1) {
        let dir = tempdir()?;
        let project = project(&options, &baseline, &dir, &[]);
        starts.push(project.cold_start(&http).await?.as_secs_f64() * 1000.0);
        std::fs::remove_dir_all(&dir).ok();
    }
    rows.push(Row {
        scenario: "8. cold start: spawn to /readyz 200, fresh SQLite".to_owned(),
        baseline: "—".to_owned(),
        kunci: format!(
            "{:.0} ms (median of {})",
            median(starts.clone()),
            starts.len()
        ),
        ratio: "—".to_owned(),
        goal: "measured".to_owned(),
        met: None,
    });

    let table = report(&options, &rows);
    #[expect(clippy::print_stdout, reason = "the table is this program's output")]
    {
        println!("{table}");
    }
    if let Some(out) = &options.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, &table)?;
    }
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    #[expect(
        clippy::as_conversions,
        clippy::cast_precision_loss,
        reason = "a display value"
    )]
    let bytes = bytes as f64;
    bytes / 1024.0 / 1024.0
}

fn eprintln_progress(what: &str) {
    #[expect(clippy::print_stderr, reason = "progress of a long run")]
    {
        eprintln!("bench: {what}");
    }
}

/// A folder for one kunci project, under the system's temporary folder.
fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("kunci-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Scenario 6: page GETs under wrk while `login_storm` hashes 50 passwords a second.
async fn storm_row(
    http: &reqwest::Client,
    script: &std::path::Path,
    server: &Server,
    browser: &[(String, String)],
    duration: Duration,
    label: &str,
    alone: &Load,
) -> anyhow::Result<Row> {
    let storm = login_storm(http, server, 50, duration);
    let page = tokio::task::spawn_blocking({
        let url = server.url("/");
        let browser = browser.to_vec();
        let script = script.to_owned();
        move || {
            Wrk {
                script: &script,
                threads: 1,
                connections: 16,
            }
            .run(&url, &browser, duration)
        }
    });
    let (logins, under_storm) = tokio::join!(storm, page);
    let (logins, under_storm) = (logins?, under_storm??);
    Ok(Row {
        scenario: label.to_owned(),
        baseline: format!("alone: p99 {:.2} ms", alone.p99_ms),
        kunci: format!(
            "{}; {} logins ok of {} sent, p50 {:.0} ms{}",
            describe(&under_storm),
            logins.ok,
            logins.sent,
            logins.p50_ms,
            if logins.failures.is_empty() {
                String::new()
            } else {
                format!(" (others: {:?})", logins.failures)
            }
        ),
        ratio: format!("{:.2}× p99", under_storm.p99_ms / alone.p99_ms),
        goal: "p99 < 5 ms".to_owned(),
        met: Some(under_storm.p99_ms < 5.0 && under_storm.errors == 0),
    })
}

/// The markdown report: the machine, then the table.
fn report(options: &Options, rows: &[Row]) -> String {
    let run = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(str::to_owned))
        .unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {} cores, {}; {}; commit {}; mode {}.\n\n",
        run("nproc", &[]),
        memory
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" "),
        run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        run("git", &["rev-parse", "--short", "HEAD"]),
        if options.quick {
            "--quick (about a second a run, one round; smoke test, not a measurement)"
        } else {
            "full (5 s a run, 3 rounds, medians)"
        }
    ));
    out.push_str(
        "| scenario | baseline | kunci | ratio | goal | met |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {met} |\n",
            row.scenario, row.baseline, row.kunci, row.ratio, row.goal
        ));
    }
    out
}
