//! Graceful shutdown: stop accepting, finish what is in flight, give up after the drain time.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::sync::Notify;

use crate::helpers::{TestApp, client};

/// A route that answers only when `release` is notified, and says when it has started.
fn held_route(started: Arc<Notify>, release: Arc<Notify>) -> Router {
    Router::new().route(
        "/held",
        get(move || {
            let (started, release) = (started.clone(), release.clone());
            async move {
                started.notify_one();
                release.notified().await;
                "finished"
            }
        }),
    )
}

#[tokio::test]
async fn an_in_flight_request_finishes_and_new_connections_are_refused() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let mut app = TestApp::builder()
        .public_routes(held_route(started.clone(), release.clone()))
        .spawn()
        .await
        .unwrap();
    let url = app.url("/held");
    let in_flight = tokio::spawn(client().get(url).send());
    started.notified().await;

    let server = app.shut_down();
    // The listener closes while the held request is still running.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(app.address).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "new connections are still accepted during shutdown"
    );
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );

    release.notify_one();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_stuck_request_is_abandoned_after_the_drain_time() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let mut app = TestApp::builder()
        .var("KUNCI__ENVIRONMENT__SHUTDOWN_TIMEOUT_SECS", "1")
        .public_routes(held_route(started.clone(), release))
        .spawn()
        .await
        .unwrap();
    let url = app.url("/held");
    let _stuck = tokio::spawn(client().get(url).send());
    started.notified().await;
    let server = app.shut_down();
    let ended = tokio::time::timeout(Duration::from_secs(30), server).await;
    assert!(ended.is_ok(), "the drain time was not enforced");
}
