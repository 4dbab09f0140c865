//! `kunci doctor`: every posture check of `doctor.rs`, then exit 1 if one failed.

use anyhow::bail;
use kunci_domain::clock::{Clock as _, SystemClock};

use crate::config::{self, LoadInput, Loaded};
use crate::doctor::{
    Finding, Level, backups, key_files, live, plaintext_env_files, redis_persistence, render,
    signing_keys,
};
use crate::workbench::{Need, ProcessEnv, load};
use crate::{output, wiring};

/// `kunci doctor`: every check, then exit 1 if one failed. An invalid configuration is
/// reported first, with the fix, and every check that does not need it still runs.
pub(super) async fn command(
    input: &LoadInput,
    process: &ProcessEnv,
    url: Option<String>,
) -> anyhow::Result<()> {
    let mut findings = Vec::new();
    let (loaded, fingerprint) = configuration(input, process, &mut findings).await;
    let Some(loaded) = loaded else {
        findings.extend(key_files(
            &input.root,
            input.environment,
            process.master_key_file.as_deref(),
        ));
        findings.extend(plaintext_env_files(&input.root, input.environment));
        match url {
            Some(url) => findings.extend(live(&url, input.environment).await),
            None => findings.push(Finding::new(
                Level::Warn,
                "the live, signing-key, Redis and backup checks need a valid \
                       configuration: not run"
                    .to_owned(),
                Some("fix the configuration, or give --url for the live checks".to_owned()),
            )),
        }
        return report(&findings);
    };
    findings.extend(key_files(
        &input.root,
        input.environment,
        process.master_key_file.as_deref(),
    ));
    findings.extend(plaintext_env_files(&input.root, input.environment));
    for leftover in crate::backup::leftovers::find(&crate::backup::folders(&loaded)) {
        findings.push(Finding::new(
            Level::Fail,
            format!(
                "{} is what a killed backup left behind (it may hold the database in clear)",
                leftover.display()
            ),
            Some("remove it, or run `kunci backup create` or `kunci serve`, which do".to_owned()),
        ));
    }
    for (key, file) in loaded.plaintext_secrets() {
        findings.push(Finding::new(
            Level::Warn,
            format!("`{key}` is a secret written in {file}"),
            Some(format!(
                "move it into .env.{env}.enc with `kunci env edit {env}`",
                env = input.environment
            )),
        ));
    }
    let url = url.unwrap_or_else(|| loaded.config.environment.public_url.clone());
    findings.extend(live(&url, input.environment).await);
    let target =
        kunci_store::DatabaseTarget::parse(loaded.config.data.database_url.expose(), &loaded.root);
    let fresh = matches!(&target, Ok(kunci_store::DatabaseTarget::Sqlite { path: Some(path) }) if !path.exists());
    if fresh {
        findings.push(Finding::new(
            Level::Warn,
            "no database yet: signing keys not checked".to_owned(),
            Some("kunci db migrate, or start kunci serve once".to_owned()),
        ));
    } else {
        match wiring::open_database(&loaded).await {
            Ok(database) => {
                use kunci_domain::keys::SigningKeyStore as _;
                match database.list().await {
                    Ok(keys) => {
                        findings.extend(signing_keys(
                            &keys,
                            loaded.config.security.key_rotation_days,
                            SystemClock.now_unix(),
                        ));
                        findings.extend(crate::doctor::second_factors(&database).await);
                    }
                    Err(err) => findings.push(Finding::new(
                        Level::Fail,
                        format!("the signing keys cannot be read: {err}"),
                        Some("kunci db migrate".to_owned()),
                    )),
                }
                database.close().await;
            }
            Err(err) => findings.push(Finding::new(
                Level::Fail,
                format!("the database cannot be opened: {err:#}"),
                Some("check data.database_url and the database server".to_owned()),
            )),
        }
    }
    findings.extend(redis_persistence(&loaded).await);
    let backup = &loaded.config.backup;
    findings.extend(backups(
        &loaded.root.join(&backup.dir),
        backup.interval_hours,
        input.environment,
        fingerprint.as_deref(),
        SystemClock.now_unix(),
    ));
    report(&findings)
}

fn report(findings: &[Finding]) -> anyhow::Result<()> {
    output::result(&render(findings));
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    if failed > 0 {
        bail!("{failed} check(s) failed");
    }
    Ok(())
}

/// The configuration with its secrets; failing that, without them; failing that, none. Every
/// problem becomes a finding, each naming its file or variable and key.
async fn configuration(
    input: &LoadInput,
    process: &ProcessEnv,
    findings: &mut Vec<Finding>,
) -> (Option<Loaded>, Option<String>) {
    let err = match load(input, process, Need::IfEncrypted).await {
        Ok((loaded, key)) => {
            return (
                Some(loaded),
                key.map(|(key, _)| key.fingerprint().to_string()),
            );
        }
        Err(err) => err,
    };
    let fix = || {
        Some(
            "fix it in the file or variable named; `kunci config check` lists every problem"
                .to_owned(),
        )
    };
    match config::load(input) {
        Ok(plain) => {
            // Without its secrets the configuration still tells most of the posture.
            findings.push(Finding::new(
                Level::Fail,
                format!("the configuration does not load with its secrets: {err:#}"),
                fix(),
            ));
            (Some(plain), None)
        }
        Err(errors) => {
            for problem in &errors.0 {
                findings.push(Finding::new(
                    Level::Fail,
                    format!("configuration: {problem}"),
                    fix(),
                ));
            }
            (None, None)
        }
    }
}
