//! The scenarios of the run, in the order of the table: each starts what it needs, measures,
//! and gives its row(s). `main.rs` holds the shared means (projects, comparisons, the report).

use std::time::Duration;

use kunci_store::testing::TestBackend;

use crate::drivers::new_browsers;
use crate::process::Server;
use crate::wrk::{Load, Wrk};
use crate::{
    Options, PAGE_ACCEPT, PASSWORD, Row, USER, browser_login, compare, median, mib, picks,
    prepared, project, service, storm_row, tempdir,
};

/// What every scenario shares: the options, the plan, wrk, the HTTP client and the baseline.
pub(crate) struct Run<'a> {
    pub(crate) options: &'a Options,
    pub(crate) plan: (Duration, usize),
    pub(crate) wrk: &'a Wrk<'a>,
    pub(crate) http: &'a reqwest::Client,
    pub(crate) baseline: &'a Server,
}

/// The instance on the memory session store that scenarios 1, 3, 4 and 6 share, logged in.
pub(crate) struct OnMemory {
    pub(crate) server: Server,
    pub(crate) cookie: String,
    pub(crate) browser: [(String, String); 2],
    pub(crate) page_alone: Load,
}

fn say(what: &str) {
    crate::eprintln_progress(what);
}

impl Run<'_> {
    /// 1. A page with valid cookies, memory sessions.
    pub(crate) async fn page_on_memory(&self) -> anyhow::Result<(Row, OnMemory)> {
        let dir = tempdir()?;
        let memory = prepared(&project(self.options, self.baseline, &dir, &[]))?;
        let cookie = browser_login(self.http, &memory).await?;
        let browser = [
            ("Cookie".to_owned(), cookie.clone()),
            ("Accept".to_owned(), PAGE_ACCEPT.to_owned()),
        ];
        say("1. page GET, memory sessions");
        let (row, page_alone) = compare(
            self.wrk,
            self.plan,
            self.baseline,
            &memory.url("/"),
            &browser,
            "1. page GET with valid cookies, memory sessions",
            0.8,
        )?;
        Ok((
            row,
            OnMemory {
                server: memory,
                cookie,
                browser,
                page_alone,
            },
        ))
    }

    /// 2. The same page with sessions in Redis.
    pub(crate) async fn page_on_redis(&self) -> anyhow::Result<Row> {
        say("2. page GET, Redis sessions");
        let redis_goal = "≥ 0.5×";
        let Some(url) = service("KUNCI_TEST_REDIS_URL")? else {
            return Ok(Row::skipped(
                "2. page GET, Redis sessions",
                redis_goal,
                "KUNCI_TEST_REDIS_URL unset",
            ));
        };
        let prefix = format!("kunci-bench-{}:", uuid::Uuid::new_v4().simple());
        let dir = tempdir()?;
        let on_redis = prepared(&project(
            self.options,
            self.baseline,
            &dir,
            &[
                ("KUNCI__DATA__SESSION_STORE", "redis"),
                ("KUNCI__DATA__REDIS_URL", &url),
                ("KUNCI__DATA__REDIS_PREFIX", &prefix),
            ],
        ))?;
        let cookie = browser_login(self.http, &on_redis).await?;
        let (row, _) = compare(
            self.wrk,
            self.plan,
            self.baseline,
            &on_redis.url("/"),
            &[
                ("Cookie".to_owned(), cookie),
                ("Accept".to_owned(), PAGE_ACCEPT.to_owned()),
            ],
            "2. page GET with valid cookies, Redis sessions",
            0.5,
        )?;
        Ok(row)
    }

    /// 3. `GET /api/v1/me` with a bearer JWT.
    pub(crate) async fn bearer_me(&self, memory: &OnMemory) -> anyhow::Result<Row> {
        let (http, memory) = (self.http, &memory.server);
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
            self.wrk,
            self.plan,
            self.baseline,
            &memory.url("/api/v1/me"),
            &bearer,
            "3. GET /api/v1/me with a bearer JWT",
            0.8,
        )?;
        Ok(row)
    }

    /// 4. A search served from the cache.
    pub(crate) async fn cached_search(&self, memory: &OnMemory) -> anyhow::Result<Row> {
        let (http, cookie, browser) = (self.http, &memory.cookie, &memory.browser);
        let memory = &memory.server;
        say("4. GET /api/v1/search from the cache");
        let search = memory.url("/api/v1/search?q=kunci+bench");
        for expected in ["miss", "hit"] {
            let answer = http.get(&search).header("cookie", cookie).send().await?;
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
            self.wrk,
            self.plan,
            self.baseline,
            &search,
            browser,
            "4. GET /api/v1/search served from the cache",
            0.7,
        )?;
        Ok(row)
    }

    /// 5 and 5b. API-key picks on the server databases.
    pub(crate) async fn picks(&self) -> anyhow::Result<Vec<Row>> {
        let (options, plan) = (self.options, self.plan);
        let mut rows = Vec::new();
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
        Ok(rows)
    }

    /// 6 and 6b. Page latency while logins hash; the memory instance ends here.
    pub(crate) async fn login_storms(&self, memory: OnMemory) -> anyhow::Result<Vec<Row>> {
        let (http, options, baseline, plan) = (self.http, self.options, self.baseline, self.plan);
        let (page_alone, browser) = (&memory.page_alone, &memory.browser);
        let memory = &memory.server;
        let mut rows = Vec::new();
        say("6. login storm: page GETs while 50 logins/s hash");
        let storm_for = plan.0 * u32::try_from(plan.1)?;
        rows.push(
            storm_row(
                http,
                &options.script,
                memory,
                browser,
                storm_for,
                "6. page GET p99 while 50 logins/s hash (password_hash_parallel = 2, the default)",
                page_alone,
            )
            .await?,
        );
        say("6b. the same with password_hash_parallel = 1");
        let dir = tempdir()?;
        let one_hasher = prepared(&project(
            options,
            baseline,
            &dir,
            &[("KUNCI__SECURITY__PASSWORD_HASH_PARALLEL", "1")],
        ))?;
        let cookie = browser_login(http, &one_hasher).await?;
        rows.push(
            storm_row(
                http,
                &options.script,
                &one_hasher,
                &[
                    ("Cookie".to_owned(), cookie),
                    ("Accept".to_owned(), PAGE_ACCEPT.to_owned()),
                ],
                storm_for,
                "6b. the same, password_hash_parallel = 1",
                page_alone,
            )
            .await?,
        );
        Ok(rows)
    }

    /// 7. Memory, idle and with many live sessions.
    pub(crate) async fn memory(&self) -> anyhow::Result<Row> {
        let (http, options, baseline) = (self.http, self.options, self.baseline);
        say("7. memory: idle, and with many live sessions");
        let sessions = if options.quick { 2_000 } else { 100_000 };
        let dir = tempdir()?;
        let fresh = prepared(&project(options, baseline, &dir, &[]))?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = fresh.rss_bytes()?;
        let created = new_browsers(http, &fresh, sessions).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let loaded = fresh.rss_bytes()?;
        let per_session = loaded.saturating_sub(idle) / u64::try_from(created.max(1))?;
        let row = Row {
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
        };
        drop(fresh);
        Ok(row)
    }

    /// 8. Cold start to `/readyz` on a fresh SQLite database.
    pub(crate) async fn cold_start(&self) -> anyhow::Result<Row> {
        let (http, options, baseline, plan) = (self.http, self.options, self.baseline, self.plan);
        say("8. cold start to /readyz on a fresh SQLite database");
        let mut starts = Vec::new();
        for _ in 0..plan.1.max(1) {
            let dir = tempdir()?;
            let project = project(options, baseline, &dir, &[]);
            starts.push(project.cold_start(http).await?.as_secs_f64() * 1000.0);
            std::fs::remove_dir_all(&dir).ok();
        }
        Ok(Row {
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
        })
    }
}
