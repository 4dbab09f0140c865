//! The posture checks of `kunci doctor` that the console's overview shows: those about files
//! and Redis, made once at start (what changes there is the operator's doing, and a restart's
//! business), and those about the signing keys, backups and administrators' second factors,
//! made at each look.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kunci_domain::clock::Clock;
use kunci_domain::environment::Environment;
use kunci_domain::health::{Posture, PostureFinding, PostureLevel};
use kunci_domain::keys::KeyRingService;

use crate::config::Loaded;
use crate::doctor::{self, Finding, Level};

/// The overview's posture: fixed findings from start, live ones at each look.
#[derive(Debug)]
pub struct ConsolePosture {
    fixed: Vec<PostureFinding>,
    keys: Arc<KeyRingService>,
    rotation_days: u32,
    backup_dir: PathBuf,
    backup_hours: u32,
    environment: Environment,
    fingerprint: String,
    database: kunci_store::Database,
    clock: Arc<dyn Clock>,
}

fn finding(f: Finding) -> Option<PostureFinding> {
    (!f.code.is_empty()).then_some(PostureFinding {
        level: match f.level {
            Level::Pass => PostureLevel::Pass,
            Level::Warn => PostureLevel::Warn,
            Level::Fail => PostureLevel::Fail,
        },
        code: f.code,
        args: f.args,
    })
}

impl ConsolePosture {
    /// Makes the fixed checks of `loaded`'s deployment now.
    pub async fn start(
        loaded: &Loaded,
        database: kunci_store::Database,
        keys: Arc<KeyRingService>,
        fingerprint: String,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut fixed = doctor::key_files(&loaded.root, loaded.environment, None);
        fixed.extend(doctor::plaintext_env_files(
            &loaded.root,
            loaded.environment,
        ));
        for leftover in crate::backup::leftovers::find(&crate::backup::folders(loaded)) {
            fixed.push(
                Finding::new(Level::Fail, "a killed backup's leftover", None)
                    .code("backup_leftover")
                    .arg("path", leftover.display()),
            );
        }
        for (key, file) in loaded.plaintext_secrets() {
            fixed.push(
                Finding::new(Level::Warn, "a secret in a plain file", None)
                    .code("config_secret")
                    .arg("key", key)
                    .arg("file", file),
            );
        }
        fixed.extend(doctor::redis_persistence(loaded).await);
        let backup = &loaded.config.backup;
        Self {
            fixed: fixed.into_iter().filter_map(finding).collect(),
            keys,
            rotation_days: loaded.config.security.key_rotation_days,
            backup_dir: loaded.root.join(&backup.dir),
            backup_hours: backup.interval_hours,
            environment: loaded.environment,
            fingerprint,
            database,
            clock,
        }
    }
}

#[async_trait]
impl Posture for ConsolePosture {
    async fn findings(&self) -> Vec<PostureFinding> {
        let now = self.clock.now_unix();
        let mut findings = self.fixed.clone();
        let live = doctor::signing_keys(&self.keys.keys(), self.rotation_days, now)
            .into_iter()
            .chain(doctor::backups(
                &self.backup_dir,
                self.backup_hours,
                self.environment,
                Some(&self.fingerprint),
                now,
            ));
        findings.extend(live.filter_map(finding));
        let admins = doctor::second_factors(&self.database).await;
        findings.extend(admins.into_iter().filter_map(finding));
        findings
    }
}

#[cfg(test)]
mod tests {
    use kunci_web::i18n::{Lang, catalogs};

    /// Every code a finding carries has its words in both catalogs.
    #[test]
    fn every_finding_the_console_shows_has_its_words() {
        let sources = [include_str!("doctor.rs"), include_str!("posture.rs")];
        let mut codes = Vec::new();
        for source in sources {
            for part in source.split(".code(\"").skip(1) {
                if let Some(code) = part.split('"').next() {
                    codes.push(code.to_owned());
                }
            }
        }
        assert!(codes.len() > 20, "the scan found the codes: {codes:?}");
        for lang in Lang::ALL {
            let missing: Vec<&String> = codes
                .iter()
                .filter(|c| !catalogs().has(lang, &format!("doctor-{c}")))
                .collect();
            assert!(missing.is_empty(), "not in the {lang} catalog: {missing:?}");
        }
    }
}
