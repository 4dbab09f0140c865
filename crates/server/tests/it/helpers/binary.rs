//! The `kunci` binary, run as a user runs it: in a project folder, with arguments and
//! variables, reading its exit code and output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

/// A project folder and the binary to run in it.
pub struct Kunci {
    pub root: TempDir,
    variables: Vec<(String, String)>,
}

impl Kunci {
    pub fn new() -> Self {
        Self {
            root: tempfile::tempdir().expect("tempdir"),
            variables: Vec::new(),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    /// Writes a file under the project folder, creating folders as needed.
    pub fn write(&self, relative: &str, content: &str) -> &Self {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
        self
    }

    /// Sets a variable for every later run (replacing an earlier value).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.variables.retain(|(n, _)| n != name);
        self.variables.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Unsets a variable set earlier.
    pub fn without(mut self, name: &str) -> Self {
        self.variables.retain(|(n, _)| n != name);
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kunci"));
        command
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .env_remove("KUNCI_ENV")
            .env_remove("KUNCI_MASTER_KEY")
            .env_remove("KUNCI_MASTER_KEY_FILE")
            .envs(self.variables.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    /// Starts a command without waiting for it (to interrupt it).
    pub fn start(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kunci")
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str]) -> Outcome {
        let output = self.command(args).output().expect("run kunci");
        Outcome(output)
    }

    /// Runs a command to completion with `input` on its standard input.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Outcome {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kunci");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write stdin");
        drop(stdin);
        Outcome(child.wait_with_output().expect("wait for kunci"))
    }

    /// Starts `serve` on a free port and waits until it answers `/healthz`.
    pub fn serve(&self, args: &[&str]) -> ServeProcess {
        let mut all = args.to_vec();
        all.push("serve");
        let mut child = self
            .command(&all)
            .env("KUNCI__ENVIRONMENT__BIND", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kunci serve");
        let stderr = child.stderr.take().expect("stderr");
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let address = loop {
            match lines_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(rest) = line
                        .split("is serving on http://")
                        .nth(1)
                        .or_else(|| line.split("is serving on https://").nth(1))
                    {
                        break rest.split_whitespace().next().expect("address").to_owned();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("kunci serve did not start; it said:\n{}", seen.join("\n"));
                }
            }
        };
        ServeProcess {
            child,
            address,
            startup_output: seen,
            lines: lines_rx,
        }
    }
}

/// A finished command.
pub struct Outcome(pub Output);

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Everything the command printed.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code(), Some(0), "failed:\n{}", self.all());
        self
    }
}

/// A running `kunci serve`.
pub struct ServeProcess {
    pub child: Child,
    pub address: String,
    pub startup_output: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ServeProcess {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code and what it printed after.
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let code = self.child.wait().expect("wait").code();
        let rest = self.lines.try_iter().collect();
        (code, rest)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unix permission bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
