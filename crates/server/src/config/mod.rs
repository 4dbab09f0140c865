//! Configuration: typed, layered, validated, documented (SPEC §1).
//!
//! - [`schema`] lists every key once: kind, default, secrecy, meaning;
//! - [`load`] reads the layers and collects every problem with its file or variable;
//! - this module turns the merged layers into the typed sections below, in the order the
//!   server initialises them, and runs the checks that span several keys;
//! - [`show`] prints the effective configuration, masked, with where each value came from.
//!
//! Nothing outside this module reads configuration files or `KUNCI__…` variables.

pub mod docs;
pub mod kinds;
pub mod load;
pub mod rules;
pub mod schema;
pub mod show;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use kunci_crypto::SecretString;
use kunci_domain::environment::Environment;
use serde::{Deserialize, Deserializer};

use load::Layers;
pub use load::{ConfigError, ConfigErrors, EncryptedLayer, LoadInput, Source};

/// The whole configuration, one struct per section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub logger: LoggerConfig,
    pub environment: EnvironmentConfig,
    pub data: DataConfig,
    pub notification: NotificationConfig,
    pub security: SecurityConfig,
    pub audit: AuditConfig,
    pub upstream: UpstreamSection,
    pub search: SearchConfig,
    pub metrics: MetricsConfig,
    pub backup: BackupConfig,
}

/// `[backup]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    pub interval_hours: u32,
    pub dir: PathBuf,
    pub keep: u32,
}

/// `[metrics]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    #[serde(default, deserialize_with = "optional_secret")]
    pub token: Option<SecretString>,
}

/// `[upstream.<name>]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub adapter: Option<UpstreamKind>,
    /// Who may call it; `user` when unset.
    pub scope: Option<kunci_domain::session::Scope>,
    pub base_url: Option<String>,
    #[serde(default, deserialize_with = "optional_secret")]
    pub cx: Option<SecretString>,
    pub key_header: Option<String>,
    pub key_query: Option<String>,
    #[serde(default, deserialize_with = "statuses")]
    pub quota_statuses: Option<Vec<u16>>,
    #[serde(default, deserialize_with = "statuses")]
    pub invalid_statuses: Option<Vec<u16>>,
    pub reset: Option<ResetKind>,
    pub reset_secs: Option<i64>,
    pub reset_hour_utc: Option<u8>,
    pub reset_zone: Option<String>,
    pub reset_hour: Option<u8>,
    pub key_pattern: Option<String>,
    pub test_path: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    GoogleCse,
    Generic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetKind {
    RetryAfter,
    Cooldown,
    DailyUtc,
    Daily,
}

/// Statuses as numbers or numeric strings (a variable gives strings).
fn statuses<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u16>>, D::Error> {
    let values = Option::<Vec<serde_json::Value>>::deserialize(d)?;
    values
        .map(|values| {
            values
                .iter()
                .map(|v| match v {
                    serde_json::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                    serde_json::Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .collect::<Option<Vec<u16>>>()
                .ok_or_else(|| serde::de::Error::custom("expected HTTP statuses"))
        })
        .transpose()
}

/// `[search]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub cache_secs: i64,
}

/// `[upstream]`: `default_search`, and a table per upstream (`[upstream.<name>]`).
#[derive(Debug, Clone, Default)]
pub struct UpstreamSection {
    /// The upstream behind `GET /api/v1/search`.
    pub default_search: String,
    pub by_name: BTreeMap<String, UpstreamConfig>,
}

impl<'de> Deserialize<'de> for UpstreamSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut tables = BTreeMap::<String, toml::Value>::deserialize(d)?;
        let default_search = match tables.remove("default_search") {
            Some(toml::Value::String(name)) => name,
            Some(_) => return Err(D::Error::custom("`default_search` is a name")),
            None => "google".to_owned(),
        };
        let by_name = tables
            .into_iter()
            .map(|(name, table)| {
                UpstreamConfig::deserialize(table)
                    .map(|config| (name.clone(), config))
                    .map_err(|err| D::Error::custom(format!("`upstream.{name}`: {err}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            default_search,
            by_name,
        })
    }
}

/// `[notification]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationConfig {
    pub log_events: Vec<String>,
    #[serde(default, deserialize_with = "optional_secret")]
    pub webhook_url: Option<SecretString>,
    #[serde(default, deserialize_with = "optional_secret")]
    pub webhook_secret: Option<SecretString>,
    pub webhook_events: Vec<String>,
    pub webhook_timeout_secs: u64,
    pub webhook_retries: u32,
    #[serde(default, deserialize_with = "optional_secret")]
    pub smtp_url: Option<SecretString>,
    pub smtp_from: Option<String>,
    pub smtp_to: Vec<String>,
    pub smtp_events: Vec<String>,
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub retention_days: u32,
}

/// `[security]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    pub master_key_command: Option<String>,
    pub master_key_command_timeout_secs: u64,
    pub password_hash_parallel: usize,
    pub password_min_length: usize,
    pub api_requests_per_second: u32,
    pub api_burst: u32,
    pub login_requests_per_minute: u32,
    pub new_browsers_per_minute: u32,
    pub lockout_threshold: u32,
    pub lockout_window_minutes: i64,
    pub lockout_hours: i64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub auth_token_minutes: i64,
    pub refresh_token_days: i64,
    pub refresh_family_days: i64,
    pub refresh_grace_secs: i64,
    pub jwt_audience: String,
    pub key_rotation_days: u32,
    pub key_reload_secs: u64,
}

