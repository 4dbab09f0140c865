//! The kinds of value a configuration key takes, and how a value is checked against its
//! kind: numbers in range, URLs of the right scheme, networks, origins, patterns, time zones.
//! Checks never repeat the value in their message (it may be a secret).

use std::net::{IpAddr, SocketAddr};

/// What a value must be.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Integer {
        min: i64,
        max: i64,
    },
    Enum(&'static [&'static str]),
    SocketAddr,
    HttpUrl,
    Path,
    DatabaseUrl,
    RedisUrl,
    Command,
    Prefix,
    /// A relative path (and query) below an upstream's base URL.
    UpstreamPath,
    MemcachedUrl,
    /// `Name` or `Name: template with {key}`.
    HeaderSpec,
    /// A regular expression.
    Pattern,
    /// An IANA time-zone name the bundled database knows.
    TimeZone,
    SmtpUrl,
    Email,
    /// A secret string of at least `min_len` characters.
    Secret {
        min_len: usize,
    },
    List(Item),
}

/// What each element of a list must be.
#[derive(Debug, Clone, Copy)]
pub enum Item {
    Cidr,
    Origin,
    /// A notification kind, or `*`.
    Event,
    Email,
    /// An HTTP status, 100 to 599.
    Status,
}

impl Kind {
    /// "expected …", for error messages and the docs.
    pub fn expectation(self) -> String {
        match self {
            Self::Integer { min, max } => format!("a whole number from {min} to {max}"),
            Self::Enum(choices) => format!("one of {}", choices.join(", ")),
            Self::SocketAddr => "an address and port such as 127.0.0.1:8080".to_owned(),
            Self::HttpUrl => "an http:// or https:// URL".to_owned(),
            Self::Path => "a file system path".to_owned(),
            Self::DatabaseUrl => {
                "a sqlite://, postgres://, postgresql://, mysql:// or mariadb:// URL".to_owned()
            }
            Self::RedisUrl => "a redis:// or rediss:// URL".to_owned(),
            Self::Command => "a shell command".to_owned(),
            Self::Prefix => "up to 64 letters, digits and `:_-.`".to_owned(),
            Self::UpstreamPath => {
                "a relative path such as `models` or `v1/status?full=0` (no `..`)".to_owned()
            }
            Self::MemcachedUrl => "a memcache://HOST:PORT URL".to_owned(),
            Self::List(Item::Cidr) => {
                "a list of networks such as [\"10.0.0.0/8\", \"::1/128\"]".to_owned()
            }
            Self::List(Item::Origin) => {
                "a list of origins such as [\"https://app.example.com\"]".to_owned()
            }
            Self::List(Item::Event) => {
                "a list of notification kinds such as [\"account_locked\"], or [\"*\"]".to_owned()
            }
            Self::List(Item::Email) => {
                "a list of e-mail addresses such as [\"ops@example.com\"]".to_owned()
            }
            Self::SmtpUrl => "an smtp:// or smtps:// URL".to_owned(),
            Self::HeaderSpec => {
                "a header name, or `Name: template` with `{key}` in the template".to_owned()
            }
            Self::Pattern => "a regular expression".to_owned(),
            Self::TimeZone => "an IANA time zone such as Europe/Berlin".to_owned(),
            Self::List(Item::Status) => "a list of HTTP statuses such as [429, 503]".to_owned(),
            Self::Email => "an e-mail address such as kunci@example.com".to_owned(),
            Self::Secret { min_len } => format!("a secret of at least {min_len} characters"),
        }
    }

