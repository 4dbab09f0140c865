//! Micro-benchmarks of what every request does: the `kunci_auth` token signed and verified, a
//! CSRF token verified, a key found in the ring by its kid, an access JWT verified, a session
//! loaded from the memory store. `cargo bench -p kunci-bench`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations,
    reason = "benchmark set-up"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kunci_crypto::keyring::{KeyPurpose, KeyRing, KeyState, Material, SigningKey};
use kunci_crypto::{csrf, jwt, token};
use kunci_domain::session::{SessionRecord, SessionStore};

/// A ring as a deployment has it after a few rotations: per purpose one active key and three
/// still verifying.
fn ring() -> KeyRing {
    let mut keys = Vec::new();
    for purpose in KeyPurpose::ALL {
        keys.push(SigningKey::generate(purpose).unwrap());
        for _ in 0..3 {
            let kid = SigningKey::generate(purpose).unwrap().kid;
            keys.push(SigningKey::new(
                kid,
                purpose,
                KeyState::Verify,
                Material::generate(purpose).unwrap(),
            ));
        }
    }
    KeyRing::new(keys).unwrap()
}

fn tokens(c: &mut Criterion) {
    let ring = ring();
    let claims = token::AuthClaims {
        uid: "5f0c3c1e-8c1a-4d5e-9d7e-2a1b3c4d5e6f".to_owned(),
        session: "0123456789abcdef".to_owned(),
        sub: "acct-0001".to_owned(),
        iat: 1_800_000_000,
        exp: 1_800_000_900,
        scope: vec!["basic".to_owned(), "user".to_owned()],
    };
    c.bench_function("auth token sign", |b| {
        b.iter(|| token::sign(black_box(&ring), black_box(&claims)).unwrap());
    });
    let signed = token::sign(&ring, &claims).unwrap();
    c.bench_function("auth token verify", |b| {
        b.iter(|| token::verify(black_box(&ring), black_box(&signed)).unwrap());
    });

    let secret = "c2Vzc2lvbi1jc3JmLXNlY3JldC0wMTIzNDU2Nzg5";
    let csrf_token = csrf::issue(&ring, secret).unwrap();
    c.bench_function("csrf verify", |b| {
        b.iter(|| {
            assert!(csrf::verify(
                black_box(&ring),
                secret,
                black_box(&csrf_token)
            ));
        });
    });

    let kid = ring.active(KeyPurpose::Cookie).unwrap().kid.clone();
    c.bench_function("key ring lookup by kid", |b| {
        b.iter(|| ring.verifier(black_box(&kid), KeyPurpose::Cookie).unwrap());
    });

    let access = jwt::Claims {
        sub: "acct-0001".to_owned(),
        preferred_username: "bench".to_owned(),
        iat: 1_800_000_000,
        nbf: 1_800_000_000,
        exp: 1_800_000_900,
        iss: "https://kunci.example".to_owned(),
        aud: "kunci".to_owned(),
        jti: "jti-0001".to_owned(),
        scope: "basic user".to_owned(),
        sid: "family-0001".to_owned(),
    };
    let access_token = jwt::sign(&ring, &access).unwrap();
    c.bench_function("access JWT verify", |b| {
        b.iter(|| {
            jwt::verify(
                black_box(&ring),
                black_box(&access_token),
                1_800_000_100,
                jwt::Expected {
                    iss: "https://kunci.example",
                    aud: "kunci",
                    lifetime_secs: 900,
                },
            )
            .unwrap()
        });
    });
}

fn sessions(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = kunci_store::memory::MemorySessions::new();
    // A store with other live sessions in it, as on a busy instance.
    let record = |n: u32| SessionRecord {
        key: format!("session-key-{n:08}"),
        uid: format!("uid-{n:08}"),
        sub: Some(format!("acct-{n:04}")),
        scopes: Vec::new(),
        csrf: "c2Vzc2lvbi1jc3JmLXNlY3JldC0wMTIzNDU2Nzg5".to_owned(),
        created_at: 1_800_000_000,
        last_seen: 1_800_000_000,
        absolute_expires_at: 1_800_086_400,
        expires_at: 1_800_001_800,
        data: std::collections::BTreeMap::new(),
    };
    runtime.block_on(async {
        for n in 0..10_000 {
            store.create(&record(n)).await.unwrap();
        }
    });
    c.bench_function("session load (memory store, 10k sessions)", |b| {
        b.iter(|| {
            runtime
                .block_on(store.load(black_box("session-key-00004242"), 1_800_000_100))
                .unwrap()
                .unwrap()
        });
    });
}

criterion_group!(benches, tokens, sessions);
criterion_main!(benches);
