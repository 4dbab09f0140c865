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
mod scenarios;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use drivers::login_storm;
use process::{Project, Server};
use scenarios::Run;
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
        ("KUNCI__SECURITY__NEW_BROWSERS_PER_MINUTE", "100000"),
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
    let run = Run {
        options: &options,
        plan,
        wrk: &wrk,
        http: &http,
        baseline: &baseline,
    };
    let (page, memory) = run.page_on_memory().await?;
    let mut rows = vec![page, run.page_on_redis().await?];
    rows.push(run.bearer_me(&memory).await?);
    rows.push(run.cached_search(&memory).await?);
    rows.extend(run.picks().await?);
    rows.extend(run.login_storms(memory).await?);
    rows.push(run.memory().await?);
    rows.push(run.cold_start().await?);

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