    /// The TOML type a value must have.
    pub fn toml_type(self) -> &'static str {
        match self {
            Self::Integer { .. } => "integer",
            Self::List(_) => "array",
            _ => "string",
        }
    }

    /// Checks a value of the right TOML type; `Err` explains what was expected (never
    /// repeating the value).
    pub fn check(self, value: &toml::Value) -> Result<(), String> {
        let ok = match (self, value) {
            (Self::Integer { min, max }, toml::Value::Integer(n)) => (min..=max).contains(n),
            (Self::Enum(choices), toml::Value::String(s)) => choices.contains(&s.as_str()),
            (Self::SocketAddr, toml::Value::String(s)) => s.parse::<SocketAddr>().is_ok(),
            (Self::HttpUrl, toml::Value::String(s)) => is_http_url(s),
            (Self::Path | Self::Command, toml::Value::String(s)) => {
                !s.trim().is_empty() && !s.contains('\0')
            }
            (Self::DatabaseUrl, toml::Value::String(s)) => [
                "sqlite:",
                "postgres://",
                "postgresql://",
                "mysql://",
                "mariadb://",
            ]
            .iter()
            .any(|p| s.starts_with(p)),
            (Self::MemcachedUrl, toml::Value::String(s)) => {
                kunci_store::memcached::Memcached::new(s, "").is_ok()
            }
            (Self::Prefix, toml::Value::String(s)) => {
                s.len() <= 64
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b":_-.".contains(&b))
            }
            (Self::UpstreamPath, toml::Value::String(s)) => is_upstream_path(s),
            (Self::SmtpUrl, toml::Value::String(s)) => is_smtp_url(s),
            (Self::HeaderSpec, toml::Value::String(s)) => is_header_spec(s),
            (Self::TimeZone, toml::Value::String(s)) => {
                s.len() <= 64 && kunci_upstream::generic::Reset::daily(s, 0).is_some()
            }
            (Self::Pattern, toml::Value::String(s)) => {
                s.len() <= 512 && kunci_upstream::generic::PatternFormat::new(s).is_some()
            }
            (Self::Email, toml::Value::String(s)) => is_email(s),
            (Self::Secret { min_len }, toml::Value::String(s)) => {
                s.chars().count() >= min_len && !s.chars().any(char::is_control)
            }
            (Self::RedisUrl, toml::Value::String(s)) => {
                s.starts_with("redis://") || s.starts_with("rediss://")
            }
            (Self::List(item), toml::Value::Array(items)) => {
                return items.iter().enumerate().try_for_each(|(i, v)| match v {
                    toml::Value::String(s) if item.check(s) => Ok(()),
                    toml::Value::Integer(n) if item.check(&n.to_string()) => Ok(()),
                    _ => Err(format!(
                        "element {} is not valid: expected {}",
                        i + 1,
                        self.expectation()
                    )),
                });
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("expected {}", self.expectation()))
        }
    }
}

impl Item {
    fn check(self, s: &str) -> bool {
        match self {
            Self::Cidr => is_cidr(s),
            Self::Origin => is_origin(s),
            Self::Event => s == "*" || kunci_domain::notify::EventKind::parse(s).is_some(),
            Self::Email => is_email(s),
            Self::Status => s.parse::<u16>().is_ok_and(|n| (100..600).contains(&n)),
        }
    }
}

/// `Name` (an HTTP token) or `Name: template` whose template holds `{key}` once.
fn is_header_spec(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    match s.split_once(':') {
        None => token(s.trim()),
        Some((name, template)) => {
            token(name.trim())
                && template.matches("{key}").count() == 1
                && !template.chars().any(char::is_control)
        }
    }
}

/// `local@domain`: one `@`, no spaces or control characters, a dotted or bracketed domain.
/// Deliberately loose; the mail server has the last word.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !local.contains('@')
        && s.len() <= 254
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

/// A path below a base URL: URL-safe characters, not absolute, never leaving the base.
fn is_upstream_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/?=&%+,".contains(&b))
        && kunci_upstream::gateway::stays_below(s)
}

fn is_smtp_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("smtps://")
        .or_else(|| s.strip_prefix("smtp://"));
    rest.is_some_and(|r| {
        let authority = r.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        !host.is_empty() && !r.chars().any(char::is_whitespace)
    })
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.contains('@') && !r.chars().any(char::is_whitespace)
    })
}

/// `scheme://host[:port]`, nothing after it: what a browser sends in `Origin`.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', '*'])
        && !rest.chars().any(char::is_whitespace)
}

