//! `GET /.well-known/jwks.json`: the public keys of the `jwt` keys in states active and verify,
//! so other services verify kunci's access tokens without sharing a secret.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kunci_crypto::keyring::{KeyPurpose, KeyState};
use serde_json::{Value, json};

use crate::state::AppState;

pub(crate) async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let ring = state.keys().ring();
    let mut keys: Vec<Value> = ring
        .keys()
        .filter(|k| {
            k.purpose == KeyPurpose::Jwt && matches!(k.state, KeyState::Active | KeyState::Verify)
        })
        .filter_map(|k| {
            let public = k.public_key()?;
            Some(json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(public),
                "kid": k.kid.as_str(),
                "alg": "EdDSA",
                "use": "sig",
            }))
        })
        .collect();
    keys.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
    // Short caching: a verifier sees a new key within a minute; keys verify long after that.
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(json!({ "keys": keys })),
    )
}
