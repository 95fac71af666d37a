//! The RPC client: one lazily opened, shared HTTP/2 connection per peer.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

use super::{MAX_BODY_BYTES, RPC_PATH};
use crate::tls::ALPN_H2;
use crate::{NetError, NetErrorKind};

/// An idle connection is pinged this often, and dropped if a ping goes unanswered for as long,
/// so that a dead peer is noticed before the next call needs it.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

type Sender = SendRequest<Full<Bytes>>;

/// A client for one peer's RPC server. Cheap to clone: clones share one connection.
///
/// The connection (TCP with `TCP_NODELAY`, TLS, HTTP/2) is opened by the first call, shared
/// by every concurrent call as separate HTTP/2 streams, and reopened by the next call after
/// it dies. Only one caller opens it at a time; the others wait for it.
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

struct Inner {
    addr: String,
    server_name: String,
    uri: String,
    connector: TlsConnector,
    timeout: Duration,
    sender: Mutex<Option<Sender>>,
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("addr", &self.inner.addr)
            .field("server_name", &self.inner.server_name)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client for the server at `addr` (`host:port`) whose certificate must be valid for
    /// `server_name` (the peer's node name) and issued by the CA that `tls` trusts (see
    /// [`crate::tls::client_config`]). Each call, connecting included, is bounded by
    /// `timeout`. Nothing is opened until the first call.
    pub fn new(
        addr: String,
        server_name: String,
        tls: Arc<ClientConfig>,
        timeout: Duration,
    ) -> RpcClient {
        let uri = format!("https://{addr}{RPC_PATH}");
        RpcClient {
            inner: Arc::new(Inner {
                addr,
                server_name,
                uri,
                connector: TlsConnector::from(tls),
                timeout,
                sender: Mutex::new(None),
            }),
        }
    }

    /// Sends `body` to the peer and returns its answer.
    ///
    /// Fails with [`NetErrorKind::Timeout`] if the whole call (connecting included) takes
    /// longer than the client's timeout; the peer may then have handled the request or not.
    /// A request is sent again on a new connection only when it provably never left this
    /// process (its connection was found closed), so a peer never sees one call twice.
    pub async fn call(&self, body: Vec<u8>) -> Result<Vec<u8>, NetError> {
        self.call_within(body, self.inner.timeout).await
    }

    /// [`RpcClient::call`] with another limit than the client's, for calls known to take
    /// long (a key-generation round).
    pub async fn call_within(&self, body: Vec<u8>, limit: Duration) -> Result<Vec<u8>, NetError> {
        match tokio::time::timeout(limit, self.call_unbounded(body)).await {
            Ok(result) => result,
            Err(_) => Err(NetError::new(
                NetErrorKind::Timeout,
                format!(
                    "no answer from `{}` within {} ms",
                    self.inner.addr,
                    limit.as_millis()
                ),
            )),
        }
    }

