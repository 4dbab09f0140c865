//! Connection limits of the accept loop (docs/operations.md): a client that does not finish a
//! request's head in time is disconnected, and one address cannot hold more than its share of
//! connections. Real sockets against the real server.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// Reads until the server closes the connection; the bytes it sent. Panics if the connection
/// is still open after `patience` without a byte.
async fn read_until_closed(stream: &mut TcpStream, patience: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        match tokio::time::timeout(patience, stream.read(&mut buffer)).await {
            Err(_) => panic!("the server kept the connection open for {patience:?}"),
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_off_and_others_are_served() {
    let app = TestApp::builder()
        .var("KUNCI__ENVIRONMENT__HEADER_READ_TIMEOUT_SECS", "1")
        .spawn()
        .await
        .unwrap();
    // Half a request head, then nothing: the trickle of a slow client.
    let mut slow = TcpStream::connect(app.address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: kunci.test\r\nX-Slow: ")
        .await
        .unwrap();
    // A connection that sends nothing at all.
    let mut silent = TcpStream::connect(app.address).await.unwrap();
    // Half a second in, both are still open: the timeout, not the first byte, ends them.
    let mut byte = [0_u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), slow.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "the slow client was cut off before its time"
    );
    read_until_closed(&mut slow, Duration::from_secs(10)).await;
    read_until_closed(&mut silent, Duration::from_secs(10)).await;

    // A whole request, sent at once, is answered; the idle keep-alive connection after it
    // is closed by the same timeout.
    let mut whole = TcpStream::connect(app.address).await.unwrap();
    whole
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: kunci.test\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut whole, Duration::from_secs(10)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share() {
    let app = TestApp::builder()
        .var("KUNCI__ENVIRONMENT__MAX_CONNECTIONS_PER_ADDRESS", "2")
        .var("KUNCI__ENVIRONMENT__HEADER_READ_TIMEOUT_SECS", "60")
        .spawn()
        .await
        .unwrap();
    let first = TcpStream::connect(app.address).await.unwrap();
    let _second = TcpStream::connect(app.address).await.unwrap();
    // Past the cap the server closes at once, long before the 60-second timeout.
    let mut third = TcpStream::connect(app.address).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: kunci.test\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut third, Duration::from_secs(10)).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    // A closed connection frees its place: the server answers this address again.
    drop(first);
    for attempt in 0.. {
        let mut next = TcpStream::connect(app.address).await.unwrap();
        let _ = next
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: kunci.test\r\nConnection: close\r\n\r\n")
            .await;
        let answer = read_until_closed(&mut next, Duration::from_secs(10)).await;
        if String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(attempt < 200, "the place was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connection from `source` (any 127.0.0.0/8 address is this machine's loopback).
async fn connect_from(source: &str, app: &TestApp) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(app.address).await.unwrap()
}

#[tokio::test]
async fn a_slowloris_address_cannot_starve_the_others() {
    let app = TestApp::builder()
        .var("KUNCI__ENVIRONMENT__MAX_CONNECTIONS_PER_ADDRESS", "40")
        .var("KUNCI__ENVIRONMENT__HEADER_READ_TIMEOUT_SECS", "2")
        .spawn()
        .await
        .unwrap();
    // A hundred and twenty half-sent requests from one address (the test and the server share
    // this process's descriptors: kept well under a laptop's 1,024).
    let mut stalled = Vec::new();
    for _ in 0..120 {
        let mut stream = connect_from("127.0.0.3", &app).await;
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: k").await;
        stalled.push(stream);
    }
    // Another address is served all along.
    for _ in 0..20 {
        let mut other = connect_from("127.0.0.4", &app).await;
        other
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: kunci.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_until_closed(&mut other, Duration::from_secs(5)).await;
        assert!(
            String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    // Every stalled connection ends: past the cap at once, the others at the timeout.
    for stream in &mut stalled {
        let answer = read_until_closed(stream, Duration::from_secs(10)).await;
        assert!(
            !String::from_utf8_lossy(&answer).contains(" 200 "),
            "a half-sent request is never answered"
        );
    }
}
