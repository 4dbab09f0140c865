//! The application state handed to every handler: a cheap handle (`Arc` inside).

use std::sync::Arc;

use kunci_domain::accounts::Accounts;
use kunci_domain::apikeys::ApiKeyPool;
use kunci_domain::audit::AuditLog;
use kunci_domain::clients::ServiceClients;
use kunci_domain::clock::Clock;
use kunci_domain::health::Probe;
use kunci_domain::keys::KeyRingService;
use kunci_domain::leaderboard::Leaderboard;
use kunci_domain::lockout::Lockout;
use kunci_domain::login::Login;
use kunci_domain::notify::Notifier;
use kunci_domain::ratelimit::Limiter;
use kunci_domain::refresh::RefreshTokens;
use kunci_domain::reset::PasswordResets;
use kunci_domain::revocation::Revocations;
use kunci_domain::session::Sessions;
use kunci_domain::upstream::Upstreams;

use crate::render::Templates;
use crate::settings::WebSettings;

/// Everything handlers use, built once in the composition root.
#[derive(Debug)]
pub struct Services {
    pub clock: Arc<dyn Clock>,
    pub probes: Vec<Arc<dyn Probe>>,
    pub sessions: Sessions,
    pub keys: Arc<KeyRingService>,
    pub clients: ServiceClients,
    pub accounts: Accounts,
    pub resets: PasswordResets,
    pub factors: kunci_domain::factors::SecondFactors,
    pub login: Login,
    pub pool: ApiKeyPool,
    pub leaderboard: Leaderboard,
    pub upstreams: Arc<dyn Upstreams>,
    pub lockout: Lockout,
    pub limiter: Arc<Limiter>,
    pub refresh: RefreshTokens,
    pub revocations: Arc<Revocations>,
    pub audit: AuditLog,
    pub notifier: Arc<dyn Notifier>,
    /// Requests and upstream answers per hour, for the overview's charts.
    pub activity: Arc<kunci_domain::tally::Tallies>,
    /// The posture checks the overview shows.
    pub posture: Arc<dyn kunci_domain::health::Posture>,
}

/// Shared state. Clone it freely: it is one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: WebSettings,
    services: Services,
    templates: Templates,
    bearer_cache: crate::bearer_cache::BearerCache,
}

impl AppState {
    pub fn new(settings: WebSettings, services: Services) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                services,
                templates: Templates::new(),
                bearer_cache: crate::bearer_cache::BearerCache::default(),
            }),
        }
    }

    pub(crate) fn bearer_cache(&self) -> &crate::bearer_cache::BearerCache {
        &self.inner.bearer_cache
    }

    pub fn settings(&self) -> &WebSettings {
        &self.inner.settings
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.services.clock.as_ref()
    }

    /// The dependencies `/readyz` checks.
    pub fn probes(&self) -> &[Arc<dyn Probe>] {
        &self.inner.services.probes
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.services.sessions
    }

    pub fn keys(&self) -> &KeyRingService {
        &self.inner.services.keys
    }

    pub fn revocations(&self) -> &Revocations {
        &self.inner.services.revocations
    }

    pub fn refresh(&self) -> &RefreshTokens {
        &self.inner.services.refresh
    }

    pub fn limiter(&self) -> &Limiter {
        &self.inner.services.limiter
    }

    pub fn lockout(&self) -> &Lockout {
        &self.inner.services.lockout
    }

    pub fn leaderboard(&self) -> &Leaderboard {
        &self.inner.services.leaderboard
    }

    pub fn login(&self) -> &Login {
        &self.inner.services.login
    }

    pub fn pool(&self) -> &ApiKeyPool {
        &self.inner.services.pool
    }

    pub fn upstreams(&self) -> &dyn Upstreams {
        self.inner.services.upstreams.as_ref()
    }

    pub fn accounts(&self) -> &Accounts {
        &self.inner.services.accounts
    }

    pub fn posture(&self) -> &dyn kunci_domain::health::Posture {
        self.inner.services.posture.as_ref()
    }

    pub fn activity(&self) -> &kunci_domain::tally::Tallies {
        &self.inner.services.activity
    }

    pub fn factors(&self) -> &kunci_domain::factors::SecondFactors {
        &self.inner.services.factors
    }

    pub fn resets(&self) -> &PasswordResets {
        &self.inner.services.resets
    }

    pub fn clients(&self) -> &ServiceClients {
        &self.inner.services.clients
    }

    pub fn audit(&self) -> &AuditLog {
        &self.inner.services.audit
    }

    pub fn notifier(&self) -> &dyn Notifier {
        self.inner.services.notifier.as_ref()
    }

    pub(crate) fn templates(&self) -> &Templates {
        &self.inner.templates
    }
}
