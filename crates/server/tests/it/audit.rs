//! The audit log and service clients from the command line: what gets recorded, `audit verify`
//! naming a tampered entry, `audit export`, and actions refused when they cannot be audited.

use crate::helpers::Kunci;

/// Runs SQL on the project's SQLite database, as someone with access to the file could.
fn tamper(kunci: &Kunci, statements: &[&str]) {
    crate::helpers::with_sqlite(&kunci.path("instance/kunci.db"), async |pool| {
        for statement in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(pool)
                .await
                .unwrap();
        }
    });
}

fn ready() -> Kunci {
    let kunci = Kunci::new();
    kunci.run(&["db", "migrate"]).success();
    kunci
}

#[test]
fn a_client_secret_is_shown_once_and_never_listed() {
    let kunci = ready();
    let added = kunci.run(&["client", "add", "billing"]);
    let secret = added.success().stdout().trim().to_owned();
    assert!(secret.starts_with("kcs_") && secret.len() == 47, "{secret}");
    assert!(
        added.stderr().contains("cannot show it again"),
        "{}",
        added.stderr()
    );
    let again = kunci.run(&["client", "add", "billing"]);
    assert_eq!(again.code(), Some(1));
    assert!(
        again.stderr().contains("exists already"),
        "{}",
        again.stderr()
    );
    let bad = kunci.run(&["client", "add", "Bad Name"]);
    assert_eq!(bad.code(), Some(1));
    assert!(
        bad.stderr().contains("is not a client name"),
        "{}",
        bad.stderr()
    );

    let list = kunci.run(&["client", "list"]);
    let text = list.success().stdout();
    assert!(text.contains("billing"), "{text}");
    assert!(!text.contains(&secret), "{text}");
    kunci.run(&["client", "revoke", "billing"]).success();
    let text = kunci.run(&["client", "list"]).stdout();
    let line = text.lines().find(|l| l.starts_with("billing")).unwrap();
    assert_ne!(
        line.split_whitespace().nth(2),
        Some("-"),
        "revoked shows a date: {line}"
    );
    let twice = kunci.run(&["client", "revoke", "billing"]);
    assert_eq!(twice.code(), Some(1));
    assert!(
        twice.stderr().contains("no active client"),
        "{}",
        twice.stderr()
    );
}

#[test]
fn actions_are_recorded_and_exported_without_secrets() {
    let kunci = ready();
    let secret = kunci.run(&["client", "add", "billing"]).stdout();
    let secret = secret.trim();
    kunci.run(&["keys", "rotate", "--purpose", "jwt"]).success();
    kunci.run(&["client", "revoke", "billing"]).success();

    let verify = kunci.run(&["audit", "verify"]);
    assert!(
        verify.success().stdout().contains("intact: 3 entries"),
        "{}",
        verify.stdout()
    );
    let export = kunci.run(&["audit", "export"]).success().stdout();
    let entries: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "service_client.created",
            "signing_key.rotated",
            "service_client.revoked"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == "cli" && e["outcome"] == "allowed")
    );
    assert!(!export.contains(secret), "no secret in the audit log");
    assert!(
        entries[1]["target"]
            .as_str()
            .unwrap()
            .starts_with("jwt jk_")
    );

    let none = kunci.run(&["audit", "export", "--since", "2999-01-01"]);
    assert_eq!(none.success().stdout(), "");
    let bad = kunci.run(&["audit", "export", "--since", "yesterday"]);
    assert_eq!(bad.code(), Some(1));
    assert!(
        bad.stderr().contains("`--since` takes a date"),
        "{}",
        bad.stderr()
    );
}

#[test]
fn audit_verify_names_the_edited_entry() {
    let kunci = ready();
    for name in ["one", "two", "three"] {
        kunci.run(&["client", "add", name]).success();
    }
    kunci.run(&["audit", "verify"]).success();
    tamper(
        &kunci,
        &[
            "DROP TRIGGER audit_log_no_update",
            "UPDATE audit_log SET target = 'someone-else' WHERE seq = 2",
        ],
    );
    let verify = kunci.run(&["audit", "verify"]);
    assert_eq!(verify.code(), Some(1), "{}", verify.all());
    assert!(
        verify.stderr().contains("entry 2 was edited or forged"),
        "{}",
        verify.stderr()
    );
}

#[test]
fn audit_verify_names_a_deleted_entry() {
    let kunci = ready();
    for name in ["one", "two", "three"] {
        kunci.run(&["client", "add", name]).success();
    }
    tamper(
        &kunci,
        &[
            "DROP TRIGGER audit_log_no_delete",
            "DELETE FROM audit_log WHERE seq = 2",
        ],
    );
    let verify = kunci.run(&["audit", "verify"]);
    assert_eq!(verify.code(), Some(1));
    assert!(
        verify.stderr().contains("entry 2 was deleted"),
        "{}",
        verify.stderr()
    );
}

