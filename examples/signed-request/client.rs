//! A minimal client for kunci's signed service requests (docs/signed-requests.md), written
//! with nothing from kunci: HMAC-SHA256 over the canonical string, base64url, four headers.
//!
//! ```text
//! KUNCI_URL=http://127.0.0.1:8080 KUNCI_CLIENT=billing KUNCI_SECRET=kcs_… \
//!     cargo run --example signed_request -- GET /api/v1/me
//!     cargo run --example signed_request -- GET '/api/v1/search?q=kunci'
//!     cargo run --example signed_request -- POST '/api/v1/service/ping?x=1' '{"hello":"world"}'
//! ```
//!
//! `KUNCI_TIMESTAMP` overrides the clock (for tests).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::disallowed_methods,
    clippy::expect_used,
    reason = "a stand-alone client program, not kunci: it reads its environment and clock directly"
)]

use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `X-Kunci-Signature` for one request.
fn sign(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let canonical = format!(
        "{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        hex(&Sha256::digest(body))
    );
    let mut mac = <hmac::Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn main() -> ExitCode {
    // reqwest is built with rustls and no default provider: pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let run = || -> Result<(u16, String), String> {
        let (url, client, secret) = (
            var("KUNCI_URL")?,
            var("KUNCI_CLIENT")?,
            var("KUNCI_SECRET")?,
        );
        let args: Vec<String> = std::env::args().skip(1).collect();
        let [method, path_and_query, rest @ ..] = args.as_slice() else {
            return Err("usage: signed_request METHOD PATH?QUERY [BODY]".to_owned());
        };
        let body = rest
            .first()
            .map(String::as_bytes)
            .unwrap_or_default()
            .to_vec();
        let timestamp = match std::env::var("KUNCI_TIMESTAMP") {
            Ok(t) => t,
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| e.to_string())?
                .as_secs()
                .to_string(),
        };
        // 16 random bytes (a v4 UUID is 122 random bits; use a CSPRNG of your own in production code).
        let nonce = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
        let signature = sign(&secret, method, path_and_query, &timestamp, &nonce, &body);
        let response = reqwest::blocking::Client::new()
            .request(
                method.parse().map_err(|_| "bad method".to_owned())?,
                format!("{url}{path_and_query}"),
            )
            .header("X-Kunci-Client", client)
            .header("X-Kunci-Timestamp", timestamp)
            .header("X-Kunci-Nonce", nonce)
            .header("X-Kunci-Signature", signature)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok((status, response.text().map_err(|e| e.to_string())?))
    };
    match run() {
        Ok((status, body)) => {
            println!("{status} {body}");
            if status < 300 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
