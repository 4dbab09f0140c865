//! Master keys and encrypted env files, through the binary: every error code from a crafted
//! file, permission refusals, edit, rekey, textconv, and no secret in any output.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use kunci_crypto::MasterKey;

use crate::helpers::{Kunci, get_blocking, mode};

const CANARY: &str = "CANARYs3cr3tValue";

fn plaintext() -> String {
    format!(
        "# secrets\nKUNCI__DATA__REDIS_URL=redis://:{CANARY}@127.0.0.1:1/0\nKUNCI__LOGGER__LEVEL=warn\n"
    )
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A project whose given environment has an encrypted file, with the key in KUNCI_MASTER_KEY.
fn encrypted_project(env: &str) -> (Kunci, MasterKey) {
    let key = MasterKey::generate().unwrap();
    let kunci = Kunci::new()
        .var("KUNCI_MASTER_KEY", key.encode().expose())
        .var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://example.com");
    kunci.write(&format!(".env.{env}"), &plaintext());
    kunci.run(&["env", "encrypt", env]).success();
    std::fs::remove_file(kunci.path(&format!(".env.{env}"))).unwrap();
    (kunci, key)
}

#[test]
fn key_generate_prints_a_versioned_key_or_writes_a_private_file_once() {
    let kunci = Kunci::new();
    let printed = kunci.run(&["key", "generate"]);
    let text = printed.success().stdout();
    assert!(
        text.starts_with("kunci-mk-v1:") && text.trim().len() == 55,
        "{text}"
    );
    MasterKey::parse(&text).unwrap();

    let out = kunci.path("master.key");
    let written = kunci.run(&["key", "generate", "--out", out.to_str().unwrap()]);
    assert!(written.success().stdout().contains("fingerprint"));
    assert_eq!(mode(&out), 0o600);
    let before = std::fs::read_to_string(&out).unwrap();
    assert!(
        !written.all().contains(before.trim()),
        "the key file's content is not printed"
    );
    let again = kunci.run(&["key", "generate", "--out", out.to_str().unwrap()]);
    assert_eq!(again.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        before,
        "never overwritten"
    );
}

#[test]
fn every_environment_round_trips_and_the_plaintext_is_only_on_stdout() {
    for env in ["development", "staging", "production", "test"] {
        let (kunci, _) = encrypted_project(env);
        let file = std::fs::read_to_string(kunci.path(&format!(".env.{env}.enc"))).unwrap();
        assert!(
            file.starts_with(&format!("kunci-env v1 env={env} ")),
            "{file}"
        );
        assert!(!file.contains(CANARY));
        assert_eq!(mode(&kunci.path(&format!(".env.{env}.enc"))), 0o600);
        let decrypted = kunci.run(&["env", "decrypt", env]);
        assert_eq!(decrypted.success().stdout(), plaintext());
        assert!(!decrypted.stderr().contains(CANARY));
    }
}

#[test]
fn development_creates_its_key_on_first_use_and_aliases_work() {
    let kunci = Kunci::new();
    kunci.write(".env.development", &plaintext());
    kunci.run(&["env", "encrypt", "dev"]).success();
    let key_file = kunci.path("instance/.masterkey");
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&kunci.path("instance")), 0o700);
    assert_eq!(
        kunci
            .run(&["env", "decrypt", "development"])
            .success()
            .stdout(),
        plaintext()
    );
}

#[test]
fn the_encrypted_file_is_layered_into_the_configuration_and_shown_masked() {
    let (kunci, _) = encrypted_project("production");
    let shown = kunci.run(&["--env", "prod", "config", "show"]);
    let out = shown.success().stdout();
    assert!(!shown.all().contains(CANARY), "{out}");
    // Every value from the encrypted file is masked, whatever its key.
    assert!(
        out.contains("level = \"…\"  # encrypted .env.production.enc (KUNCI__LOGGER__LEVEL)"),
        "{out}"
    );
    assert!(
        out.contains("redis_url = \"redis://:…@127.0.0.1:1/0\"  # encrypted .env.production.enc"),
        "{out}"
    );
}