fn is_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    // Digits only: `parse` would also take a leading `+`.
    prefix.is_none_or(|p| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u8>().is_ok_and(|p| p <= max)
    })
}

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    pub path: &'static str,
    pub kind: Kind,
    /// The default as a TOML literal; `None` means unset.
    pub default: Option<&'static str>,
    /// Masked in `config show` and never echoed.
    pub secret: bool,
    pub doc: &'static str,
}

impl Key {
    pub(super) const fn new(path: &'static str, kind: Kind, default: Option<&'static str>) -> Self {
        Self {
            path,
            kind,
            default,
            secret: false,
            doc: "",
        }
    }

    pub(super) const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub(super) const fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }

    pub fn segments(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('.')
    }

    /// Whether this key's pattern matches `path` exactly.
    pub fn matches(&self, path: &[String]) -> bool {
        let pattern: Vec<&str> = self.segments().collect();
        pattern.len() == path.len()
            && pattern
                .iter()
                .zip(path)
                .all(|(p, s)| *p == "*" || *p == s.as_str())
    }

    /// The environment variable for this key (`*` segments shown as `<NAME>`).
    pub fn variable(&self) -> String {
        let parts: Vec<String> = self
            .segments()
            .map(|s| {
                if s == "*" {
                    "<NAME>".to_owned()
                } else {
                    s.to_ascii_uppercase()
                }
            })
            .collect();
        format!("KUNCI__{}", parts.join("__"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::LEVELS;

    fn s(v: &str) -> toml::Value {
        toml::Value::String(v.to_owned())
    }

    #[test]
    fn cidrs_are_checked() {
        for ok in ["10.0.0.0/8", "127.0.0.1", "::1/128", "fd00::/8"] {
            assert!(is_cidr(ok), "{ok}");
        }
        for bad in [
            "10.0.0.0/33",
            "::1/129",
            "example.com",
            "10.0.0.0/",
            "",
            "10.0.0.0/-1",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for ok in ["https://app.example.com", "http://127.0.0.1:3000"] {
            assert!(is_origin(ok), "{ok}");
        }
        for bad in [
            "*",
            "https://*.example.com",
            "https://a.com/",
            "ftp://a.com",
            "https://",
            "null",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn test_paths_stay_below_the_base_url() {
        for good in ["models", "res/v1/web/search?q=test&count=1", "v1/status"] {
            assert!(is_upstream_path(good), "{good}");
        }
        for bad in [
            "",
            "/models",
            "../admin",
            "v1/%2e%2e/admin",
            "a b",
            "models#x",
            "a\\b",
            "line\nbreak",
            "https://elsewhere.example/x?y",
        ] {
            assert!(!is_upstream_path(bad), "{bad}");
        }
    }

    #[test]
    fn kind_errors_never_repeat_the_value() {
        let err = Kind::Enum(LEVELS).check(&s("SECRET-CANARY")).unwrap_err();
        assert!(!err.contains("SECRET-CANARY"));
        let err = Kind::List(Item::Cidr)
            .check(&toml::Value::Array(vec![s("SECRET-CANARY")]))
            .unwrap_err();
        assert!(
            !err.contains("SECRET-CANARY") && err.contains("element 1"),
            "{err}"
        );
    }

    #[test]
    fn time_zones_are_names_the_database_knows() {
        for good in [
            "UTC",
            "Europe/Berlin",
            "America/Los_Angeles",
            "Asia/Jakarta",
        ] {
            assert!(Kind::TimeZone.check(&s(good)).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Mars/Olympus_Mons",
            "../../../etc/passwd",
            "/usr/share/zoneinfo/UTC",
            "Europe/Berlin\0",
            &"A".repeat(10_000),
        ] {
            assert!(Kind::TimeZone.check(&s(bad)).is_err(), "{bad:.40}");
        }
        assert!(Kind::TimeZone.check(&toml::Value::Integer(7)).is_err());
    }
}
