//! From configuration to adapters: each function builds one part of the application from its
//! section of the configuration (`[data]`, `[notification]`, `[security]`, `[upstream]`), with
//! the checks that part needs. The composition root (`startup.rs`) and the commands
//! (`workbench.rs`, `commands/`) call these; nothing here starts serving or decides what runs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use kunci_crypto::MasterKey;
use kunci_crypto::password::Cost;
use kunci_domain::accounts::{Accounts, PasswordPool};
use kunci_domain::apikeys::ApiKeyPool;
use kunci_domain::audit::AuditLog;
use kunci_domain::clients::NonceStore;
use kunci_domain::clock::Clock;
use kunci_domain::health::{Optional, Probe};
use kunci_domain::keys::{KeyPolicy, KeyRingService};
use kunci_domain::lockout::{Lockout, LockoutPolicy};
use kunci_domain::notify::{Episodes, Notifier};
use kunci_domain::ratelimit::{Rate, RateStore};
use kunci_domain::refresh::{RefreshPolicy, RefreshTokens};
use kunci_domain::revocation::Revocations;
use kunci_domain::session::{Scope, SessionPolicy, SessionStore, Sessions};
use kunci_domain::upstream::AnswerCache;
use kunci_domain::usage::UsageStore;
use kunci_store::{ConnectOptions, Database, DatabaseTarget, RedisServer};
use kunci_upstream::gateway::{Gateway, Route};
use kunci_upstream::notify::{
    DispatchSettings, Dispatcher, EventFilter, SmtpSettings, WebhookSettings,
};
use kunci_web::net::Cidr;
use kunci_web::{CookieSettings, Limits, WebSettings};

use crate::config::{
    CacheKind, Config, Loaded, ResetKind, SessionStoreKind, UpstreamConfig, UpstreamKind,
};
use crate::secrets::permissions;

