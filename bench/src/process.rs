//! The processes under test: kunci (`serve` and its CLI) in a project folder of its own, and the
//! baseline. Every child is killed when its handle is dropped.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub address: String,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in bytes, from `/proc`.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{}/status", self.pid()))?;
        Ok(kib * 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the baseline and waits for its address.
pub fn baseline(binary: &Path) -> anyhow::Result<Server> {
    let mut child = Command::new(binary)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", binary.display()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow::anyhow!("the baseline said {line:?}"))?
        .to_owned();
    Ok(Server { child, address })
}

/// A kunci project folder and the configuration every command in it gets.
#[derive(Debug)]
pub struct Project {
    pub binary: PathBuf,
    pub root: PathBuf,
    pub variables: Vec<(String, String)>,
}

impl Project {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .env_remove("KUNCI_ENV")
            .env_remove("KUNCI_MASTER_KEY")
            .env_remove("KUNCI_MASTER_KEY_FILE")
            .envs(self.variables.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs a CLI command with `input` on its standard input.
    pub fn run(&self, args: &[&str], input: &str) -> anyhow::Result<()> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        anyhow::ensure!(
            output.status.success(),
            "kunci {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Starts `serve` on `bind` (`127.0.0.1:0` for any port), its log in `serve.log` under the
    /// project, and waits until it says where it serves.
    pub fn serve(&self, bind: &str) -> anyhow::Result<Server> {
        let log_path = self.root.join("serve.log");
        let log = std::fs::File::create(&log_path)?;
        let child = self
            .command(&["serve"])
            .env("KUNCI__ENVIRONMENT__BIND", bind)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let mut server = Server {
            child,
            address: String::new(),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(rest) = text.split("is serving on http://").nth(1) {
                server.address = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                anyhow::bail!("kunci serve exited ({status}):\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::bail!("kunci serve did not start within 60 s")
    }

    /// Starts `serve` and measures the time from spawning it to its first `/readyz` 200.
    pub async fn cold_start(&self, http: &reqwest::Client) -> anyhow::Result<Duration> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let child = self
            .command(&["serve"])
            .env("KUNCI__ENVIRONMENT__BIND", &address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let _server = Server {
            child,
            address: address.clone(),
        };
        let url = format!("http://{address}/readyz");
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(answer) = http.get(&url).send().await
                && answer.status() == 200
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        anyhow::bail!("kunci was not ready within 60 s")
    }
}
