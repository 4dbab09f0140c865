//! `kunci serve`: load, build the application, serve until a signal.

use std::sync::Arc;

use anyhow::Context as _;
use kunci_domain::clock::SystemClock;

use crate::config::LoadInput;
use crate::secrets::keychain::KeySource;
use crate::workbench::{Need, ProcessEnv, load};
use crate::{logging, output, startup};

pub(super) async fn command(input: &LoadInput, process: &ProcessEnv) -> anyhow::Result<()> {
    let (loaded, key) = load(input, process, Need::Always).await?;
    let _log = logging::init(&loaded.config.logger, &loaded.root)?;
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
    output::note(&format!(
        "kunci ({}) is serving on {}://{} — public URL {}",
        loaded.environment,
        if app.serves_https() { "https" } else { "http" },
        app.local_addr(),
        loaded.config.environment.public_url
    ));
    app.run_until(startup::shutdown_signal()).await
}
