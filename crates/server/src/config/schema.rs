//! The registry of configuration keys: what each key is, its default, whether it is secret,
//! and what it means. Validation, `config show`, the environment-variable names and
//! `docs/configuration.md` are all derived from this one list, so they cannot disagree.
//!
//! A `*` segment stands for a name the user chooses (`logger.modules.<module>`).

pub use super::kinds::{Item, Key, Kind};

/// The sections, in the order the server initialises them (SPEC §1).
pub static SECTIONS: &[Section] = &[
    Section {
        name: "logger",
        doc: "Logging: level, per-module levels, format, optional rolling file.",
    },
    Section {
        name: "environment",
        doc: "How the instance meets the network: bind address, public URL, proxies, CORS.",
    },
    Section {
        name: "data",
        doc: "Where data lives: the database, Redis.",
    },
    Section {
        name: "notification",
        doc: "Who hears of locked accounts, exhausted API keys, key rotations, failed backups: \
              the log, a webhook, e-mail.",
    },
    Section {
        name: "security",
        doc: "Keys and secrets: where the master key comes from in deployed environments.",
    },
    Section {
        name: "audit",
        doc: "The audit log: how long client-IP hashes are kept.",
    },
    Section {
        name: "upstream",
        doc: "Third-party APIs served from the API-key pool: the default search, and one table \
              per upstream name (`[upstream.google]`).",
    },
    Section {
        name: "search",
        doc: "`GET /api/v1/search`: how long answers are cached.",
    },
    Section {
        name: "backup",
        doc: "Scheduled encrypted backups of the database: how often, where, how many.",
    },
    Section {
        name: "metrics",
        doc: "`GET /metrics` (Prometheus text): who may read it.",
    },
];

#[derive(Debug)]
pub struct Section {
    pub name: &'static str,
    pub doc: &'static str,
}

pub const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];

