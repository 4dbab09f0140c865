//! `kunci doctor`: the security posture of a deployment, a line per check with what to do.
//! It reads and asks; it changes nothing. Checks that cannot run (no database, no answer from
//! the public URL) say so instead of passing.

use std::path::Path;
use std::time::Duration;

use kunci_crypto::keyring::{KeyPurpose, KeyState};
use kunci_domain::environment::Environment;
use kunci_domain::keys::StoredKey;

use crate::config::{Loaded, SessionStoreKind};
use crate::secrets::permissions;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub fix: Option<String>,
    /// What the console shows instead of `what`: catalog message `doctor-<code>` with `args`
    /// ("" for the checks the console does not run).
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Finding {
    pub fn new(level: Level, what: impl Into<String>, fix: Option<String>) -> Self {
        Self {
            level,
            what: what.into(),
            fix,
            code: "",
            args: Vec::new(),
        }
    }

    fn pass(what: impl Into<String>) -> Self {
        Self::new(Level::Pass, what, None)
    }

    fn warn(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(Level::Warn, what, Some(fix.into()))
    }

    fn fail(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(Level::Fail, what, Some(fix.into()))
    }

    /// The console's words for it.
    pub fn code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }
}

/// The report as text: `PASS`/`WARN`/`FAIL` lines, fixes indented below, a summary.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let tag = match f.level {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!("{tag}  {}\n", f.what));
        if let Some(fix) = &f.fix {
            out.push_str(&format!("      fix: {fix}\n"));
        }
    }
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    out.push_str(&format!(
        "\n{} passed, {} warnings, {} failed\n",
        count(Level::Pass),
        count(Level::Warn),
        count(Level::Fail)
    ));
    out
}

/// The master key's file, when the key comes from one.
pub fn key_files(root: &Path, environment: Environment, key_file: Option<&Path>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(path) = key_file {
        findings.push(match permissions::check(path) {
            Ok(()) if path.exists() => {
                Finding::pass(format!("master key file {} is private", path.display()))
                    .code("key_file_private")
            }
            Ok(()) => Finding::fail(
                format!(
                    "KUNCI_MASTER_KEY_FILE names {}, which does not exist",
                    path.display()
                ),
                "point it at the mounted key file",
            )
            .code("key_file_missing")
            .arg("path", path.display()),
            Err(loose) => Finding::fail(
                format!(
                    "master key file {} is readable by group or others (mode {:04o})",
                    path.display(),
                    loose.mode
                ),
                format!("chmod 600 {}", path.display()),
            )
            .code("key_file_loose")
            .arg("path", path.display()),
        });
    }
    let instance_key = root.join("instance").join(".masterkey");
    if instance_key.exists() {
        if let Err(loose) = permissions::check(&instance_key) {
            findings.push(
                Finding::fail(
                    format!(
                        "{} is readable by group or others (mode {:04o})",
                        instance_key.display(),
                        loose.mode
                    ),
                    format!("chmod 600 {}", instance_key.display()),
                )
                .code("key_file_loose")
                .arg("path", instance_key.display()),
            );
        }
        if environment.is_deployed() {
            findings.push(
                Finding::warn(
                    format!(
                        "a development master key lies in {} ({environment} never reads it)",
                        instance_key.display()
                    ),
                    "delete it unless it is this deployment's key; keep keys away from the data",
                )
                .code("instance_key_deployed")
                .arg("environment", environment),
            );
        }
    }
    findings
}

/// Plaintext `.env.<environment>` files in the project folder.
pub fn plaintext_env_files(root: &Path, environment: Environment) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return findings;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(".env.") && !n.ends_with(".enc") && n != ".env.example")
        .filter(|n| !n.ends_with(".bak"))
        .collect();
    names.sort();
    for name in names {
        let target = name.trim_start_matches(".env.");
        let fix = format!("kunci env encrypt {target}, then delete {name} (and its backups)");
        if environment.is_deployed() {
            findings.push(
                Finding::fail(
                    format!("plaintext secrets file {name} on a {environment} machine"),
                    fix,
                )
                .code("env_file_deployed")
                .arg("name", &name),
            );
        } else {
            findings.push(
                Finding::warn(format!("plaintext secrets file {name}"), fix)
                    .code("env_file")
                    .arg("name", &name),
            );
        }
    }
    if findings.is_empty() {
        findings.push(Finding::pass("no plaintext .env files").code("env_files_none"));
    }
    findings
}

