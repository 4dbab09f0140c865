//! Serving with graceful shutdown, over plain HTTP or HTTPS.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::{Listener, ListenerExt as _};
use tokio::net::TcpListener;

use crate::tls::TlsListener;

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets in-flight
/// requests finish for at most `drain`, and returns. Requests still running after `drain` are
/// abandoned (and logged), so a stuck client can never hold a deploy forever. With `tls`,
/// every connection is HTTPS.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    match tls {
        None => serve_on(listener, app, shutdown, drain).await,
        Some(config) => serve_on(TlsListener::new(listener, config), app, shutdown, drain).await,
    }
}

async fn serve_on<L>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stopping_tx.send(true);
    };
    // `tap_io` changes nothing; it gives every listener the peer address as connect info.
    let server = axum::serve(
        listener.tap_io(|_| {}),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let deadline = async move {
        if stopping_rx.wait_for(|stopping| *stopping).await.is_ok() {
            tokio::time::sleep(drain).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(after_secs = drain.as_secs(), "requests still in flight abandoned");
            Ok(())
        }
    }
}
