//! The rules that involve the environment or several keys at once (a session store and its
//! URL, the notification channels and their secrets, each upstream and what its adapter
//! needs, HTTPS where the environment requires it), checked after every layer is read.

use kunci_domain::environment::Environment;

use super::Source;
use super::load::Layers;

/// Rules that involve the environment or several keys.
pub(super) fn cross_checks(layers: &mut Layers, environment: Environment) {
    let value = |layers: &Layers, key: &str| layers.entries.get(key).cloned();
    if let Some(store) = value(layers, "data.session_store") {
        let origin = store.source.to_string();
        match store.value.as_str() {
            Some("redis") if value(layers, "data.redis_url").is_none() => {
                let problem = "`redis` needs `data.redis_url`".to_owned();
                layers.push_error(&origin, Some("data.session_store"), problem);
            }
            Some("memcached") if value(layers, "data.memcached_url").is_none() => {
                let problem = "`memcached` needs `data.memcached_url`".to_owned();
                layers.push_error(&origin, Some("data.session_store"), problem);
            }
            Some("null") if environment.is_deployed() => {
                let problem = format!("`null` keeps no sessions and is refused in {environment}");
                layers.push_error(&origin, Some("data.session_store"), problem);
            }
            _ => {}
        }
    }
    if let Some(cache) = value(layers, "data.cache")
        && cache.value.as_str() == Some("redis")
        && value(layers, "data.redis_url").is_none()
    {
        let problem = "`redis` needs `data.redis_url`".to_owned();
        layers.push_error(&cache.source.to_string(), Some("data.cache"), problem);
    }
    notification_checks(layers);
    upstream_checks(layers);
    if environment.is_deployed() {
        let public_url = layers.entries.get("environment.public_url").cloned();
        if let Some(entry) = public_url {
            let https = entry
                .value
                .as_str()
                .is_some_and(|url| url.starts_with("https://"));
            if !https {
                let problem = match entry.source {
                    Source::Default => format!(
                        "{environment} requires an https:// URL; set it in config/{}.toml or \
                         KUNCI__ENVIRONMENT__PUBLIC_URL",
                        environment.name()
                    ),
                    _ => format!("{environment} requires an https:// URL"),
                };
                layers.push_error(
                    &entry.source.origin(),
                    Some("environment.public_url"),
                    problem,
                );
            }
        }
    }
}

/// Every upstream names its adapter, and a Google one its search engine.
fn upstream_checks(layers: &mut Layers) {
    let names: std::collections::BTreeSet<String> = layers
        .entries
        .keys()
        .filter_map(|k| k.strip_prefix("upstream."))
        // `upstream.<name>.<key>`; `upstream.default_search` names no upstream.
        .filter_map(|k| k.split_once('.').map(|(name, _)| name))
        .map(str::to_owned)
        .collect();
    for name in names {
        let get = |key: &str| {
            layers
                .entries
                .get(&format!("upstream.{name}.{key}"))
                .cloned()
        };
        match get("adapter") {
            None => {
                let origin = get("cx")
                    .or_else(|| get("base_url"))
                    .map(|e| e.source.to_string())
                    .unwrap_or_default();
                let problem = "needs an `adapter` (google_cse or generic)".to_owned();
                let key = format!("upstream.{name}");
                layers.push_error(&origin, Some(&key), problem);
            }
            Some(kind) if kind.value.as_str() == Some("google_cse") && get("cx").is_none() => {
                let problem = "a `google_cse` upstream needs `cx`, its search engine id".to_owned();
                let key = format!("upstream.{name}.adapter");
                layers.push_error(&kind.source.to_string(), Some(&key), problem);
            }
            Some(kind) if kind.value.as_str() == Some("generic") && get("base_url").is_none() => {
                let problem = "a `generic` upstream needs `base_url`".to_owned();
                let key = format!("upstream.{name}.adapter");
                layers.push_error(&kind.source.to_string(), Some(&key), problem);
            }
            Some(kind)
                if kind.value.as_str() == Some("generic")
                    && get("key_header").is_some()
                    && get("key_query").is_some() =>
            {
                let problem = "set `key_header` or `key_query`, not both".to_owned();
                let key = format!("upstream.{name}.adapter");
                layers.push_error(&kind.source.to_string(), Some(&key), problem);
            }
            Some(_) => {}
        }
    }
}

/// A channel's settings come together or not at all; plain SMTP stays on this machine.
fn notification_checks(layers: &mut Layers) {
    let get = |layers: &Layers, key: &str| layers.entries.get(key).cloned();
    if let Some(url) = get(layers, "notification.webhook_url")
        && get(layers, "notification.webhook_secret").is_none()
    {
        let problem = "a webhook needs `notification.webhook_secret` to sign its deliveries";
        layers.push_error(
            &url.source.to_string(),
            Some("notification.webhook_url"),
            problem.to_owned(),
        );
    }
    let Some(smtp) = get(layers, "notification.smtp_url") else {
        return;
    };
    let origin = smtp.source.to_string();
    if get(layers, "notification.smtp_from").is_none() {
        let problem = "e-mail needs `notification.smtp_from`".to_owned();
        layers.push_error(&origin, Some("notification.smtp_url"), problem);
    }
    let no_recipients = get(layers, "notification.smtp_to")
        .and_then(|e| e.value.as_array().map(Vec::is_empty))
        .unwrap_or(true);
    if no_recipients {
        let problem = "e-mail needs at least one address in `notification.smtp_to`".to_owned();
        layers.push_error(&origin, Some("notification.smtp_url"), problem);
    }
    if let Some(url) = smtp.value.as_str()
        && !smtp_is_protected(url)
    {
        let problem = "plain `smtp://` (no TLS) is only allowed to a server on this machine: \
                       use `smtps://` or add `?tls=required`"
            .to_owned();
        layers.push_error(&origin, Some("notification.smtp_url"), problem);
    }
}

/// TLS, or a loopback server.
fn smtp_is_protected(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("smtp://") else {
        return true;
    };
    let (authority, query) = match rest.split_once('?') {
        Some((authority, query)) => (authority, query),
        None => (rest, ""),
    };
    if query
        .split('&')
        .any(|p| p == "tls=required" || p == "tls=wrapper")
    {
        return true;
    }
    let authority = authority.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