/// Every key, grouped by section in [`SECTIONS`] order.
pub static KEYS: &[Key] = &[
    // [logger]
    Key::new("logger.level", Kind::Enum(LEVELS), Some("\"info\""))
        .doc("Minimum level logged, for every module without its own entry below."),
    Key::new(
        "logger.format",
        Kind::Enum(&["pretty", "json"]),
        Some("\"pretty\""),
    )
    .doc("`pretty` for people, `json` (one object a line) for log collectors."),
    Key::new(
        "logger.color",
        Kind::Enum(&["auto", "always", "never"]),
        Some("\"auto\""),
    )
    .doc("ANSI colours in the console log: `auto` only when standard error is a terminal."),
    Key::new("logger.modules.*", Kind::Enum(LEVELS), None).doc(
        "Level for one module, overriding `logger.level`: `modules.sqlx = \"warn\"`, \
         `modules.kunci_web = \"debug\"`.",
    ),
    Key::new("logger.file.dir", Kind::Path, None)
        .doc("Also write the log to rolling files in this folder (relative to the project root)."),
    Key::new(
        "logger.file.rotation",
        Kind::Enum(&["daily", "hourly"]),
        Some("\"daily\""),
    )
    .doc("How often a new log file is started."),
    Key::new(
        "logger.file.keep",
        Kind::Integer { min: 1, max: 1000 },
        Some("14"),
    )
    .doc("How many log files are kept; older ones are deleted."),
    // [environment]
    Key::new(
        "environment.bind",
        Kind::SocketAddr,
        Some("\"127.0.0.1:8080\""),
    )
    .doc("Address and port the server listens on."),
    Key::new(
        "environment.public_url",
        Kind::HttpUrl,
        Some("\"http://127.0.0.1:8080\""),
    )
    .doc("The URL users reach the site at (behind a proxy: the proxy's URL)."),
    Key::new(
        "environment.trusted_proxies",
        Kind::List(Item::Cidr),
        Some("[]"),
    )
    .doc(
        "Networks (CIDR) of reverse proxies whose `X-Forwarded-*` headers are believed. \
         Empty: the peer address is the client.",
    ),
    Key::new(
        "environment.cors_origins",
        Kind::List(Item::Origin),
        Some("[]"),
    )
    .doc(
        "Origins (`https://app.example.com`) allowed to call the API from a browser. Empty: no \
         cross-origin access.",
    ),
    Key::new(
        "environment.instances",
        Kind::Integer {
            min: 1,
            max: 10_000,
        },
        Some("1"),
    )
    .doc(
        "How many kunci instances serve this site together. Above 1, every store must be shared \
         (sessions in `sql` on PostgreSQL, or `redis`): kunci refuses to start otherwise.",
    ),
    Key::new(
        "environment.max_connections",
        Kind::Integer { min: 1, max: 1_000_000 },
        Some("4096"),
    )
    .doc("The most connections open at once; past it a new one is closed at once."),
    Key::new(
        "environment.max_connections_per_address",
        Kind::Integer { min: 1, max: 1_000_000 },
        Some("256"),
    )
    .doc(
        "The most connections open at once from one client address (the TCP peer). A peer in \
         `environment.trusted_proxies` is held to `environment.max_connections` only.",
    ),
    Key::new(
        "environment.header_read_timeout_secs",
        Kind::Integer { min: 1, max: 3600 },
        Some("10"),
    )
    .doc(
        "How long a client may take to send a request's head, and stay idle between requests, \
         before it is disconnected (a slow trickle of headers cannot hold a connection).",
    ),
    Key::new(
        "environment.default_language",
        Kind::Enum(&["en", "id"]),
        Some("\"en\""),
    )
    .doc(
        "The language of the pages for a visitor who has not chosen one (the `kunci_lang` \
         cookie) and whose browser asks for neither English nor Indonesian (`Accept-Language`), \
         and of the notification mails.",
    ),
    Key::new(
        "environment.shutdown_timeout_secs",
        Kind::Integer { min: 1, max: 3600 },
        Some("30"),
    )
    .doc("On SIGTERM/SIGINT, how long requests in flight may take to finish."),
    Key::new("environment.tls_cert", Kind::Path, None).doc(
        "Serve HTTPS directly: the certificate chain, PEM, leaf first (relative to the project \
         root). Set with `environment.tls_key`; unset (the default) serves plain HTTP, for \
         deployments behind a reverse proxy that terminates TLS.",
    ),
    Key::new("environment.tls_key", Kind::Path, None).doc(
        "The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1). It must be readable by \
         its owner only (mode 0600), like the master key.",
    ),
    // [data]
    Key::new(
        "data.database_url",
        Kind::DatabaseUrl,
        Some("\"sqlite://instance/kunci.db\""),
    )
    .secret()
    .doc(
        "`sqlite://PATH` (relative to the project root), `postgres://USER:PASSWORD@HOST/DB` or \
             `mysql://USER:PASSWORD@HOST/DB` (MariaDB 10.6+ or MySQL 8; `mariadb://` too). The \
             password is masked wherever the URL is shown.",
    ),
    Key::new(
        "data.max_connections",
        Kind::Integer { min: 1, max: 1000 },
        Some("10"),
    )
    .doc("Size of the database connection pool (SQLite uses at most 8)."),
    Key::new(
        "data.session_store",
        Kind::Enum(&["sql", "redis", "memcached", "memory", "filesystem", "null"]),
        Some("\"sql\""),
    )
    .doc(
        "Where sessions live: `sql` (the database above), `redis` (needs `data.redis_url`), \
         `memcached` (needs `data.memcached_url`; may evict sessions under memory pressure), \
         `memory` (one instance, lost on restart), `filesystem` (one machine, `data.session_dir`), \
         `null` (keeps nothing; development and test only).",
    ),
    Key::new(
        "data.session_dir",
        Kind::Path,
        Some("\"instance/sessions\""),
    )
    .doc("Folder of the `filesystem` session store (relative to the project root)."),
    Key::new("data.redis_url", Kind::RedisUrl, None)
        .secret()
        .doc(
            "`redis://[:PASSWORD@]HOST[:PORT][/DB]`. Set it when several instances share state; \
         `/readyz` then checks it too.",
        ),
    Key::new("data.memcached_url", Kind::MemcachedUrl, None)
        .doc("`memcache://HOST:PORT`, for the `memcached` session store."),
    Key::new(
        "data.cache",
        Kind::Enum(&["memory", "redis"]),
        Some("\"memory\""),
    )
    .doc(
        "Where answers of identical upstream calls are kept (`search.cache_secs`): `memory` (this \
         instance's) or `redis` (`data.redis_url`, shared by every instance, which then also \
         make one upstream call for concurrent identical misses).",
    ),
    Key::new("data.redis_prefix", Kind::Prefix, Some("\"kunci:\"")).doc(
        "Prefix of every Redis and memcached key kunci writes, so deployments can share a server.",
    ),
    // [notification]
    Key::new(
        "notification.log_events",
        Kind::List(Item::Event),
        Some("[\"*\"]"),
    )
    .doc(
        "Notification kinds written to the log (at warn level): names from `account_locked`, \
         `api_keys_exhausted`, `api_keys_recovered`, `api_key_invalid`, `refresh_token_reuse`, \
         `signing_key_rotated`, `backup_failed`, or `*` for all; `[]` for none.",
    ),
    Key::new("notification.webhook_url", Kind::HttpUrl, None)
        .secret()
        .doc(
            "POST each notification as JSON to this URL (masked when shown: such URLs often \
             hold a token). Signed with `webhook_secret` in `X-Kunci-Signature`.",
        ),
    Key::new(
        "notification.webhook_secret",
        Kind::Secret { min_len: 16 },
        None,
    )
    .secret()
    .doc("The HMAC-SHA256 key of the webhook signature (at least 16 characters); required with `webhook_url`."),
    Key::new(
        "notification.webhook_events",
        Kind::List(Item::Event),
        Some("[\"*\"]"),
    )
    .doc("Notification kinds sent to the webhook (as `log_events`)."),
    Key::new(
        "notification.webhook_timeout_secs",
        Kind::Integer { min: 1, max: 60 },
        Some("5"),
    )
    .doc("How long one webhook delivery attempt may take."),
    Key::new(
        "notification.webhook_retries",
        Kind::Integer { min: 0, max: 10 },
        Some("3"),
    )
    .doc("Further attempts after a failed delivery, 1 s, 2 s, 4 s … apart."),
    Key::new("notification.smtp_url", Kind::SmtpUrl, None)
        .secret()
        .doc(
            "Send notifications by e-mail through this server: `smtps://USER:PASSWORD@HOST:465` \
             (TLS), `smtp://USER:PASSWORD@HOST:587?tls=required` (STARTTLS) or `smtp://HOST:25` \
             (plain, loopback only).",
        ),
    Key::new("notification.smtp_from", Kind::Email, None)
        .doc("The sender address of notification mails; required with `smtp_url`."),
    Key::new("notification.smtp_to", Kind::List(Item::Email), Some("[]"))
        .doc("The recipients of notification mails; at least one with `smtp_url`."),
    Key::new(
        "notification.smtp_events",
        Kind::List(Item::Event),
        Some("[\"*\"]"),
    )
    .doc("Notification kinds sent by e-mail (as `log_events`)."),
    // [security]
    Key::new("security.master_key_command", Kind::Command, None).doc(
        "A command whose standard output is the master key (the hook for a secret manager, e.g. \
         `vault kv get -field=key secret/kunci`). Run with `sh -c` when neither \
         KUNCI_MASTER_KEY nor KUNCI_MASTER_KEY_FILE is set; its standard error is never shown.",
    ),
    Key::new(
        "security.master_key_command_timeout_secs",
        Kind::Integer { min: 1, max: 300 },
        Some("10"),
    )
    .doc("How long `master_key_command` may run."),
    Key::new(
        "security.password_min_length",
        Kind::Integer { min: 1, max: 256 },
        Some("12"),
    )
    .doc(
        "The fewest characters a password set by `kunci user add` or `kunci user passwd` may \
         have (passwords are at most 256 bytes).",
    ),
    Key::new(
        "security.password_hash_parallel",
        Kind::Integer { min: 1, max: 64 },
        Some("2"),
    )
    .doc(
        "At most this many passwords are hashed at once (each Argon2id hash takes 19 MiB and a \
         core for tens of milliseconds); further logins wait their turn, so a login storm never \
         starves the rest of the site.",
    ),
    Key::new(
        "security.api_requests_per_second",
        Kind::Integer { min: 1, max: 100_000 },
        Some("100"),
    )
    .doc(
        "Requests per second one client address may make to `/api/`, sustained (beyond the \
         burst: 429 `rate_limited` with `Retry-After`).",
    ),
    Key::new(
        "security.api_burst",
        Kind::Integer {
            min: 1,
            max: 1_000_000,
        },
        Some("200"),
    )
    .doc("Requests one client address may make to `/api/` at once."),
    Key::new(
        "security.login_requests_per_minute",
        Kind::Integer { min: 1, max: 100_000 },
        Some("5"),
    )
    .doc(
        "Login requests (`POST /login`, `login_web`, `login_mobile`) per minute from one client \
         address, right or wrong. Shared through Redis when configured, per instance otherwise.",
    ),
    Key::new(
        "security.new_browsers_per_minute",
        Kind::Integer { min: 1, max: 100_000 },
        Some("60"),
    )
    .doc(
        "New browsers per minute from one client address: each first page visit without a \
         session stores one (SPEC §4 step 3). Beyond it: 429 `rate_limited` with `Retry-After`, \
         and nothing is stored. Raise it where many people share one address (a NAT).",
    ),
    Key::new(
        "security.lockout_threshold",
        Kind::Integer { min: 1, max: 100 },
        Some("5"),
    )
    .doc(
        "Failed logins within `lockout_window_minutes` that lock an account name (existing or \
         not) for `lockout_hours`. Browsers that logged in to the account before keep a budget \
         of their own (device cookies).",
    ),
    Key::new(
        "security.lockout_window_minutes",
        Kind::Integer { min: 1, max: 1_440 },
        Some("15"),
    )
    .doc("The window failed logins are counted in."),
    Key::new(
        "security.lockout_hours",
        Kind::Integer { min: 1, max: 720 },
        Some("12"),
    )
    .doc("How long a locked name stays locked (`kunci user unlock NAME` lifts it earlier)."),
    Key::new(
        "security.session_idle_minutes",
        Kind::Integer {
            min: 1,
            max: 10_080,
        },
        Some("30"),
    )
    .doc("A session ends after this long without a request."),
    Key::new(
        "security.session_absolute_hours",
        Kind::Integer { min: 1, max: 8_760 },
        Some("12"),
    )
    .doc("A session ends this long after it began, whatever happens."),
    Key::new(
        "security.auth_token_minutes",
        Kind::Integer { min: 1, max: 1_440 },
        Some("15"),
    )
    .doc(
        "Lifetime of the `kunci_auth` token; a valid session gets a new one silently when it \
         expires.",
    ),
    Key::new(
        "security.refresh_token_days",
        Kind::Integer { min: 1, max: 365 },
        Some("30"),
    )
    .doc("A mobile app's refresh token expires after this many days unused (each use makes a new one)."),
    Key::new(
        "security.refresh_family_days",
        Kind::Integer { min: 1, max: 3_650 },
        Some("90"),
    )
    .doc(
        "However often it refreshes, an app must log in again this many days after it did: the \
         absolute lifetime of a refresh-token family.",
    ),
    Key::new(
        "security.refresh_grace_secs",
        Kind::Integer { min: 0, max: 60 },
        Some("5"),
    )
    .doc(
        "Within this many seconds, the refresh token just used, presented again by the same app, \
         gets the same new pair (concurrent refreshes) instead of revoking the family as stolen.",
    ),
    Key::new("security.jwt_audience", Kind::Prefix, Some("\"kunci\""))
        .doc("The `aud` of access tokens (their `iss` is the origin of `environment.public_url`)."),
    Key::new(
        "security.key_rotation_days",
        Kind::Integer { min: 0, max: 3_650 },
        Some("30"),
    )
    .doc("Rotate the signing keys automatically after this many days; 0: only by hand."),
    Key::new(
        "security.key_reload_secs",
        Kind::Integer { min: 1, max: 60 },
        Some("1"),
    )
    .doc(
        "How often each instance re-reads the signing keys from the database, so a rotation \
         made elsewhere is seen within this time.",
    ),
    // [audit]
    Key::new(
        "audit.retention_days",
        Kind::Integer { min: 1, max: 3_650 },
        Some("30"),
    )
    .doc(
        "Client-IP hashes in audit entries older than this are erased (the entries stay, and \
         the chain still verifies).",
    ),
    // [upstream]
    Key::new("upstream.default_search", Kind::Prefix, Some("\"google\"")).doc(
        "The upstream (a `[upstream.<name>]` table) that answers `GET /api/v1/search`. No \
         upstream may be named `default_search`.",
    ),
    Key::new(
        "upstream.*.adapter",
        Kind::Enum(&["google_cse", "generic"]),
        None,
    )
    .doc(
        "The adapter of upstream `<name>`: `google_cse` (Google Custom Search JSON API; keys \
         travel in `X-Goog-Api-Key`) or `generic` (any HTTP API, described by the keys below; \
         served at `/api/v1/proxy/<name>/…`). Keys are added with `kunci apikey add <name>` or \
         on `/admin/keys`.",
    ),
    Key::new("upstream.*.scope", Kind::Enum(&["basic", "user", "admin"]), None).doc(
        "Who may call upstream `<name>`: `user` (logged-in accounts and service clients; the \
         default), `basic` (every bootstrapped browser too, e.g. a public search box, still under \
         the per-IP limits) or `admin`.",
    ),
    Key::new("upstream.*.base_url", Kind::HttpUrl, None).doc(
        "The endpoint: required for `generic`; for `google_cse` only to replace Google's own \
         (a test double).",
    ),
    Key::new("upstream.*.key_header", Kind::HeaderSpec, None).doc(
        "`generic`: the header that carries the key, `Name` (the key as the value) or \
         `Name: template` with `{key}` in it, e.g. `Authorization: Bearer {key}` (the default) \
         or `X-Subscription-Token`.",
    ),
    Key::new("upstream.*.key_query", Kind::Prefix, None).doc(
        "`generic`: send the key as this query parameter instead (only for APIs that accept \
         nothing else: URLs end up in other people's logs).",
    ),
    Key::new("upstream.*.quota_statuses", Kind::List(Item::Status), None)
        .doc("`generic`: answers that mean the key's quota is spent (default `[429]`)."),
    Key::new("upstream.*.invalid_statuses", Kind::List(Item::Status), None)
        .doc("`generic`: answers that mean the key itself is refused (default `[401, 403]`)."),
    Key::new(
        "upstream.*.reset",
        Kind::Enum(&["retry_after", "cooldown", "daily", "daily_utc"]),
        None,
    )
    .doc(
        "`generic`: when a key that hit its quota is tried again: `retry_after` (the answer's \
         `Retry-After`, else `reset_secs`; the default), `cooldown` (`reset_secs`), `daily` \
         (the next `reset_hour` in `reset_zone`; budgets count per such day), or `daily_utc` \
         (the next `reset_hour_utc`).",
    ),
    Key::new(
        "upstream.*.reset_secs",
        Kind::Integer { min: 1, max: 86_400 },
        None,
    )
    .doc("`generic`: the rest of a throttled key for `retry_after` without a header, and `cooldown` (default 60)."),
    Key::new(
        "upstream.*.reset_hour_utc",
        Kind::Integer { min: 0, max: 23 },
        None,
    )
    .doc("`generic` with `daily_utc`: the hour (UTC) at which quotas reset (default 0)."),
    Key::new("upstream.*.reset_zone", Kind::TimeZone, None).doc(
        "`generic` with `daily`: the IANA time zone of the reset (`America/Los_Angeles`, \
         `Europe/Berlin`; default `UTC`). Daylight saving is followed.",
    ),
    Key::new(
        "upstream.*.reset_hour",
        Kind::Integer { min: 0, max: 23 },
        None,
    )
    .doc("`generic` with `daily`: the local hour in `reset_zone` at which quotas reset (default 0)."),
    Key::new("upstream.*.key_pattern", Kind::Pattern, None).doc(
        "`generic`: a regular expression every key must match entirely before it is stored \
         (e.g. `sk-[A-Za-z0-9_-]{20,}`); without it, 8 to 512 printable characters.",
    ),
    Key::new("upstream.*.test_path", Kind::UpstreamPath, None).doc(
        "`generic`: a cheap `GET` below `base_url` that tests a key from the settings page \
         (e.g. `models`, or `res/v1/web/search?q=test&count=1`); without it keys cannot be tested.",
    ),
    Key::new("upstream.*.cx", Kind::Secret { min_len: 1 }, None)
        .secret()
        .doc("`google_cse`: the Programmable Search Engine id. Keep it in the encrypted env file."),
    // [search]
    Key::new(
        "search.cache_secs",
        Kind::Integer { min: 0, max: 86_400 },
        Some("3600"),
    )
    .doc("Identical searches within this many seconds are answered from the cache (0: never)."),
    // [backup]
    Key::new(
        "backup.interval_hours",
        Kind::Integer { min: 0, max: 8_760 },
        Some("0"),
    )
    .doc("Take an encrypted backup every this many hours while the server runs (0: never)."),
    Key::new("backup.dir", Kind::Path, Some("\"instance/backups\""))
        .doc("Where scheduled backups go (relative to the project folder), as `kunci-<time>.kbk`."),
    Key::new("backup.keep", Kind::Integer { min: 1, max: 10_000 }, Some("7"))
        .doc("How many scheduled backups to keep; older ones are deleted after each new one."),
    // [metrics]
    Key::new("metrics.token", Kind::Secret { min_len: 16 }, None)
        .secret()
        .doc(
            "A bearer token for `GET /metrics` (at least 16 characters), for a Prometheus on \
             another machine. Without it, `/metrics` answers only loopback clients that came \
             through no proxy; everyone else gets 404.",
        ),
];

