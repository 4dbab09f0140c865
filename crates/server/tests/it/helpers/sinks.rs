//! Receivers for what kunci sends out: a webhook endpoint and an SMTP server, both real
//! servers on loopback ports, recording what arrives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

/// The permits of a webhook sink's gate: hold them all to stall deliveries.
pub const GATE: u32 = 1000;

/// One webhook delivery as received.
#[derive(Debug)]
pub struct Delivery {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A webhook endpoint. Answers with `status` (200 unless changed); while a test holds the
/// [`GATE`] permits of `gate`, deliveries wait (a slow receiver).
pub struct WebhookSink {
    pub url: String,
    pub deliveries: mpsc::UnboundedReceiver<Delivery>,
    pub status: Arc<AtomicU16>,
    pub gate: Arc<Semaphore>,
}

impl WebhookSink {
    pub async fn start() -> Self {
        let (tx, deliveries) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let gate = Arc::new(Semaphore::new(usize::try_from(GATE).unwrap()));
        let (answer, wait) = (status.clone(), gate.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (tx, answer, wait) = (tx.clone(), answer.clone(), wait.clone());
                async move {
                    let _ = tx.send(Delivery { headers, body });
                    let _permit = wait.acquire().await;
                    StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            deliveries,
            status,
            gate,
        }
    }

    /// The next delivery, waiting at most 10 s.
    pub async fn next(&mut self) -> Delivery {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.deliveries.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("the sink is running")
    }

    /// Whether anything else arrives within `wait`.
    pub async fn nothing_more(&mut self, wait: std::time::Duration) -> bool {
        tokio::time::timeout(wait, self.deliveries.recv())
            .await
            .is_err()
    }
}

/// One mail as the SMTP server received it.
#[derive(Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A plain SMTP server (no TLS, no auth) on a loopback port that accepts every mail.
pub struct SmtpSink {
    pub port: u16,
    pub mails: mpsc::UnboundedReceiver<Mail>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, mails) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, tx).await;
                });
            }
        });
        Self { port, mails }
    }

    pub async fn next(&mut self) -> Mail {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.mails.recv())
            .await
            .expect("a mail within 10 s")
            .expect("the sink is running")
    }
}

async fn converse(
    stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<Mail>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().to_owned();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().to_owned());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(&line);
                data.push('\n');
            }
            let _ = tx.send(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