/// HTTPS, HSTS and cookie prefixes as the deployment answers at `url`.
pub async fn live(url: &str, environment: Environment) -> Vec<Finding> {
    let deployed = environment.is_deployed();
    let severity = |what: String, fix: &str| {
        if deployed {
            Finding::fail(what, fix)
        } else {
            Finding::warn(format!("{what} (expected in {environment})"), fix)
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(err) => return vec![Finding::warn(format!("no HTTP client: {err}"), "-")],
    };
    let base = url.trim_end_matches('/');
    let mut findings = Vec::new();
    let Ok(health) = client.get(format!("{base}/healthz")).send().await else {
        return vec![Finding::warn(
            format!("{base} did not answer: HTTPS, HSTS and cookies were not checked"),
            "run doctor where it can reach the deployment, or pass --url",
        )];
    };
    if !base.starts_with("https://") {
        findings.push(severity(
            format!("{base} is not HTTPS"),
            "serve it over HTTPS (a proxy that terminates TLS) and set environment.public_url",
        ));
    }
    let hsts = health
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let max_age = hsts.as_deref().and_then(|h| {
        h.split(';')
            .find_map(|p| p.trim().strip_prefix("max-age="))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    match max_age {
        Some(age) if age >= 15_552_000 => {
            findings.push(Finding::pass(format!("HSTS sent (max-age {age})")));
        }
        Some(age) => findings.push(severity(
            format!("HSTS max-age is only {age} s"),
            "keep kunci's header (a year); check the proxy does not rewrite it",
        )),
        None => findings.push(severity(
            "no Strict-Transport-Security header".to_owned(),
            "set environment.public_url to the https:// address (kunci then sends HSTS) and \
             check the proxy passes the header on",
        )),
    }
    let page = client
        .get(format!("{base}/"))
        .header("accept", "text/html")
        .send()
        .await;
    if let Ok(page) = page {
        let cookies: Vec<String> = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let session = cookies.iter().find(|c| {
            c.split('=')
                .next()
                .is_some_and(|n| n.trim_start_matches("__Host-") == "kunci_session")
        });
        match session {
            Some(c) if c.starts_with("__Host-") && c.contains("Secure") => findings.push(
                Finding::pass("session cookie is __Host- prefixed and Secure"),
            ),
            Some(_) => findings.push(severity(
                "session cookie without the __Host- prefix and Secure".to_owned(),
                "set environment.public_url to the https:// address",
            )),
            None => findings.push(Finding::warn(
                "the home page set no session cookie: cookies not checked",
                "-",
            )),
        }
    }
    findings
}

/// The signing keys: an active key per purpose, rotated on schedule.
pub fn signing_keys(keys: &[StoredKey], rotation_days: u32, now: i64) -> Vec<Finding> {
    let mut findings = Vec::new();
    if rotation_days == 0 {
        findings.push(Finding::warn(
            "automatic key rotation is off (security.key_rotation_days = 0)",
            "set security.key_rotation_days (30 is the default), or rotate by hand on a schedule",
        )
        .code("rotation_off"));
    }
    for purpose in KeyPurpose::ALL {
        let active = keys
            .iter()
            .find(|k| k.purpose == purpose && k.state == KeyState::Active);
        let Some(key) = active else {
            findings.push(
                Finding::warn(
                    format!("no active {} key yet", purpose.as_str()),
                    "kunci serve creates it on first start",
                )
                .code("no_active_key")
                .arg("purpose", purpose.as_str()),
            );
            continue;
        };
        let since = key.activated_at.unwrap_or(key.created_at);
        let days = (now - since) / 86_400;
        // The schedule runs every minute on a live server: a day late means none ran it.
        if rotation_days > 0 && days > i64::from(rotation_days) {
            findings.push(Finding::fail(
                format!(
                    "the active {} key {} is {days} days old; rotation is every {rotation_days}",
                    purpose.as_str(),
                    key.kid
                ),
                "kunci keys rotate (and check a server is running: it rotates on schedule)",
            )
            .code("key_overdue")
            .arg("purpose", purpose.as_str())
            .arg("days", days)
            .arg("rotation", rotation_days));
        } else {
            findings.push(
                Finding::pass(format!(
                    "the active {} key is {days} days old",
                    purpose.as_str()
                ))
                .code("key_age")
                .arg("purpose", purpose.as_str())
                .arg("days", days),
            );
        }
    }
    findings
}

/// Administrators who sign in with a password alone (SPEC §12: an administrator's account is
/// the one an attacker wants most).
pub fn admins_without_second_factor(names: &[String]) -> Vec<Finding> {
    if names.is_empty() {
        return vec![
            Finding::pass("every administrator has a second factor").code("admins_have_mfa"),
        ];
    }
    vec![Finding::warn(
        format!(
            "administrator(s) without a second factor: {}",
            names.join(", ")
        ),
        "each enrols an authenticator app on their own page (/account);          security.require_mfa_for asks them at their next sign-in",
    )
    .code("admins_without_mfa")
    .arg("names", names.join(", "))]
}

/// The scheduled backups: on in production, the newest one no older than two intervals, and
/// made under this deployment's master key (`fingerprint`, when it is known).
pub fn backups(
    dir: &Path,
    interval_hours: u32,
    environment: Environment,
    fingerprint: Option<&str>,
    now: i64,
) -> Vec<Finding> {
    if interval_hours == 0 {
        return if environment == Environment::Production {
            vec![
                Finding::warn(
                    "no scheduled backups (backup.interval_hours = 0)",
                    "set backup.interval_hours (24 is usual) and copy backup.dir off the machine, \
                 or run `kunci backup create` from cron",
                )
                .code("backups_off"),
            ]
        } else {
            Vec::new()
        };
    }
    let newest = crate::backup::scheduled_files(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| backup_header(p))
        .max_by_key(|h| h.created_at);
    let Some(newest) = newest else {
        return vec![
            Finding::warn(
                format!("no backup in {} yet", dir.display()),
                "kunci serve writes one every backup.interval_hours; or run `kunci backup create`",
            )
            .code("no_backup_yet"),
        ];
    };
    let mut findings = Vec::new();
    let hours = (now - newest.created_at) / 3600;
    if hours > 2 * i64::from(interval_hours) {
        findings.push(
            Finding::fail(
                format!(
                    "the newest backup is {hours} hours old; backups are due every {interval_hours}"
                ),
                "check the server log for backup_failed, and that a server is running",
            )
            .code("backup_overdue")
            .arg("hours", hours)
            .arg("interval", interval_hours),
        );
    } else {
        findings.push(
            Finding::pass(format!("the newest backup is {hours} hours old"))
                .code("backup_fresh")
                .arg("hours", hours),
        );
    }
    if let Some(ours) = fingerprint
        && newest.fingerprint.to_string() != ours
    {
        findings.push(
            Finding::fail(
                format!(
                    "the newest backup was made with another master key ({}; this one is {ours})",
                    newest.fingerprint
                ),
                "back up under this deployment's key: `kunci backup create`",
            )
            .code("backup_other_key"),
        );
    }
    findings
}

/// The header of a backup file, if it is one.
fn backup_header(path: &Path) -> Option<kunci_crypto::backup::Header> {
    use std::io::{BufRead as _, Read as _};
    let file = std::fs::File::open(path).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(file)
        .take(512)
        .read_line(&mut line)
        .ok()?;
    kunci_crypto::backup::Header::parse(&line).ok()
}

/// Whether Redis keeps what kunci puts there when it holds the sessions.
pub async fn redis_persistence(loaded: &Loaded) -> Vec<Finding> {
    let data = &loaded.config.data;
    let (SessionStoreKind::Redis, Some(url)) = (data.session_store, &data.redis_url) else {
        return Vec::new();
    };
    let Ok(server) = kunci_store::RedisServer::new(url.expose(), &data.redis_prefix) else {
        return vec![
            Finding::fail("data.redis_url is not a Redis URL", "fix the URL").code("redis_url"),
        ];
    };
    let Ok((aof, save)) = server.persistence().await else {
        return vec![
            Finding::warn(
                "Redis did not answer: its persistence was not checked",
                "run doctor where it can reach Redis",
            )
            .code("redis_unreachable"),
        ];
    };
    match (aof.as_deref(), save.as_deref()) {
        (None, None) => vec![
            Finding::warn(
                "Redis refused CONFIG GET: its persistence was not checked",
                "check appendonly/save on the Redis server",
            )
            .code("redis_config_refused"),
        ],
        (Some("yes"), _) => {
            vec![Finding::pass("Redis persists sessions (appendonly)").code("redis_persists")]
        }
        (_, Some(save)) if !save.trim().is_empty() => {
            vec![Finding::pass("Redis persists sessions (snapshots)").code("redis_persists")]
        }
        _ => vec![
            Finding::warn(
                "Redis keeps sessions in memory only: a Redis restart logs everyone out",
                "appendonly yes (or save) on the Redis server",
            )
            .code("redis_memory_only"),
        ],
    }
}

/// The administrators without a confirmed second factor.
pub async fn second_factors(database: &kunci_store::Database) -> Vec<Finding> {
    use kunci_domain::accounts::AccountStore as _;
    use kunci_domain::factors::FactorStore as _;
    let Ok(accounts) = database.list().await else {
        return Vec::new();
    };
    let mut bare = Vec::new();
    for account in accounts
        .iter()
        .filter(|a| !a.disabled && a.scopes.contains(&kunci_domain::session::Scope::Admin))
    {
        let confirmed = database
            .totp(&account.id)
            .await
            .ok()
            .flatten()
            .is_some_and(|t| t.confirmed_at.is_some());
        if !confirmed {
            bare.push(account.username.clone());
        }
    }
    admins_without_second_factor(&bare)
}