#[test]
fn an_action_that_cannot_be_audited_is_not_performed() {
    let kunci = ready();
    let before = kunci.run(&["keys", "list"]).success().stdout();
    tamper(
        &kunci,
        &["CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log \
           BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    );
    let rotate = kunci.run(&["keys", "rotate", "--purpose", "cookie"]);
    assert_eq!(rotate.code(), Some(1));
    assert!(
        rotate.stderr().contains("the audit log cannot be written"),
        "{}",
        rotate.stderr()
    );
    assert_eq!(
        kunci.run(&["keys", "list"]).stdout(),
        before,
        "no key was rotated"
    );
    let add = kunci.run(&["client", "add", "billing"]);
    assert_eq!(add.code(), Some(1));
    assert!(
        add.stdout().is_empty(),
        "no secret printed for a client never created"
    );
    assert!(!kunci.run(&["client", "list"]).stdout().contains("billing"));
}

#[test]
fn an_intent_whose_outcome_was_never_written_is_shown_as_unknown() {
    let kunci = ready();
    // An unlock goes to the lockout store, which may be Redis: an intent, then the outcome.
    // Here the log takes the intent and then refuses every other entry, as a crash right
    // after the action would leave it.
    tamper(
        &kunci,
        &["CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log \
           WHEN NEW.outcome <> 'started' BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    );
    kunci.run(&["user", "unlock", "alice"]).success();
    tamper(&kunci, &["DROP TRIGGER audit_log_full"]);
    kunci.run(&["user", "unlock", "bob"]).success();

    let verify = kunci.run(&["audit", "verify"]);
    assert!(verify.success().stdout().contains("intact: 3 entries"));
    assert!(
        verify
            .stderr()
            .contains("1 action(s) of unknown outcome (an intent with no outcome after it"),
        "{}",
        verify.stderr()
    );
    assert!(verify.stderr().contains("entries 1"), "{}", verify.stderr());
    let export = kunci.run(&["audit", "export"]).success().stdout();
    let outcomes: Vec<(String, String)> = export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| {
            let target = e["target"].as_str().unwrap().to_owned();
            (target, e["outcome"].as_str().unwrap().to_owned())
        })
        .collect();
    let pair = |t: &str, o: &str| (t.to_owned(), o.to_owned());
    assert_eq!(
        outcomes,
        [
            pair("alice", "unknown"),
            pair("bob", "started"),
            pair("bob", "allowed")
        ],
        "never `allowed` for the unlock whose outcome is not known"
    );
}

#[test]
fn accounts_are_managed_from_the_command_line_with_the_password_on_stdin() {
    let kunci = ready();
    let added = kunci.run_with_input(
        &["user", "add", "Alice", "--scope", "admin"],
        "s3cret passphrase\n",
    );
    assert!(
        added
            .success()
            .stdout()
            .contains("created the account `alice` (user admin)"),
        "{}",
        added.stdout()
    );
    assert!(
        !added.all().contains("s3cret"),
        "the password is never echoed"
    );
    let short = kunci.run_with_input(&["user", "add", "carol"], "eleven char\n");
    assert_eq!(short.code(), Some(1));
    assert!(
        short.stderr().contains("at least 12 characters"),
        "security.password_min_length: {}",
        short.stderr()
    );
    let again = kunci.run_with_input(&["user", "add", "alice"], "another passphrase\n");
    assert_eq!(again.code(), Some(1));
    assert!(
        again.stderr().contains("exists already"),
        "{}",
        again.stderr()
    );
    let empty = kunci.run_with_input(&["user", "add", "bob"], "\n");
    assert_eq!(empty.code(), Some(1));
    assert!(
        empty.stderr().contains("the password is empty"),
        "{}",
        empty.stderr()
    );
    let long = kunci.run_with_input(&["user", "add", "bob"], &format!("{}\n", "x".repeat(257)));
    assert_eq!(long.code(), Some(1));
    assert!(long.stderr().contains("256 bytes"), "{}", long.stderr());

    kunci.run(&["user", "disable", "alice"]).success();
    let list = kunci.run(&["user", "list"]).success().stdout();
    let line = list.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(
        line.contains("user,admin") && line.contains("disabled"),
        "{line}"
    );
    assert!(!list.contains("argon2"), "no hashes listed");
    kunci.run(&["user", "enable", "alice"]).success();
    kunci
        .run_with_input(&["user", "passwd", "alice"], "new passphrase\n")
        .success();
    let missing = kunci.run_with_input(&["user", "passwd", "nobody"], "a long enough one\n");
    assert_eq!(missing.code(), Some(1));
    let unlock = kunci.run(&["user", "unlock", "Alice"]);
    assert!(
        unlock
            .success()
            .stdout()
            .contains("`alice` has no lock: nothing to do"),
        "{}",
        unlock.stdout()
    );

    let export = kunci.run(&["audit", "export"]).success().stdout();
    for action in [
        "account.created",
        "account.disabled",
        "account.enabled",
        "account.password_changed",
    ] {
        assert!(export.contains(action), "{action} audited: {export}");
    }
    assert!(!export.contains("s3cret") && !export.contains("new pass"));

    // Scopes: given takes effect at the next login; taken ends every session and app login.
    let given = kunci.run(&["user", "scope", "alice", "--add", "admin"]);
    assert!(
        given.success().stdout().contains("user admin"),
        "{}",
        given.stdout()
    );
    let taken = kunci.run(&["user", "scope", "alice", "--remove", "admin"]);
    let said = taken.success().stdout();
    assert!(
        said.contains("now has user") && said.contains("session(s)"),
        "{said}"
    );
    let line = kunci.run(&["user", "list"]).success().stdout();
    let line = line
        .lines()
        .find(|l| l.starts_with("alice"))
        .unwrap()
        .to_owned();
    assert!(line.contains("user ") && !line.contains("admin"), "{line}");
    let refused = kunci.run(&["user", "scope", "alice", "--remove", "user"]);
    assert_eq!(refused.code(), Some(1));
    assert!(
        kunci
            .run(&["audit", "export"])
            .success()
            .stdout()
            .contains("account.scopes_changed")
    );
}

#[test]
fn api_keys_are_managed_from_the_command_line_and_never_printed() {
    let kunci = ready()
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__CX", "cx-123");
    let key = |n: u32| format!("AIzaSyCli{n:030}");
    let added = kunci.run_with_input(
        &["apikey", "add", "google", "--priority", "2"],
        &format!("{}\n", key(1)),
    );
    let out = added.success().stdout();
    assert!(
        out.contains("added key_") && out.contains("AIza…0001"),
        "{out}"
    );
    let again = kunci.run_with_input(&["apikey", "add", "google"], &format!("{}\n", key(1)));
    assert_eq!(again.code(), Some(1));
    assert!(
        again.stderr().contains("in the pool already"),
        "{}",
        again.stderr()
    );
    let bad = kunci.run_with_input(&["apikey", "add", "google"], "sk-wrong-kind-of-key\n");
    assert_eq!(bad.code(), Some(1));
    assert!(
        bad.stderr()
            .contains("does not look like a key of `google`"),
        "{}",
        bad.stderr()
    );
    let nowhere = kunci.run_with_input(&["apikey", "add", "bing"], &format!("{}\n", key(9)));
    assert!(
        nowhere.stderr().contains("known: google"),
        "{}",
        nowhere.stderr()
    );

    let file = kunci.path("keys.txt");
    std::fs::write(
        &file,
        format!(
            "# keys of project 1\n{}\n\n{}\nnot-a-key-at-all-really\n{}\n",
            key(2),
            key(3),
            key(1)
        ),
    )
    .unwrap();
    let imported = kunci.run(&["apikey", "import", "google", file.to_str().unwrap()]);
    let out = imported.success().stdout();
    assert!(out.contains("imported 2 key(s)"), "{out}");
    assert!(
        out.contains("skipped line 5") && out.contains("skipped line 6"),
        "{out}"
    );
    assert!(
        !out.contains("not-a-key-at-all") && !out.contains(&key(1)),
        "{out}"
    );

    let list = kunci.run(&["apikey", "list"]).success().stdout();
    assert_eq!(list.lines().count(), 4, "{list}");
    for n in 1..=3 {
        assert!(!list.contains(&key(n)[4..]), "{list}");
    }
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        kunci
            .run(&["apikey", "disable", &id])
            .success()
            .stdout()
            .contains("disabled")
    );
    assert!(
        kunci
            .run(&["apikey", "enable", &id])
            .success()
            .stdout()
            .contains("active")
    );
    kunci.run(&["apikey", "remove", &id]).success();
    assert_eq!(kunci.run(&["apikey", "list"]).stdout().lines().count(), 3);
    let export = kunci.run(&["audit", "export"]).stdout();
    for n in 1..=3 {
        assert!(!export.contains(&key(n)[4..]), "no key in the audit log");
    }
}