/// `[logger]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggerConfig {
    pub level: Level,
    pub format: LogFormat,
    pub color: LogColor,
    /// Per-module levels. The only defaulted field: an empty table has no entries to load.
    #[serde(default)]
    pub modules: BTreeMap<String, Level>,
    pub file: LogFileConfig,
}

/// `logger.color`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogColor {
    Auto,
    Always,
    Never,
}

/// `[logger.file]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFileConfig {
    pub dir: Option<PathBuf>,
    pub rotation: Rotation,
    pub keep: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    Daily,
    Hourly,
}

/// `environment.default_language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Id,
}

/// `[environment]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub bind: SocketAddr,
    pub public_url: String,
    pub trusted_proxies: Vec<String>,
    pub cors_origins: Vec<String>,
    pub instances: u32,
    pub shutdown_timeout_secs: u64,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub header_read_timeout_secs: u64,
    pub default_language: Language,
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
}

/// `[data]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    #[serde(deserialize_with = "secret")]
    pub database_url: SecretString,
    pub max_connections: u32,
    pub session_store: SessionStoreKind,
    pub session_dir: PathBuf,
    #[serde(default, deserialize_with = "optional_secret")]
    pub redis_url: Option<SecretString>,
    pub redis_prefix: String,
    pub memcached_url: Option<String>,
    pub cache: CacheKind,
}

/// `data.cache`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheKind {
    Memory,
    Redis,
}

/// `data.session_store`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStoreKind {
    Sql,
    Redis,
    Memcached,
    Memory,
    Filesystem,
    Null,
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::new)
}

fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(SecretString::new))
}

/// A loaded configuration and the layers it came from (for `config show`).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub layers: Layers,
    pub environment: Environment,
    pub root: PathBuf,
}

/// Where the master key may come from (`security.master_key_command` and its timeout): all
/// that the `env` commands need of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySettings {
    pub command: Option<String>,
    pub command_timeout_secs: u64,
}

impl KeySettings {
    pub fn of(config: &Config) -> Self {
        Self {
            command: config.security.master_key_command.clone(),
            command_timeout_secs: config.security.master_key_command_timeout_secs,
        }
    }
}

/// The [`KeySettings`] of the plain layers (files and variables). Secrets are often written
/// before the environment's configuration exists, and may hold the values it lacks: only a
/// problem with these two keys, or a config file that cannot be read at all, stops the `env`
/// commands; the rest of the configuration is judged by `serve` and `config check`.
pub fn key_settings(input: &LoadInput) -> Result<KeySettings, ConfigErrors> {
    let (layers, errors) = Layers::read_all(input);
    let blocking: Vec<ConfigError> = errors
        .into_iter()
        .filter(|e| match &e.key {
            Some(key) => key.starts_with("security.master_key_command"),
            None => e.origin.starts_with("config/"),
        })
        .collect();
    if !blocking.is_empty() {
        return Err(ConfigErrors(blocking));
    }
    let entry = |key: &str| layers.entries.get(key).map(|e| e.value.clone());
    Ok(KeySettings {
        command: entry("security.master_key_command").and_then(|v| v.as_str().map(str::to_owned)),
        command_timeout_secs: entry("security.master_key_command_timeout_secs")
            .and_then(|v| v.as_integer())
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(30),
    })
}

