//! A TCP proxy on loopback in front of a real service, which a test can cut: the service
//! "goes down" for the application without being stopped for the other tests.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub struct TcpProxy {
    pub address: SocketAddr,
    cut: Arc<Notify>,
    reset: Arc<Notify>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Forwards a new loopback port to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let cut = Arc::new(Notify::new());
        let stop = cut.clone();
        let reset = Arc::new(Notify::new());
        let drop_all = reset.clone();
        let task = tokio::spawn(async move {
            let mut connections: Vec<JoinHandle<()>> = Vec::new();
            loop {
                tokio::select! {
                    () = drop_all.notified() => {
                        for connection in connections.drain(..) {
                            connection.abort();
                        }
                    }
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        let target = target.clone();
                        connections.push(tokio::spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(target).await {
                                let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        }));
                    }
                    () = stop.notified() => {
                        for connection in connections {
                            connection.abort();
                        }
                        return;
                    }
                }
            }
        });
        Self {
            address,
            cut,
            reset,
            task,
        }
    }

    /// Drops every open connection but keeps the port: the service restarted.
    pub async fn reset(&self) {
        self.reset.notify_one();
        tokio::task::yield_now().await;
    }

    /// Closes the port and every connection through it.
    pub async fn cut(self) {
        self.cut.notify_one();
        let _ = self.task.await;
    }
}