    async fn call_unbounded(&self, body: Vec<u8>) -> Result<Vec<u8>, NetError> {
        let request = self.request(body)?;
        let mut sender = self.sender().await?;
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            Err(mut e) => match e.take_message() {
                // The connection was closed before the request was handed to it.
                Some(request) => {
                    let mut sender = self.sender().await?;
                    sender
                        .send_request(request)
                        .await
                        .map_err(|e| self.request_error(&e))?
                }
                None => return Err(self.request_error(e.error())),
            },
        };
        let status = response.status();
        if status != StatusCode::OK {
            return Err(NetError::new(
                NetErrorKind::Status(status.as_u16()),
                format!("`{}` answered {}", self.inner.addr, status.as_u16()),
            ));
        }
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| match e.downcast_ref::<hyper::Error>() {
                Some(e) => self.request_error(e),
                None => NetError::protocol(format!(
                    "the answer of `{}` is over {MAX_BODY_BYTES} bytes",
                    self.inner.addr
                )),
            })?
            .to_bytes();
        Ok(Vec::from(body))
    }

    fn request(&self, body: Vec<u8>) -> Result<Request<Full<Bytes>>, NetError> {
        Request::post(self.inner.uri.as_str())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| {
                NetError::config(format!("invalid peer address `{}`: {e}", self.inner.addr))
            })
    }

    /// The shared connection, opened if there is none or it is closed.
    async fn sender(&self) -> Result<Sender, NetError> {
        let mut slot = self.inner.sender.lock().await;
        if let Some(sender) = slot.as_ref().filter(|sender| !sender.is_closed()) {
            return Ok(sender.clone());
        }
        *slot = None;
        let sender = self.connect().await?;
        *slot = Some(sender.clone());
        Ok(sender)
    }

    async fn connect(&self) -> Result<Sender, NetError> {
        let Inner {
            addr, server_name, ..
        } = &*self.inner;
        let name = ServerName::try_from(server_name.clone())
            .map_err(|e| NetError::config(format!("invalid server name `{server_name}`: {e}")))?;
        let tcp = TcpStream::connect(addr.as_str())
            .await
            .map_err(|e| NetError::connect(format!("could not connect to `{addr}`: {e}")))?;
        tcp.set_nodelay(true)
            .map_err(|e| NetError::io(format!("could not set tcp_nodelay for `{addr}`: {e}")))?;
        let tls = self.inner.connector.connect(name, tcp).await.map_err(|e| {
            NetError::tls(format!(
                "tls handshake with `{server_name}` at `{addr}` failed: {}",
                chain(&e)
            ))
        })?;
        if tls.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
            return Err(NetError::protocol(format!(
                "`{addr}` did not agree to http/2"
            )));
        }
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEP_ALIVE)
            .keep_alive_timeout(KEEP_ALIVE)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|e| {
                NetError::protocol(format!(
                    "http/2 handshake with `{addr}` failed: {}",
                    chain(&e)
                ))
            })?;
        let peer = addr.clone();
        tokio::spawn(async move {
            match connection.await {
                Ok(()) => tracing::debug!(addr = %peer, "rpc connection closed"),
                Err(e) => {
                    tracing::debug!(addr = %peer, error = %chain(&e), "rpc connection failed")
                }
            }
        });
        tracing::debug!(addr = %addr, server_name = %server_name, "rpc connection open");
        Ok(sender)
    }

    fn request_error(&self, e: &hyper::Error) -> NetError {
        let addr = &self.inner.addr;
        let detail = chain(e);
        if let Some(tls) = tls_cause(e) {
            NetError::tls(format!("the peer at `{addr}` ended the session: {tls}"))
        } else if e.is_canceled() || e.is_closed() || io_cause(e) {
            NetError::connect(format!("the connection to `{addr}` broke: {detail}"))
        } else {
            NetError::protocol(format!("call to `{addr}` failed: {detail}"))
        }
    }
}

/// `e` and its sources, joined with `: `.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Each error in the source chain of `e`, including the errors that `io::Error` and
/// `h2::Error` wrap without reporting them as sources.
fn causes<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut all = Vec::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        all.push(cause);
        let io = cause
            .downcast_ref::<h2::Error>()
            .and_then(h2::Error::get_io)
            .map(|io| io as &(dyn StdError + 'static));
        let wrapped = cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .map(|inner| inner as &(dyn StdError + 'static));
        next = io.or(wrapped).or_else(|| cause.source());
    }
    all
}

/// The TLS error (an alert from the peer, a refused certificate) behind `e`, if any.
///
/// tokio-rustls reports TLS errors as `io::Error`s of kind `InvalidData` around a
/// `rustls::Error`; h2 keeps only the kind and the message of the I/O errors it sees. Below
/// HTTP/2 there is only TLS and TCP, and TCP never reports `InvalidData`, so that kind is
/// taken as a TLS error.
fn tls_cause(e: &(dyn StdError + 'static)) -> Option<String> {
    causes(e).into_iter().find_map(|c| {
        let is_tls = c.downcast_ref::<rustls::Error>().is_some()
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData);
        is_tls.then(|| c.to_string())
    })
}

fn io_cause(e: &(dyn StdError + 'static)) -> bool {
    causes(e)
        .into_iter()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some())
}
