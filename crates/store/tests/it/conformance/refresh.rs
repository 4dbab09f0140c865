//! Refresh-token families on every SQL backend, through the rules that own them: rotation,
//! reuse detection, the grace window for one app's concurrent refreshes, client binding.

use std::sync::{Arc, Mutex};

use kunci_crypto::{MasterKey, SecretString};
use kunci_domain::audit::AuditLog;
use kunci_domain::clock::ManualClock;
use kunci_domain::notify::{EventKind, Notification, Notifier};
use kunci_domain::refresh::{
    MintError, Minter, Minting, Pair, RefreshError, RefreshPolicy, RefreshTokens,
};
use kunci_store::Database;
use time::Duration;
use time::macros::datetime;

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Notification>>);

impl Notifier for Recorder {
    fn notify(&self, n: Notification) {
        self.0.lock().unwrap().push(n);
    }
}

struct Fixture {
    tokens: RefreshTokens,
    clock: ManualClock,
    heard: Arc<Recorder>,
    audit: AuditLog,
}

async fn fixture(db: &Database) -> Fixture {
    db.migrate().await.unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let master = MasterKey::generate().unwrap();
    let audit = AuditLog::new(
        Arc::new(db.clone()),
        master.clone(),
        Arc::new(clock.clone()),
    );
    let heard = Arc::new(Recorder::default());
    let tokens = RefreshTokens::new(
        Arc::new(db.clone()),
        master,
        Arc::new(clock.clone()),
        audit.clone(),
        heard.clone(),
        RefreshPolicy {
            token_secs: 30 * 86_400,
            family_secs: 90 * 86_400,
            grace_secs: 5,
        },
    );
    Fixture {
        tokens,
        clock,
        heard,
        audit,
    }
}

const APP: &str = "ios-app-0001";

/// Access tokens that are just unique strings.
struct Fake;

#[async_trait::async_trait]
impl Minter for Fake {
    async fn mint(&self, m: Minting<'_>) -> Result<(String, i64), MintError> {
        Ok((
            format!("access-for-{}-{}", m.account_id, uuid::Uuid::new_v4()),
            900,
        ))
    }
}

/// Refuses every account, as for a disabled one.
struct Refusing;

#[async_trait::async_trait]
impl Minter for Refusing {
    async fn mint(&self, _: Minting<'_>) -> Result<(String, i64), MintError> {
        Err(MintError::Refused)
    }
}

const MINT: &Fake = &Fake;

async fn refresh(f: &Fixture, pair: &Pair, client: &str) -> Result<Pair, RefreshError> {
    f.tokens
        .refresh(&SecretString::new(pair.refresh_token.clone()), client, MINT)
        .await
}

async fn every_refresh_rotates_and_a_reused_token_kills_the_family(db: Database) {
    let f = fixture(&db).await;
    let first = f.tokens.open("acc-1", APP, MINT).await.unwrap();
    assert!(first.refresh_token.starts_with("krt_"));
    f.clock.advance(Duration::seconds(60));
    let second = refresh(&f, &first, APP).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);

    f.clock.advance(Duration::seconds(60));
    // The first token again, long after the grace window: stolen.
    assert!(matches!(
        refresh(&f, &first, APP).await,
        Err(RefreshError::InvalidGrant)
    ));
    // The whole family is dead, including the legitimate current token.
    assert!(matches!(
        refresh(&f, &second, APP).await,
        Err(RefreshError::InvalidGrant)
    ));
    let kinds: Vec<EventKind> = f.heard.0.lock().unwrap().iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [EventKind::RefreshTokenReuse]);
    let audited = f.audit.page(0, 10).await.unwrap();
    assert!(
        audited
            .iter()
            .any(|e| e.record.action == "refresh_token.reused")
    );
}

async fn concurrent_refreshes_of_one_app_get_the_same_pair(db: Database) {
    let f = fixture(&db).await;
    let first = f.tokens.open("acc-1", APP, MINT).await.unwrap();
    let a = refresh(&f, &first, APP).await.unwrap();
    f.clock.advance(Duration::seconds(3));
    let b = refresh(&f, &first, APP).await.unwrap();
    assert_eq!(a.refresh_token, b.refresh_token, "the same new pair");
    assert_eq!(a.access_token, b.access_token);
    assert!(refresh(&f, &a, APP).await.is_ok(), "the family lives on");
    assert!(f.heard.0.lock().unwrap().is_empty(), "no theft reported");

    // Truly parallel: every racer gets the one new pair.
    let g = fixture(&db).await;
    let start = g.tokens.open("acc-2", APP, MINT).await.unwrap();
    let tokens = Arc::new(g.tokens.clone());
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let (tokens, token) = (tokens.clone(), start.refresh_token.clone());
            tokio::spawn(async move {
                tokens
                    .refresh(&SecretString::new(token), APP, MINT)
                    .await
                    .unwrap()
                    .refresh_token
            })
        })
        .collect();
    let mut got = Vec::new();
    for racer in racers {
        got.push(racer.await.unwrap());
    }
    got.dedup();
    assert_eq!(got.len(), 1, "{got:?}");
}