impl Loaded {
    /// Secrets written in a plain config file of a deployed environment: they belong in the
    /// encrypted `.env.<env>.enc` (where `config check` and the doctor say to move them). The
    /// dotted keys and the file each came from.
    pub fn plaintext_secrets(&self) -> Vec<(String, String)> {
        if !self.environment.is_deployed() {
            return Vec::new();
        }
        let mut found: Vec<(String, String)> = self
            .layers
            .entries
            .iter()
            .filter(|(_, entry)| {
                entry.key.secret && matches!(entry.source, Source::File(_)) && holds_secret(entry)
            })
            .map(|(key, entry)| (key.clone(), entry.source.to_string()))
            .collect();
        found.sort();
        found
    }
}

/// Whether a secret key's value holds a secret: a URL only when it carries a password
/// (`postgres://kunci@db/kunci` does not).
fn holds_secret(entry: &load::Entry) -> bool {
    let Some(text) = entry.value.as_str() else {
        return true;
    };
    match text.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            authority
                .rsplit_once('@')
                .is_some_and(|(userinfo, _)| userinfo.contains(':'))
        }
        None => !text.is_empty(),
    }
}

/// Reads and validates every layer. Errors list every problem found.
pub fn load(input: &LoadInput) -> Result<Loaded, ConfigErrors> {
    let mut layers = Layers::read(input)?;
    rules::cross_checks(&mut layers, input.environment);
    let tree = to_json(&layers);
    let errors = layers.take_errors();
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    // The registry and the structs are kept in step by tests; a mismatch here is a bug in
    // kunci, reported as such rather than blamed on the user's files.
    let config = serde_json::from_value::<Config>(tree).map_err(|err| {
        ConfigErrors(vec![ConfigError {
            origin: "kunci".to_owned(),
            key: None,
            problem: format!(
                "internal error: the key registry and the config structs differ: {err}"
            ),
        }])
    })?;
    Ok(Loaded {
        config,
        layers,
        environment: input.environment,
        root: input.root.clone(),
    })
}

/// The merged layers as a JSON tree for serde.
fn to_json(layers: &Layers) -> serde_json::Value {
    let mut root = serde_json::Map::new();
    // Every fixed table exists, even when all its keys are unset, so serde sees `None`s.
    for key in schema::KEYS {
        let segments: Vec<&str> = key.segments().collect();
        let fixed: Vec<&str> = segments[..segments.len() - 1]
            .iter()
            .take_while(|s| **s != "*")
            .copied()
            .collect();
        insert(&mut root, &fixed, None);
    }
    for (dotted, entry) in &layers.entries {
        let segments: Vec<&str> = dotted.split('.').collect();
        insert(&mut root, &segments, Some(toml_to_json(&entry.value)));
    }
    serde_json::Value::Object(root)
}

/// Puts `value` at `path` (creating tables on the way); without a value, only the tables.
fn insert(
    node: &mut serde_json::Map<String, serde_json::Value>,
    path: &[&str],
    value: Option<serde_json::Value>,
) {
    match (path, value) {
        ([], _) => {}
        ([last], Some(value)) => {
            node.insert((*last).to_owned(), value);
        }
        ([first, rest @ ..], value) => {
            let child = node
                .entry((*first).to_owned())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if let serde_json::Value::Object(map) = child {
                insert(map, rest, value);
            }
        }
    }
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::from(s.as_str()),
        toml::Value::Integer(n) => serde_json::Value::from(*n),
        toml::Value::Float(f) => serde_json::Value::from(*f),
        toml::Value::Boolean(b) => serde_json::Value::from(*b),
        toml::Value::Datetime(d) => serde_json::Value::from(d.to_string()),
        toml::Value::Array(items) => items.iter().map(toml_to_json).collect(),
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