#[test]
fn a_staging_file_renamed_to_production_is_refused() {
    let (kunci, _) = encrypted_project("staging");
    std::fs::rename(
        kunci.path(".env.staging.enc"),
        kunci.path(".env.production.enc"),
    )
    .unwrap();
    let outcome = kunci.run(&["--env", "production", "config", "check"]);
    assert_eq!(outcome.code(), Some(1));
    assert!(
        outcome.stderr().contains(
            "[wrong_environment] this file is for `staging`, you are running `production`"
        ),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn another_master_key_is_named_by_fingerprint_never_by_value() {
    let (kunci, key) = encrypted_project("staging");
    let other = MasterKey::generate().unwrap();
    let kunci = kunci.var("KUNCI_MASTER_KEY", other.encode().expose());
    let outcome = kunci.run(&["env", "decrypt", "staging"]);
    assert_eq!(outcome.code(), Some(1));
    let expected = format!(
        "[wrong_key] encrypted for master key {}, you supplied {}",
        key.fingerprint(),
        other.fingerprint()
    );
    assert!(outcome.stderr().contains(&expected), "{}", outcome.stderr());
    assert!(!outcome.all().contains(&other.encode().expose()[12..]));
}

#[test]
fn a_changed_byte_is_reported_as_corruption_with_nothing_decrypted() {
    let (kunci, _) = encrypted_project("staging");
    let path = kunci.path(".env.staging.enc");
    let mut bytes = std::fs::read(&path).unwrap();
    let i = bytes.len() - 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, bytes).unwrap();
    chmod(&path, 0o600);
    let outcome = kunci.run(&["env", "decrypt", "staging"]);
    assert_eq!(outcome.code(), Some(1));
    assert!(
        outcome
            .stderr()
            .contains("[corrupted] the file is corrupted or was edited"),
        "{}",
        outcome.stderr()
    );
    assert!(outcome.stdout().is_empty(), "never a partial result");
}

#[test]
fn loose_permissions_on_each_checked_path_stop_the_start_and_the_fix_works() {
    let key = MasterKey::generate().unwrap();
    let kunci = Kunci::new();
    let key_file = kunci.path("mk");
    std::fs::write(&key_file, key.encode().expose()).unwrap();
    chmod(&key_file, 0o600);
    let kunci = kunci.var("KUNCI_MASTER_KEY_FILE", key_file.to_str().unwrap());
    kunci.write(".env.development", &plaintext());
    kunci.run(&["env", "encrypt", "development"]).success();
    std::fs::remove_file(kunci.path(".env.development")).unwrap();
    kunci.run(&["db", "migrate"]).success();

    let checked = [
        (kunci.path("mk"), 0o644, 0o600, "chmod 600"),
        (
            kunci.path(".env.development.enc"),
            0o640,
            0o600,
            "chmod 600",
        ),
        (kunci.path("instance"), 0o755, 0o700, "chmod 700"),
        (kunci.path("instance/kunci.db"), 0o604, 0o600, "chmod 600"),
    ];
    for (path, loose, fixed, fix) in checked {
        chmod(&path, loose);
        let outcome = kunci.run(&["serve"]);
        assert_eq!(outcome.code(), Some(1), "{}", path.display());
        let expected = format!("{fix} {}", path.display());
        assert!(
            outcome.stderr().contains(&expected),
            "{}: {}",
            path.display(),
            outcome.stderr()
        );
        chmod(&path, fixed);
    }
    let server = kunci.serve(&[]);
    assert_eq!(get_blocking(&server.url("/healthz")).status(), 200);
}

#[test]
fn the_development_key_file_is_checked_too() {
    let kunci = Kunci::new();
    kunci.write(".env.development", &plaintext());
    kunci.run(&["env", "encrypt", "development"]).success();
    chmod(&kunci.path("instance/.masterkey"), 0o644);
    let outcome = kunci.run(&["env", "decrypt", "development"]);
    assert!(
        outcome.stderr().contains("chmod 600"),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn production_without_a_key_says_how_to_give_one() {
    let kunci = Kunci::new().var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://example.com");
    // A development key file lying around must not be used.
    kunci
        .run(&[
            "key",
            "generate",
            "--out",
            kunci.path("instance-key").to_str().unwrap(),
        ])
        .success();
    std::fs::create_dir_all(kunci.path("instance")).unwrap();
    chmod(&kunci.path("instance"), 0o700);
    std::fs::rename(
        kunci.path("instance-key"),
        kunci.path("instance/.masterkey"),
    )
    .unwrap();
    let outcome = kunci.run(&["--env", "production", "serve"]);
    assert_eq!(outcome.code(), Some(1));
    assert!(
        outcome
            .stderr()
            .contains("give it at run time with KUNCI_MASTER_KEY"),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn production_takes_its_key_from_master_key_command() {
    let key = MasterKey::generate().unwrap();
    let kunci = Kunci::new().var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://example.com");
    kunci.write("secret-manager.key", key.encode().expose());
    kunci.write(
        "config/production.toml",
        &format!(
            "[security]\nmaster_key_command = \"cat {}\"\n",
            kunci.path("secret-manager.key").display()
        ),
    );
    let kunci = kunci.var("KUNCI_MASTER_KEY", key.encode().expose());
    kunci.write(".env.production", &plaintext());
    kunci.run(&["env", "encrypt", "production"]).success();
    std::fs::remove_file(kunci.path(".env.production")).unwrap();
    // Now without the variable: the command supplies the key.
    let kunci = kunci.without("KUNCI_MASTER_KEY");
    let outcome = kunci.run(&["--env", "production", "config", "check"]);
    outcome.success();
}

#[test]
fn a_plaintext_file_beside_the_encrypted_one_stops_production() {
    let (kunci, _) = encrypted_project("production");
    kunci.write(".env.production", &plaintext());
    let outcome = kunci.run(&["--env", "production", "serve"]);
    assert_eq!(outcome.code(), Some(1));
    assert!(
        outcome
            .stderr()
            .contains(".env.production lies next to .env.production.enc"),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn edit_saves_through_the_editor_and_leaves_no_plaintext_behind() {
    let (kunci, _) = encrypted_project("staging");
    let scratch = tempfile::tempdir().unwrap();
    let tmpdir = scratch.path().to_str().unwrap().to_owned();

    let appending = kunci.var("TMPDIR", &tmpdir).var(
        "EDITOR",
        "sh -c 'echo KUNCI__DATA__MAX_CONNECTIONS=7 >> \"$1\"' --",
    );
    let saved = appending.run(&["env", "edit", "staging"]);
    assert!(
        saved.success().stdout().contains("saved 3 entries"),
        "{}",
        saved.all()
    );
    assert!(
        appending
            .run(&["env", "decrypt", "staging"])
            .stdout()
            .contains("MAX_CONNECTIONS=7")
    );
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "plaintext left behind"
    );

    let unchanged = appending.var("EDITOR", "true");
    assert!(
        unchanged
            .run(&["env", "edit", "staging"])
            .success()
            .stdout()
            .contains("no changes")
    );

    let failing = unchanged.var("EDITOR", "sh -c 'echo broken >> \"$1\"; exit 4' --");
    let before = std::fs::read(failing.path(".env.staging.enc")).unwrap();
    let outcome = failing.run(&["env", "edit", "staging"]);
    assert_eq!(outcome.code(), Some(1));
    assert!(
        outcome.stderr().contains("nothing was changed"),
        "{}",
        outcome.stderr()
    );
    assert_eq!(
        std::fs::read(failing.path(".env.staging.enc")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "plaintext left behind"
    );

    let invalid = failing.var("EDITOR", "sh -c 'echo \"NOT VALID\" >> \"$1\"' --");
    let outcome = invalid.run(&["env", "edit", "staging"]);
    assert!(
        outcome.stderr().contains("line 5: expected `=`"),
        "{}",
        outcome.stderr()
    );
    assert_eq!(
        std::fs::read(invalid.path(".env.staging.enc")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "plaintext left behind"
    );
}

#[test]
fn rekey_keeps_a_backup_until_the_new_key_is_used_once() {
    let (kunci, old) = encrypted_project("staging");
    let new_key_path = kunci.path("new.key");
    let outcome = kunci.run(&[
        "env",
        "rekey",
        "staging",
        "--out",
        new_key_path.to_str().unwrap(),
    ]);
    outcome.success();
    assert!(
        !outcome.stdout().contains("kunci-mk-v1"),
        "the key went to the file, not the screen"
    );
    let new = MasterKey::parse(&std::fs::read_to_string(&new_key_path).unwrap()).unwrap();
    assert!(kunci.path(".env.staging.enc.bak").exists());
    assert!(outcome.stderr().contains(&new.fingerprint().to_string()));
    assert!(outcome.stderr().contains(&old.fingerprint().to_string()));

    let with_new = kunci.var("KUNCI_MASTER_KEY", new.encode().expose());
    with_new
        .run(&["--env", "staging", "config", "check"])
        .success();
    assert!(
        !with_new.path(".env.staging.enc.bak").exists(),
        "retired after the first use"
    );
}

#[test]
fn diff_works_as_a_textconv_driver_without_showing_values() {
    let (kunci, _) = encrypted_project("staging");
    let file = kunci.path(".env.staging.enc");
    let shown = kunci.run(&["env", "diff", file.to_str().unwrap()]);
    let out = shown.success().stdout();
    assert!(out.contains("KUNCI__DATA__REDIS_URL=<value "), "{out}");
    assert!(!shown.all().contains(CANARY));
    let values = kunci.run(&["env", "diff", file.to_str().unwrap(), "--show-values"]);
    assert!(values.stdout().contains(CANARY));
    let keyless = kunci.without("KUNCI_MASTER_KEY");
    assert!(
        keyless
            .run(&["env", "diff", file.to_str().unwrap()])
            .success()
            .stdout()
            .contains("values not shown")
    );
}

#[test]
fn no_command_prints_the_secret_or_the_key() {
    let (kunci, key) = encrypted_project("staging");
    let key_text = key.encode().expose().to_owned();
    let key_body = &key_text[12..];
    let file = kunci.path(".env.staging.enc");
    let runs: [&[&str]; 5] = [
        &["--env", "staging", "config", "show"],
        &["--env", "staging", "config", "check"],
        &["--env", "staging", "db", "status"],
        &["env", "diff", file.to_str().unwrap()],
        &["env", "encrypt", "staging"],
    ];
    for args in runs {
        let all = kunci.run(args).all();
        assert!(
            !all.contains(CANARY) && !all.contains(key_body),
            "{args:?}: {all}"
        );
    }
    kunci.run(&["--env", "staging", "db", "migrate"]).success();
    let server = kunci.serve(&["--env", "staging"]);
    let log = server.startup_output.join("\n");
    assert!(!log.contains(CANARY) && !log.contains(key_body), "{log}");
    let (_, rest) = server.terminate();
    let rest = rest.join("\n");
    assert!(!rest.contains(CANARY) && !rest.contains(key_body), "{rest}");
}