/// Finds the key whose pattern matches `path`.
pub fn key_for(path: &[String]) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.matches(path))
}

/// Whether `path` is a table on the way to some key (a section or a `*` name).
pub fn is_table(path: &[String]) -> bool {
    KEYS.iter().any(|k| {
        let pattern: Vec<&str> = k.segments().collect();
        pattern.len() > path.len()
            && pattern
                .iter()
                .zip(path)
                .all(|(p, s)| *p == "*" || *p == s.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_satisfies_its_own_kind() {
        for key in KEYS {
            if let Some(default) = key.default {
                let value: toml::Value = toml::from_str(&format!("v = {default}"))
                    .map(|t: toml::Table| t["v"].clone())
                    .unwrap_or_else(|e| panic!("{}: bad default: {e}", key.path));
                assert_eq!(key.kind.check(&value), Ok(()), "{}", key.path);
            }
        }
    }

    #[test]
    fn every_key_is_documented_and_in_a_known_section() {
        for key in KEYS {
            assert!(!key.doc.is_empty(), "{} has no doc", key.path);
            let section = key.path.split('.').next().unwrap();
            assert!(SECTIONS.iter().any(|s| s.name == section), "{}", key.path);
        }
    }

    #[test]
    fn keys_are_grouped_in_section_order() {
        let order: Vec<usize> = KEYS
            .iter()
            .map(|k| {
                SECTIONS
                    .iter()
                    .position(|s| k.path.starts_with(&format!("{}.", s.name)))
                    .unwrap()
            })
            .collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    }

    #[test]
    fn wildcards_match_any_name() {
        let path = |p: &str| p.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            key_for(&path("logger.modules.sqlx")).map(|k| k.path),
            Some("logger.modules.*")
        );
        assert!(is_table(&path("logger.modules")));
        assert!(is_table(&path("logger")));
        assert!(!is_table(&path("logger.level")));
        assert!(key_for(&path("logger.nope")).is_none());
    }

    #[test]
    fn variables_use_double_underscores() {
        assert_eq!(KEYS[0].variable(), "KUNCI__LOGGER__LEVEL");
        let modules = KEYS.iter().find(|k| k.path == "logger.modules.*").unwrap();
        assert_eq!(modules.variable(), "KUNCI__LOGGER__MODULES__<NAME>");
    }
}
