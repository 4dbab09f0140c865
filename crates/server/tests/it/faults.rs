//! Faults of the real parts: a Redis of the test's own killed, frozen and restarted empty under
//! load, and `kunci serve` killed with SIGKILL in the middle of writes, round after round.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{Browser, Kunci, TestApp};

/// A `redis-server` of the test's own on a free port, keeping nothing on disk.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// `None` (with a message) where no `redis-server` is installed, outside CI.
    fn start() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                !kunci_store::testing::in_ci(),
                "CI needs redis-server (scripts/services.sh installs it)"
            );
            kunci_store::testing::skip("no redis-server on this machine");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut redis = Self { port, child: None };
        redis.restart();
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again), empty, and waits until it answers.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        for _ in 0..200 {
            if self.answers() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "the test's redis-server did not start on port {}",
            self.port
        );
    }

    fn answers(&self) -> bool {
        use std::io::{Read as _, Write as _};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {signal} {pid}");
    }

    fn kill(&mut self) {
        self.signal("-KILL");
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Page loads of a second browser, all through the fault; every answer's status is kept (a
/// request that never got one would hang the test).
fn load(app: &TestApp) -> (Arc<Mutex<Vec<u16>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut browser = Browser::new(&app.url(""));
    let kept = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let status = browser.open("/").await.status;
            kept.lock().unwrap().push(status);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (seen, task)
}

async fn session_status(browser: &mut Browser) -> (u16, Option<String>) {
    let answer = browser.api("/api/v1/session").await;
    let code = answer.json()["error"].as_str().map(str::to_owned);
    (answer.status, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_redis_killed_frozen_and_restarted_empty_fails_closed_and_recovers() {
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let app = TestApp::builder()
        .var("KUNCI__DATA__SESSION_STORE", "redis")
        .var("KUNCI__DATA__REDIS_URL", &redis.url())
        .spawn()
        .await
        .unwrap();
    let (seen, task) = load(&app);
    let mut browser = Browser::new(&app.url(""));
    assert_eq!(browser.arrive("/").await.status, 200);
    assert_eq!(session_status(&mut browser).await.0, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Frozen for 8 seconds: every request is answered, with 503, none hangs.
    redis.signal("-STOP");
    for _ in 0..3 {
        assert_eq!(
            session_status(&mut browser).await,
            (503, Some("store_unavailable".to_owned()))
        );
        assert_eq!(app.get("/readyz").await.status(), 503);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    redis.signal("-CONT");
    // Thawed: the session is still there, served again within 2 s, without a restart.
    let mut thawed = (0, None);
    for _ in 0..20 {
        thawed = session_status(&mut browser).await;
        if thawed.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(thawed.0, 200, "after the freeze: {thawed:?}");

    // Killed: 503 while it is gone; restarted empty: the very first request is served, and
    // the session it lost is simply gone (a new browser session, never a 503 or a loop).
    redis.kill();
    assert_eq!(session_status(&mut browser).await.0, 503);
    assert_eq!(app.get("/readyz").await.status(), 503);
    redis.restart();
    let first = browser.open("/").await;
    assert_ne!(first.status, 503, "the first request after Redis returned");
    assert_eq!(browser.arrive("/").await.status, 200);
    assert_eq!(session_status(&mut browser).await.0, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;

    task.abort();
    let seen = seen.lock().unwrap().clone();
    let odd: Vec<u16> = seen
        .iter()
        .copied()
        .filter(|s| ![200, 302, 303, 503].contains(s))
        .collect();
    assert!(
        odd.is_empty(),
        "under load, every answer is a page, a bootstrap or a 503: {odd:?}"
    );
    let first_refusal = seen.iter().position(|s| *s == 503);
    let last_refusal = seen.iter().rposition(|s| *s == 503);
    assert!(
        first_refusal.is_some_and(|at| seen[..at].contains(&200))
            && last_refusal.is_some_and(|at| seen[at..].contains(&200)),
        "the load was served before the fault, refused during it and served after: {seen:?}"
    );
}

const PASSWORD: &str = "root passphrase 1";

/// A mobile login of `root`: the access and refresh tokens, or `None` when the server is gone.
fn login(client: &reqwest::blocking::Client, url: &str) -> Option<(String, String)> {
    let answer = client
        .post(format!("{url}/api/v1/auth/login_mobile"))
        .json(&json!({"username": "root", "password": PASSWORD, "client_id": "faults-0001"}))
        .send()
        .ok()?;
    assert_eq!(answer.status(), 200);
    let pair: serde_json::Value = answer.json().ok()?;
    let token = |name: &str| pair[name].as_str().unwrap().to_owned();
    Some((token("access_token"), token("refresh_token")))
}

/// Logs in until the server goes away; returns the acknowledged refresh tokens.
fn log_in_repeatedly(url: String) -> Vec<String> {
    let client = reqwest::blocking::Client::new();
    std::iter::from_fn(|| login(&client, &url).map(|(_, refresh)| refresh)).collect()
}

/// A refresh of an acknowledged login's token works after the restart: the login was kept.
fn refreshes(client: &reqwest::blocking::Client, url: &str, refresh: &str) -> bool {
    client
        .post(format!("{url}/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh, "client_id": "faults-0001"}))
        .send()
        .is_ok_and(|a| a.status() == 200)
}

/// Adds keys until the server goes away; returns the ids it acknowledged, and whether a
/// request was cut off by the kill (sent, never answered).
fn add_keys(url: String, bearer: String, writer: usize) -> (Vec<String>, bool) {
    let client = reqwest::blocking::Client::new();
    let mut acknowledged = Vec::new();
    for n in 0.. {
        let key = format!("AIzaSyFault{writer:02}{n:026}");
        let sent = client
            .post(format!("{url}/api/v1/admin/api-keys"))
            .bearer_auth(&bearer)
            .json(&json!({"key": key, "upstream": "google"}))
            .send();
        match sent {
            Ok(answer) if answer.status() == 201 => {
                let body: serde_json::Value = answer.json().unwrap();
                acknowledged.push(body["id"].as_str().unwrap().to_owned());
            }
            Ok(answer) => panic!(
                "an add answered {}: {}",
                answer.status(),
                answer.text().unwrap()
            ),
            Err(_) => return (acknowledged, true),
        }
    }
    (acknowledged, false)
}

fn integrity(kunci: &Kunci) -> String {
    crate::helpers::with_sqlite(&kunci.path("instance/kunci.db"), async |pool| {
        let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(pool)
            .await
            .unwrap();
        verdict
    })
}

/// The key ids the audit log says were created (`allowed`), from `audit export`.
fn audited_creations(kunci: &Kunci) -> Vec<String> {
    let export = kunci.run(&["audit", "export"]).success().stdout();
    export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "admin.api_key.created" && e["outcome"] == "allowed")
        .map(|e| {
            let target = e["target"].as_str().unwrap();
            let id = target.rsplit_once('(').unwrap().1.trim_end_matches(')');
            id.to_owned()
        })
        .collect()
}

#[test]
fn serve_killed_mid_write_ten_times_keeps_every_acknowledged_write_and_a_sound_log() {
    let kunci = Kunci::new()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        // Logins and adds go on all through every round: no per-address limit in the way.
        .var("KUNCI__SECURITY__LOGIN_REQUESTS_PER_MINUTE", "100000")
        .var("KUNCI__SECURITY__API_REQUESTS_PER_SECOND", "100000")
        .var(
            "KUNCI__UPSTREAM__GOOGLE__CX",
            "017576662512468239146:omuauf_lfve",
        );
    kunci.run(&["db", "migrate"]).success();
    kunci
        .run_with_input(
            &["user", "add", "root", "--scope", "admin"],
            &format!("{PASSWORD}\n"),
        )
        .success();
    kunci::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    let mut acknowledged = Vec::new();
    let mut logins = 0;
    let mut last_login: Option<String> = None;
    let mut cut_off = 0;
    for round in 0..10_u64 {
        let mut server = kunci.serve(&[]);
        let url = server.url("");
        if let Some(refresh) = last_login.take() {
            assert!(
                refreshes(&client, &url, &refresh),
                "round {round}: a login was lost"
            );
        }
        let (bearer, _) = login(&client, &url).unwrap();
        let logging_in = {
            let url = url.clone();
            std::thread::spawn(move || log_in_repeatedly(url))
        };
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (url, bearer) = (url.clone(), bearer.clone());
                std::thread::spawn(move || {
                    add_keys(url, bearer, usize::try_from(round).unwrap() * 2 + w)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + round * 45));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for writer in writers {
            let (ids, cut) = writer.join().unwrap();
            acknowledged.extend(ids);
            cut_off += usize::from(cut);
        }
        let refreshes = logging_in.join().unwrap();
        logins += refreshes.len();
        last_login = refreshes.last().cloned();

        assert_eq!(integrity(&kunci), "ok", "round {round}");
        kunci.run(&["audit", "verify"]).success();
        let listed = kunci.run(&["apikey", "list"]).success().stdout();
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !listed.contains(id.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged and lost: {lost:?}"
        );
        let phantoms: Vec<String> = audited_creations(&kunci)
            .into_iter()
            .filter(|id| !listed.contains(id.as_str()))
            .collect();
        assert!(
            phantoms.is_empty(),
            "round {round}: audited as created, never stored: {phantoms:?}"
        );
    }
    assert!(
        acknowledged.len() > 20,
        "too few writes: {}",
        acknowledged.len()
    );
    assert!(logins > 10, "too few logins: {logins}");
    assert!(cut_off > 0, "no kill landed while a write was in flight");
}
