//! What the web layer is told about the deployment, built once by the composition root:
//! [`WebSettings`] and the plain values inside it (cookie flags, rate limits, trusted networks).
//!
//! A leaf: this file imports nothing of the crate, so every module may read the settings
//! without joining a circle. Behaviour on these values lives with its feature (`cookies.rs`,
//! `limits.rs`, `net.rs`).

use std::net::IpAddr;

use kunci_domain::environment::Environment;
use kunci_domain::ratelimit::Rate;

/// What the web layer needs to know about the deployment.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub environment: Environment,
    /// The instance serves HTTPS itself (TLS configured): HSTS goes on every response.
    pub serves_https: bool,
    pub cookies: CookieSettings,
    /// Lifetime of the `kunci_auth` token.
    pub token_lifetime_secs: i64,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// `scheme://host[:port]` of `environment.public_url`: what same-origin requests carry in
    /// `Origin`.
    pub public_origin: String,
    /// Origins allowed to call the API from a browser (`environment.cors_origins`).
    pub cors_origins: Vec<String>,
    /// `iss` of access tokens (the public origin).
    pub jwt_issuer: String,
    /// `aud` of access tokens.
    pub jwt_audience: String,
    pub limits: Limits,
    /// `environment.default_language`: the pages' language for a visitor whose browser asks
    /// for none of ours.
    pub default_language: crate::i18n::Lang,
    /// `security.password_min_length`: the shortest new password the account page takes.
    pub password_min_length: usize,
    /// `metrics.token`: the bearer token `/metrics` asks for; none: loopback only.
    pub metrics_token: Option<kunci_crypto::SecretString>,
}

/// Cookie names and flags for one deployment.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub secure: bool,
    /// Lifetime of `kunci_session` and `kunci_auth` in the browser (the absolute session
    /// timeout; the server decides validity anyway).
    pub session_max_age_secs: i64,
}

/// The limits of one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub api: Rate,
    pub login: Rate,
    /// New browsers (bootstraps, each a stored session) per client address.
    pub bootstrap: Rate,
}

/// A network such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `addr/prefix` or a single address. `None` when malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}
