//! `kunci serve`: load, build the application, serve until a signal.

use std::sync::Arc;

use anyhow::Context as _;
use kunci_domain::clock::SystemClock;

use kunci_domain::environment::Environment;
use kunci_domain::session::Scope;

use crate::config::{LoadInput, Loaded, Source};
use crate::secrets::keychain::KeySource;
use crate::workbench::{Need, ProcessEnv, load};
use crate::{logging, output, startup};

pub(super) async fn command(input: &LoadInput, process: &ProcessEnv) -> anyhow::Result<()> {
    let (mut loaded, key) = load(input, process, Need::Always).await?;
    let derived = development_public_url(&mut loaded);
    let _log = logging::init(&loaded.config.logger, &loaded.root)?;
    let _serving = crate::workbench::serving(&loaded.root)?;
    // What a killed `backup create` left (the database in clear, among others) goes first.
    crate::backup::leftovers::remove(&crate::backup::folders(&loaded));
    let (key, source) = key.context("no master key")?;
    if let KeySource::Created(path) = &source {
        output::note(&format!(
            "created the development master key {} (fingerprint {}). Keep a copy in a \
             password manager: without it nothing encrypted with it can be read.",
            path.display(),
            key.fingerprint()
        ));
    }
    tracing::info!(fingerprint = %key.fingerprint(), %source, "master key loaded");
    let app = startup::Application::build(&loaded, key, Arc::new(SystemClock)).await?;
    for line in app.first_run_notes() {
        output::note(line);
    }
    let public_url = &loaded.config.environment.public_url;
    match app.accounts().list().await {
        Ok(accounts) if !accounts.iter().any(|a| a.scopes.contains(&Scope::Admin)) => {
            output::note(&format!(
                "no administrator yet: create one with `kunci user add NAME --scope admin`, \
                 then sign in at {}/login and manage the API keys at {}/admin/keys",
                public_url.trim_end_matches('/'),
                public_url.trim_end_matches('/')
            ));
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not count the administrators"),
    }
    if derived {
        output::note(
            "the public URL follows `environment.bind` in development; set \
             `environment.public_url` when users reach kunci at another address",
        );
    }
    output::note(&format!(
        "kunci ({}) is serving on {}://{} — open {public_url}",
        loaded.environment,
        if app.serves_https() { "https" } else { "http" },
        app.local_addr(),
    ));
    app.run_until(startup::shutdown_signal()).await
}

/// In development, a public URL left at its built-in default follows `environment.bind`:
/// someone who changed only the port is told (and redirected to) the address kunci listens
/// on, not one nobody answers. True when it was derived.
fn development_public_url(loaded: &mut Loaded) -> bool {
    let from_default = loaded
        .layers
        .entries
        .get("environment.public_url")
        .is_some_and(|e| e.source == Source::Default);
    let bind = loaded.config.environment.bind;
    // Port 0 (tests) is known only once bound: the default stays.
    if loaded.environment != Environment::Development || !from_default || bind.port() == 0 {
        return false;
    }
    let host = match bind.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let derived = format!("http://{host}:{}", bind.port());
    let changed = derived != loaded.config.environment.public_url;
    loaded.config.environment.public_url = derived;
    changed
}