/// The notification channels of `[notification]`. Needs a Tokio runtime (it starts the
/// delivery task).
pub fn notifier(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<Dispatcher>> {
    let n = &config.notification;
    let timeout = Duration::from_secs(n.webhook_timeout_secs);
    let webhook = match (&n.webhook_url, &n.webhook_secret) {
        (Some(url), Some(secret)) => Some(WebhookSettings {
            url: url.clone(),
            secret: secret.clone(),
            events: EventFilter::from_names(&n.webhook_events),
            timeout,
            retries: n.webhook_retries,
        }),
        _ => None,
    };
    let smtp = match (&n.smtp_url, &n.smtp_from) {
        (Some(url), Some(from)) => Some(SmtpSettings {
            wording: Arc::new(kunci_web::i18n::MailText(language(config))),
            url: url.clone(),
            from: from.clone(),
            to: n.smtp_to.clone(),
            events: EventFilter::from_names(&n.smtp_events),
            timeout: Duration::from_secs(30),
            retries: n.webhook_retries,
        }),
        _ => None,
    };
    let settings = DispatchSettings {
        log: EventFilter::from_names(&n.log_events),
        webhook,
        smtp,
        backoff: Duration::from_secs(1),
    };
    Ok(Arc::new(
        Dispatcher::start(settings, clock).context("`[notification]`")?,
    ))
}

/// `scheme://host[:port]` of a URL (validated by the configuration already).
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

/// Accounts over the database, hashing with OWASP's Argon2id parameters on a pool of
/// `security.password_hash_parallel`.
pub async fn accounts(
    config: &Config,
    database: &Database,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Accounts> {
    let pool = PasswordPool::new(config.security.password_hash_parallel, Cost::OWASP);
    Accounts::new(Arc::new(database.clone()), pool, audit, clock)
        .await
        .context("cannot prepare password hashing")
}

/// The API-key pool over the database.
pub fn api_key_pool(
    database: &Database,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    notifier: Arc<dyn Notifier>,
) -> ApiKeyPool {
    let episodes = Episodes::new(Arc::new(database.clone()), notifier.clone(), clock.clone());
    ApiKeyPool::new(
        Arc::new(database.clone()),
        master,
        clock,
        audit,
        notifier,
        episodes,
    )
}

/// The second factors, on the deployment's database.
pub fn second_factors(
    database: &Database,
    master: &MasterKey,
    clock: &Arc<dyn Clock>,
    audit: &AuditLog,
) -> kunci_domain::factors::SecondFactors {
    kunci_domain::factors::SecondFactors::new(
        Arc::new(database.clone()),
        master.clone(),
        clock.clone(),
        audit.clone(),
    )
}

/// The configured upstreams, from `[upstream]` and `[search]`; the circuit shared through
/// Redis when there is one.
pub fn gateway(
    config: &Config,
    pool: ApiKeyPool,
    (answers, redis): (Arc<dyn AnswerCache>, Option<&RedisServer>),
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn kunci_domain::upstream::Upstreams>> {
    let mut routes = std::collections::BTreeMap::new();
    let mut scopes = std::collections::BTreeMap::new();
    for (name, upstream) in &config.upstream.by_name {
        scopes.insert(name.clone(), upstream.scope.unwrap_or(Scope::User));
        // The configuration check guarantees what each kind needs.
        match (upstream.adapter, &upstream.cx, &upstream.base_url) {
            (Some(UpstreamKind::GoogleCse), Some(cx), base_url) => {
                let base_url = base_url
                    .clone()
                    .unwrap_or_else(|| kunci_upstream::google::ENDPOINT.to_owned());
                let route = Route::GoogleCse {
                    base_url,
                    cx: cx.clone(),
                };
                routes.insert(name.clone(), route);
            }
            (Some(UpstreamKind::Generic), _, Some(base_url)) => {
                routes.insert(name.clone(), generic_route(upstream, base_url)?);
            }
            _ => {}
        }
    }
    let mut proxy = kunci_upstream::proxy::Upstreams::new(pool, clock.clone())
        .map_err(|e| anyhow::anyhow!("cannot build the upstream client: {e}"))?;
    // The throttle circuit: one for all instances when they share Redis.
    if let Some(server) = redis {
        proxy = proxy.with_shared_circuit(Arc::new(kunci_store::redis::RedisCircuit::new(server)?));
    }
    Ok(Arc::new(
        Gateway::new(
            proxy,
            routes,
            config.upstream.default_search.clone(),
            (answers, config.search.cache_secs),
            clock,
        )
        .with_scopes(scopes),
    ))
}

/// A `generic` upstream from its configuration, with the documented defaults.
fn generic_route(upstream: &UpstreamConfig, base_url: &str) -> anyhow::Result<Route> {
    use kunci_upstream::generic::{PatternFormat, Reset, Rules};
    use kunci_upstream::proxy::KeyPlacement;
    let key = match (&upstream.key_query, &upstream.key_header) {
        (Some(param), _) => KeyPlacement::Query(param.clone()),
        (None, Some(spec)) => match spec.split_once(':') {
            Some((name, template)) => KeyPlacement::Header {
                name: name.trim().to_owned(),
                template: template.trim().to_owned(),
            },
            None => KeyPlacement::Header {
                name: spec.trim().to_owned(),
                template: "{key}".to_owned(),
            },
        },
        (None, None) => KeyPlacement::Header {
            name: "authorization".to_owned(),
            template: "Bearer {key}".to_owned(),
        },
    };
    let secs = upstream.reset_secs.unwrap_or(60);
    let reset = match upstream.reset.unwrap_or(ResetKind::RetryAfter) {
        ResetKind::RetryAfter => Reset::RetryAfter { default_secs: secs },
        ResetKind::Cooldown => Reset::Cooldown { secs },
        ResetKind::DailyUtc => Reset::daily("UTC", upstream.reset_hour_utc.unwrap_or(0))
            .context("`reset_hour_utc` is an hour from 0 to 23")?,
        ResetKind::Daily => {
            let zone = upstream.reset_zone.as_deref().unwrap_or("UTC");
            Reset::daily(zone, upstream.reset_hour.unwrap_or(0)).with_context(|| {
                format!("`reset_zone` = {zone:?} is not a time zone of the IANA database")
            })?
        }
    };
    let format = match &upstream.key_pattern {
        Some(pattern) => {
            Some(PatternFormat::new(pattern).context("`key_pattern` is not a regular expression")?)
        }
        None => None,
    };
    Ok(Route::Generic {
        base_url: base_url.to_owned(),
        key,
        rules: Rules {
            quota_statuses: upstream.quota_statuses.clone().unwrap_or_else(|| vec![429]),
            invalid_statuses: upstream
                .invalid_statuses
                .clone()
                .unwrap_or_else(|| vec![401, 403]),
            reset,
        },
        format,
        test_path: upstream.test_path.clone(),
    })
}

/// Brute-force lockout over the database, from `[security]`.
pub fn lockout(
    config: &Config,
    database: &Database,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn Notifier>,
) -> Lockout {
    let security = &config.security;
    let policy = LockoutPolicy {
        limit: security.lockout_threshold,
        window_secs: security.lockout_window_minutes * 60,
        lock_secs: security.lockout_hours * 3600,
    };
    Lockout::new(Arc::new(database.clone()), policy, clock, audit, notifier)
}

/// How long keys live, from `[security]`.
pub fn key_policy(config: &Config) -> KeyPolicy {
    let security = &config.security;
    KeyPolicy {
        rotation_days: (security.key_rotation_days > 0).then_some(security.key_rotation_days),
        // CSRF tokens live as long as their session; auth tokens for their own lifetime.
        cookie_verify_secs: (security.session_absolute_hours * 3600)
            .max(security.auth_token_minutes * 60)
            + 60,
        // Access tokens plus the 60 s of accepted clock skew.
        jwt_verify_secs: security.auth_token_minutes * 60 + 60,
    }
}

/// The configured session store, after checking it can give what the deployment needs.
pub fn session_store(
    loaded: &Loaded,
    database: &Database,
    redis: Option<&RedisServer>,
) -> anyhow::Result<Arc<dyn SessionStore>> {
    let config: &Config = &loaded.config;
    let store: Arc<dyn SessionStore> = match config.data.session_store {
        SessionStoreKind::Sql => Arc::new(database.clone()),
        SessionStoreKind::Redis => {
            let server =
                redis.context("`data.session_store = \"redis\"` needs `data.redis_url`")?;
            Arc::new(kunci_store::redis::RedisSessions::new(server)?)
        }
        SessionStoreKind::Memcached => {
            let url = config
                .data
                .memcached_url
                .as_deref()
                .context("`memcached` needs `data.memcached_url`")?;
            let server = kunci_store::memcached::Memcached::new(url, &config.data.redis_prefix)?;
            Arc::new(kunci_store::memcached::MemcachedSessions::new(server))
        }
        SessionStoreKind::Memory => Arc::new(kunci_store::memory::MemorySessions::new()),
        SessionStoreKind::Filesystem => {
            let dir = loaded.root.join(&config.data.session_dir);
            permissions::check(&dir)?;
            Arc::new(
                kunci_store::filesystem::FileSessions::new(&dir)
                    .with_context(|| format!("cannot use the session folder {}", dir.display()))?,
            )
        }
        SessionStoreKind::Null => Arc::new(kunci_store::null::NullSessions),
    };
    let capabilities = store.capabilities();
    if config.environment.instances > 1 && !capabilities.shared {
        bail!(
            "`data.session_store = \"{}\"` keeps sessions inside one {}, but \
             `environment.instances` is {}: use `redis`, or `sql` on PostgreSQL",
            store.name(),
            if store.name() == "sql" {
                "machine (SQLite)"
            } else {
                "instance"
            },
            config.environment.instances
        );
    }
    if !capabilities.durable && loaded.environment.is_deployed() {
        tracing::warn!(
            store = store.name(),
            "sessions are lost when this instance restarts"
        );
    }
    Ok(store)
}

/// Opens the configured database (creating a SQLite file and its folder, born private). An
/// existing `instance/` folder or SQLite file open to group or others is refused first.
pub async fn open_database(loaded: &Loaded) -> anyhow::Result<Database> {
    let data = &loaded.config.data;
    let target = DatabaseTarget::parse(data.database_url.expose(), &loaded.root)
        .context("`data.database_url`")?;
    permissions::check(&loaded.root.join("instance"))?;
    if let DatabaseTarget::Sqlite { path: Some(path) } = &target {
        permissions::check(path)?;
    }
    let options = ConnectOptions {
        max_connections: data.max_connections,
        ..ConnectOptions::default()
    };
    Ok(Database::connect(&target, &options).await?)
}

/// Redis, when `data.redis_url` is set, with its readiness probe: required when sessions live
/// there; otherwise its loss degrades rate limits (per instance) and signed requests (refused)
/// but the site serves.
pub async fn redis(
    config: &Config,
    probes: &mut Vec<Arc<dyn Probe>>,
) -> anyhow::Result<Option<RedisServer>> {
    let Some(url) = &config.data.redis_url else {
        return Ok(None);
    };
    let server =
        RedisServer::new(url.expose(), &config.data.redis_prefix).context("`data.redis_url`")?;
    let probe: Arc<dyn Probe> = Arc::new(server.clone());
    probes.push(if config.data.session_store == SessionStoreKind::Redis {
        probe
    } else {
        Arc::new(Optional(probe))
    });
    say_if_unreachable(config, &server).await;
    Ok(Some(server))
}

/// Says at start, not only on `/readyz`, what an unreachable Redis means for this instance
/// (the URL shown without its password).
async fn say_if_unreachable(config: &Config, server: &RedisServer) {
    let Err(err) = Probe::check(server).await else {
        return;
    };
    let shown = config
        .data
        .redis_url
        .as_ref()
        .map(|url| kunci_crypto::mask_url_password(url.expose()))
        .unwrap_or_default();
    if config.data.session_store == SessionStoreKind::Redis {
        tracing::warn!(redis = %shown, error = %err, "Redis is unreachable: sessions live there, so pages and the API answer 503 until it is back");
    } else {
        tracing::warn!(redis = %shown, error = %err, "Redis is unreachable: rate limits fall back to this instance and signed requests are refused until it is back");
    }
}

/// The signing-key ring over the database; with Redis, other instances hear of this one's
/// rotations at once (the jobs listen for theirs).
pub async fn key_ring(
    config: &Config,
    database: &Database,
    master: &MasterKey,
    clock: &Arc<dyn Clock>,
    redis: Option<&RedisServer>,
) -> anyhow::Result<KeyRingService> {
    let mut ring = KeyRingService::start(
        Arc::new(database.clone()),
        master.clone(),
        clock.clone(),
        key_policy(config),
    )
    .await
    .context("cannot load the signing keys")?;
    if let Some(server) = redis {
        ring = ring.with_announcer(Arc::new(kunci_store::redis::RedisRingChanged::new(server)?));
    }
    Ok(ring)
}

/// The session rules over `store`, with `[security]`'s timeouts.
pub fn sessions(config: &Config, store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>) -> Sessions {
    let security = &config.security;
    Sessions::new(
        store,
        clock,
        SessionPolicy {
            idle_secs: security.session_idle_minutes * 60,
            absolute_secs: security.session_absolute_hours * 3600,
            ..SessionPolicy::default()
        },
    )
}

/// Nonces of signed requests: in Redis when there is one (shared, fast), else the database
/// (shared by every instance on a database server).
pub fn nonces(
    redis: Option<&RedisServer>,
    database: &Database,
) -> anyhow::Result<Arc<dyn NonceStore>> {
    Ok(match redis {
        Some(server) => Arc::new(kunci_store::redis::RedisNonces::new(server)?),
        None => Arc::new(database.clone()),
    })
}

/// Rate limits shared through Redis when there is one (this instance's memory is always the
/// fallback).
pub fn rates(redis: Option<&RedisServer>) -> anyhow::Result<Option<Arc<dyn RateStore>>> {
    Ok(match redis {
        Some(server) => Some(Arc::new(kunci_store::redis::RedisRates::new(server)?)),
        None => None,
    })
}

/// Refresh-token families over the database, with `[security]`'s lifetimes.
pub fn refresh_tokens(
    config: &Config,
    database: &Database,
    master: &MasterKey,
    clock: &Arc<dyn Clock>,
    audit: AuditLog,
    notifier: Arc<dyn Notifier>,
) -> RefreshTokens {
    let security = &config.security;
    RefreshTokens::new(
        Arc::new(database.clone()),
        master.clone(),
        clock.clone(),
        audit,
        notifier,
        RefreshPolicy {
            token_secs: security.refresh_token_days * 86_400,
            family_secs: security.refresh_family_days * 86_400,
            grace_secs: security.refresh_grace_secs,
        },
    )
}

/// The answer cache of `data.cache`.
pub fn answers(
    config: &Config,
    redis: Option<&RedisServer>,
) -> anyhow::Result<Arc<dyn AnswerCache>> {
    Ok(match (config.data.cache, redis) {
        (CacheKind::Redis, Some(server)) => {
            Arc::new(kunci_store::redis::RedisAnswers::new(server)?)
        }
        (CacheKind::Redis, None) => bail!("`data.cache = \"redis\"` needs `data.redis_url`"),
        (CacheKind::Memory, _) => Arc::new(kunci_upstream::proxy::MemoryAnswers::default()),
    })
}

/// Where the leaderboard's counts go: a Redis sorted set when there is Redis, else the
/// database.
pub fn usage(
    redis: Option<&RedisServer>,
    database: &Database,
) -> anyhow::Result<Arc<dyn UsageStore>> {
    Ok(match redis {
        Some(server) => Arc::new(kunci_store::redis::RedisUsage::new(server)?),
        None => Arc::new(database.clone()),
    })
}

/// What the web layer needs to know about the deployment.
pub fn web_settings(loaded: &Loaded) -> WebSettings {
    let config = &loaded.config;
    let security = &config.security;
    WebSettings {
        environment: loaded.environment,
        // Served over HTTPS: directly, or (the usual case) behind a TLS-terminating proxy.
        serves_https: config.environment.public_url.starts_with("https://"),
        cookies: CookieSettings {
            secure: loaded.environment.is_deployed(),
            session_max_age_secs: security.session_absolute_hours * 3600,
        },
        token_lifetime_secs: security.auth_token_minutes * 60,
        trusted_proxies: config
            .environment
            .trusted_proxies
            .iter()
            .filter_map(|c| Cidr::parse(c))
            .collect(),
        public_origin: origin_of(&config.environment.public_url),
        jwt_issuer: origin_of(&config.environment.public_url),
        jwt_audience: security.jwt_audience.clone(),
        limits: Limits {
            api: Rate {
                burst: security.api_burst,
                ..Rate::per(security.api_requests_per_second, 1000)
            },
            login: Rate::per(security.login_requests_per_minute, 60_000),
            bootstrap: Rate::per(security.new_browsers_per_minute, 60_000),
        },
        cors_origins: config.environment.cors_origins.clone(),
        metrics_token: config.metrics.token.clone(),
        password_min_length: security.password_min_length,
        default_language: language(config),
    }
}

/// `environment.default_language`: the pages' default and the language of notification mails.
fn language(config: &Config) -> kunci_web::i18n::Lang {
    match config.environment.default_language {
        crate::config::Language::En => kunci_web::i18n::Lang::En,
        crate::config::Language::Id => kunci_web::i18n::Lang::Id,
    }
}

/// The revocation lists bearer and cookie checks consult, loaded once before serving.
pub async fn revocations(
    config: &Config,
    database: &Database,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<Arc<Revocations>> {
    let revocations = Arc::new(Revocations::new(
        Arc::new(database.clone()),
        clock.clone(),
        config.security.auth_token_minutes * 60 + kunci_crypto::jwt::SKEW_SECS,
    ));
    revocations
        .reload()
        .await
        .context("cannot read the revocation lists")?;
    Ok(revocations)
}
