//! Accounts on every SQL backend, through the service that owns the rules: names normalised
//! and unique, passwords checked by Argon2id, one answer for every kind of wrong.

use std::sync::Arc;

use kunci_crypto::password::{self, Cost};
use kunci_crypto::{MasterKey, SecretString};
use kunci_domain::accounts::{AccountError, AccountStore as _, Accounts, PasswordPool};
use kunci_domain::audit::AuditLog;
use kunci_domain::clock::ManualClock;
use kunci_domain::session::Scope;
use kunci_store::Database;
use time::macros::datetime;

async fn accounts(db: &Database, cost: Cost) -> Accounts {
    db.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 09:00 UTC)));
    let audit = AuditLog::new(
        Arc::new(db.clone()),
        MasterKey::generate().unwrap(),
        clock.clone(),
    );
    Accounts::new(
        Arc::new(db.clone()),
        PasswordPool::new(2, cost),
        audit,
        clock,
    )
    .await
    .unwrap()
}

fn secret(s: &str) -> SecretString {
    SecretString::new(s.to_owned())
}

async fn accounts_are_created_with_normalised_unique_names(db: Database) {
    let accounts = accounts(&db, Cost::TESTING).await;
    let alice = accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            " Alice ",
            &secret("pw-alice"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.scopes, [Scope::User]);
    let root = accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "root",
            &secret("pw-root"),
            true,
        )
        .await
        .unwrap();
    assert_eq!(root.scopes, [Scope::User, Scope::Admin]);
    assert!(matches!(
        accounts.add(&kunci_domain::audit::Actor::cli(), "ALICE", &secret("other"), false).await,
        Err(AccountError::Exists(name)) if name == "alice"
    ));
    assert!(matches!(
        accounts
            .add(
                &kunci_domain::audit::Actor::cli(),
                "no spaces please",
                &secret("x"),
                false
            )
            .await,
        Err(AccountError::BadName(_))
    ));
    let stored = db.by_id(&alice.id).await.unwrap().unwrap();
    assert_eq!(stored, alice);
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "never the password"
    );
    let names: Vec<String> = accounts
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["alice", "root"]);
}

async fn only_the_right_password_of_an_enabled_account_logs_in(db: Database) {
    let accounts = accounts(&db, Cost::TESTING).await;
    accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &secret("right"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        accounts
            .authenticate("ALICE", &secret("right"))
            .await
            .unwrap()
            .username,
        "alice"
    );
    for (name, password) in [
        ("alice", "wrong"),
        ("nobody", "right"),
        ("bad name!", "right"),
        ("alice", ""),
    ] {
        assert!(
            matches!(
                accounts.authenticate(name, &secret(password)).await,
                Err(AccountError::InvalidCredentials)
            ),
            "{name}/{password}"
        );
    }
    let long = "a".repeat(257);
    assert!(matches!(
        accounts.authenticate("alice", &secret(&long)).await,
        Err(AccountError::PasswordTooLong)
    ));
    accounts
        .set_disabled(&kunci_domain::audit::Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert!(
        matches!(
            accounts.authenticate("alice", &secret("right")).await,
            Err(AccountError::InvalidCredentials)
        ),
        "disabled answers like a wrong password"
    );
    accounts
        .set_disabled(&kunci_domain::audit::Actor::cli(), "alice", false)
        .await
        .unwrap();
    accounts
        .set_password(&kunci_domain::audit::Actor::cli(), "alice", &secret("new"))
        .await
        .unwrap();
    assert!(
        accounts
            .authenticate("alice", &secret("right"))
            .await
            .is_err()
    );
    assert!(accounts.authenticate("alice", &secret("new")).await.is_ok());
    assert!(matches!(
        accounts
            .set_password(&kunci_domain::audit::Actor::cli(), "nobody", &secret("x"))
            .await,
        Err(AccountError::Unknown(_))
    ));
}

async fn old_hash_parameters_are_upgraded_at_login(db: Database) {
    let accounts = accounts(&db, Cost::TESTING).await;
    let alice = accounts
        .add(
            &kunci_domain::audit::Actor::cli(),
            "alice",
            &secret("right"),
            false,
        )
        .await
        .unwrap();
    let weaker = password::hash(
        b"right",
        Cost {
            m_kib: 32,
            t: 1,
            p: 1,
        },
    )
    .unwrap();
    db.set_password("alice", &weaker, alice.password_changed_at, None)
        .await
        .unwrap();
    accounts
        .authenticate("alice", &secret("right"))
        .await
        .unwrap();
    let stored = db.by_username("alice").await.unwrap().unwrap();
    assert!(
        !password::needs_rehash(&stored.password_hash, Cost::TESTING),
        "{}",
        stored.password_hash
    );
    assert!(
        accounts
            .authenticate("alice", &secret("right"))
            .await
            .is_ok()
    );
}

crate::backends!(
    accounts_are_created_with_normalised_unique_names,
    only_the_right_password_of_an_enabled_account_logs_in,
    old_hash_parameters_are_upgraded_at_login,
);
