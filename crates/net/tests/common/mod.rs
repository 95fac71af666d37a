//! Helpers shared by the RPC integration tests: a PKI in a temporary directory, an echo
//! server that records who called it, and a TCP proxy that counts connections.

#![allow(
    dead_code,
    reason = "each test binary uses its own subset of the helpers"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tempfile::TempDir;
use tessera_net::rpc::{Peer, RpcClient, serve};
use tessera_net::tls::{TlsFiles, client_config, server_config};
use tessera_net::{NetError, pki};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A development PKI in a temporary directory.
pub struct Pki {
    dir: TempDir,
}

impl Pki {
    pub fn new(ca_name: &str, nodes: &[&str]) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        pki::write_dev_pki(dir.path(), ca_name, nodes).unwrap();
        Pki { dir }
    }

    pub fn files(&self, node: &str) -> TlsFiles {
        TlsFiles {
            ca: self.dir.path().join("ca.pem"),
            cert: self.dir.path().join(format!("{node}.pem")),
            key: self.dir.path().join(format!("{node}.key")),
        }
    }

    /// A client of `addr` that authenticates as `node` and expects `server_name`.
    pub fn client(&self, node: &str, addr: SocketAddr, server_name: &str) -> RpcClient {
        RpcClient::new(
            addr.to_string(),
            server_name.to_owned(),
            client_config(&self.files(node)).unwrap(),
            Duration::from_secs(5),
        )
    }
}

/// A running echo server. A request body `sleep:<ms>` makes the handler sleep that long
/// before answering; `panic` makes it panic.
pub struct Server {
    pub addr: SocketAddr,
    /// The peer name of every request handled, in order.
    pub seen: Arc<Mutex<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), NetError>>,
}

impl Server {
    /// Starts `node`'s server from `pki` on a fresh loopback port.
    pub async fn start(pki: &Pki, node: &str) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Server::start_on(listener, pki, node)
    }

    /// Starts `node`'s server from `pki` on `listener`.
    pub fn start_on(listener: TcpListener, pki: &Pki, node: &str) -> Server {
        let addr = listener.local_addr().unwrap();
        let tls = server_config(&pki.files(node)).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let handler = move |peer: Peer, body: Bytes| {
            let recorded = Arc::clone(&recorded);
            async move {
                recorded.lock().unwrap().push(peer.name);
                assert!(&body[..] != b"panic", "the test asked the handler to panic");
                if let Some(ms) = body.strip_prefix(b"sleep:") {
                    let ms: u64 = std::str::from_utf8(ms).unwrap().parse().unwrap();
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                body.to_vec()
            }
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, tls, handler, async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            seen,
            stop: Some(stop),
            task,
        }
    }

    /// Shuts the server down and waits for `serve` to return.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).unwrap();
        }
        (&mut self.task).await.unwrap().unwrap();
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A TCP proxy to `target` on a fresh loopback port; the counter counts accepted connections.
pub async fn counting_proxy(target: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, accepted)
}