async fn the_grace_window_does_not_cover_older_tokens_or_other_clients(db: Database) {
    let f = fixture(&db).await;
    let first = f.tokens.open("acc-1", APP, MINT).await.unwrap();
    let second = refresh(&f, &first, APP).await.unwrap();
    let _third = refresh(&f, &second, APP).await.unwrap();
    // Within 5 s, but `first` is not the immediately previous token any more.
    assert!(matches!(
        refresh(&f, &first, APP).await,
        Err(RefreshError::InvalidGrant)
    ));
    assert_eq!(f.heard.0.lock().unwrap().len(), 1);

    let g = fixture(&db).await;
    let first = g.tokens.open("acc-1", APP, MINT).await.unwrap();
    let _ = refresh(&g, &first, APP).await.unwrap();
    // Another app instance presenting the token within the window: theft.
    assert!(matches!(
        refresh(&g, &first, "android-app-9").await,
        Err(RefreshError::InvalidGrant)
    ));
    assert_eq!(g.heard.0.lock().unwrap().len(), 1);
}

async fn families_end_at_their_absolute_lifetime_and_on_revocation(db: Database) {
    let f = fixture(&db).await;
    let mut pair = f.tokens.open("acc-1", APP, MINT).await.unwrap();
    for _ in 0..4 {
        f.clock.advance(Duration::days(20));
        pair = refresh(&f, &pair, APP).await.unwrap();
    }
    f.clock.advance(Duration::days(11));
    assert!(
        matches!(
            refresh(&f, &pair, APP).await,
            Err(RefreshError::InvalidGrant)
        ),
        "91 days"
    );

    let other = f.tokens.open("acc-2", APP, MINT).await.unwrap();
    let second = f.tokens.open("acc-2", "web-app-0002", MINT).await.unwrap();
    assert_eq!(
        f.tokens
            .store()
            .families("acc-2", f.clock_now())
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(f.tokens.revoke_account("acc-2").await.unwrap(), 2);
    assert!(refresh(&f, &other, APP).await.is_err());
    assert!(refresh(&f, &second, "web-app-0002").await.is_err());
    assert!(
        f.heard.0.lock().unwrap().is_empty(),
        "a revocation is not a theft"
    );
}

impl Fixture {
    fn clock_now(&self) -> i64 {
        use kunci_domain::clock::Clock as _;
        self.clock.now_unix()
    }
}

async fn a_refused_account_ends_its_family(db: Database) {
    let f = fixture(&db).await;
    let first = f.tokens.open("acc-1", APP, MINT).await.unwrap();
    let refused = f
        .tokens
        .refresh(
            &SecretString::new(first.refresh_token.clone()),
            APP,
            &Refusing,
        )
        .await;
    assert!(matches!(refused, Err(RefreshError::InvalidGrant)));
    assert!(
        matches!(
            refresh(&f, &first, APP).await,
            Err(RefreshError::InvalidGrant)
        ),
        "revoked"
    );
}

async fn malformed_input_is_refused_without_a_lookup(db: Database) {
    let f = fixture(&db).await;
    assert!(matches!(
        f.tokens.open("acc-1", "short", MINT).await,
        Err(RefreshError::BadClientId)
    ));
    for token in ["", "krt_", "eyJhbGciOi.x.y", &"krt_".repeat(40)] {
        let result = f.tokens.refresh(&SecretString::new(token), APP, MINT).await;
        assert!(matches!(result, Err(RefreshError::InvalidGrant)), "{token}");
    }
}

crate::backends!(
    every_refresh_rotates_and_a_reused_token_kills_the_family,
    concurrent_refreshes_of_one_app_get_the_same_pair,
    the_grace_window_does_not_cover_older_tokens_or_other_clients,
    families_end_at_their_absolute_lifetime_and_on_revocation,
    malformed_input_is_refused_without_a_lookup,
    a_refused_account_ends_its_family,
);
