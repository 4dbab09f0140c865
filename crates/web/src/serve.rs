//! Serving with graceful shutdown, over plain HTTP or HTTPS, with the connection limits a
//! server needs when nothing stands in front of it (SPEC §6, docs/operations.md):
//!
//! - a header-read timeout: a client that does not send a request's whole head within
//!   [`ConnectionLimits::header_read_timeout`] is disconnected — a connection kept open by a
//!   trickle of bytes (slowloris), or idle between requests, ends there;
//! - a cap on open connections, in all and per client address: past either, a new connection
//!   is closed at once (and counted in `kunci_connections_refused_total`), so one address
//!   cannot take every descriptor. A trusted proxy (`environment.trusted_proxies`) carries
//!   many clients, so only the cap in all applies to it.
//!
//! The accept loop is our own (hyper's HTTP/1 server and its timer): `axum::serve` exposes
//! neither the timeout nor a hook to refuse a connection.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::net::Cidr;
use crate::tls::TlsListener;

/// The limits of the accept loop.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// The most connections open at once.
    pub max_connections: usize,
    /// The most connections open at once from one client address (the TCP peer), except from
    /// `proxies`.
    pub max_per_address: usize,
    /// How long a client may take to send a request's head, and stay idle between requests.
    pub header_read_timeout: Duration,
    /// Peers held to the cap in all only: the trusted proxies, which carry many clients.
    pub proxies: Arc<[Cidr]>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_per_address: 256,
            header_read_timeout: Duration::from_secs(10),
            proxies: Arc::from([]),
        }
    }
}

/// Open connections, in all and per address.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// A connection counted as open until dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// Counts a new connection from `address`, unless a cap is reached.
fn admit(open: &Arc<Mutex<Open>>, address: IpAddr, limits: &ConnectionLimits) -> Option<Slot> {
    let mut counts = open.lock().unwrap_or_else(PoisonError::into_inner);
    let mine = counts.by_address.get(&address).copied().unwrap_or(0);
    let proxy = limits.proxies.iter().any(|p| p.contains(address));
    if counts.total >= limits.max_connections || (mine >= limits.max_per_address && !proxy) {
        return None;
    }
    counts.total += 1;
    *counts.by_address.entry(address).or_default() += 1;
    Some(Slot {
        open: open.clone(),
        address,
    })
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets in-flight
/// requests finish for at most `drain`, and returns. Requests still running after `drain` are
/// abandoned (and logged), so a stuck client can never hold a deploy forever. With `tls`,
/// every connection is HTTPS.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    (drain, limits): (Duration, ConnectionLimits),
) -> std::io::Result<()> {
    match tls {
        None => serve_on(listener, app, shutdown, drain, limits).await,
        Some(config) => {
            let listener = TlsListener::new(listener, config);
            serve_on(listener, app, shutdown, drain, limits).await
        }
    }
}

async fn serve_on<L>(
    mut listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
    limits: ConnectionLimits,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let open = Arc::new(Mutex::new(Open::default()));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Some(slot) = admit(&open, peer.ip(), &limits) else {
            metrics::counter!("kunci_connections_refused_total").increment(1);
            drop(io);
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { tower_service::Service::call(&mut app, request).await }
        });
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (a reset, a timeout): nothing to report.
            let _ = watched.await;
            drop(slot);
        });
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => Ok(()),
        () = tokio::time::sleep(drain) => {
            tracing::warn!(after_secs = drain.as_secs(), "requests still in flight abandoned");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_in_all_and_per_address_and_free_on_drop() {
        let open = Arc::new(Mutex::new(Open::default()));
        let limits = ConnectionLimits {
            max_connections: 3,
            max_per_address: 2,
            header_read_timeout: Duration::from_secs(1),
            proxies: Arc::from([Cidr::parse("198.51.100.0/24").unwrap()]),
        };
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = admit(&open, a, &limits).unwrap();
        let _second = admit(&open, a, &limits).unwrap();
        assert!(admit(&open, a, &limits).is_none(), "two per address");
        let _third = admit(&open, b, &limits).unwrap();
        assert!(admit(&open, b, &limits).is_none(), "three in all");
        drop(first);
        assert!(
            admit(&open, a, &limits).is_some(),
            "a closed connection frees its slot"
        );
    }

    #[test]
    fn a_trusted_proxy_is_held_to_the_cap_in_all_only() {
        let open = Arc::new(Mutex::new(Open::default()));
        let limits = ConnectionLimits {
            max_connections: 4,
            max_per_address: 1,
            header_read_timeout: Duration::from_secs(1),
            proxies: Arc::from([Cidr::parse("198.51.100.0/24").unwrap()]),
        };
        let proxy: IpAddr = "198.51.100.9".parse().unwrap();
        let held: Vec<_> = (0..4).map(|_| admit(&open, proxy, &limits)).collect();
        assert!(held.iter().all(Option::is_some), "past the per-address cap");
        assert!(
            admit(&open, proxy, &limits).is_none(),
            "but not past the cap in all"
        );
    }
}
