//! The RPC server: accept, TLS handshake, then HTTP/2 with the handler on `POST /rpc`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::{MAX_BODY_BYTES, Peer, RPC_PATH};
use crate::NetError;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, in-flight requests get this long to finish before connections are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Connections beyond this many are closed as soon as they are accepted.
const MAX_CONNECTIONS: usize = 1024;
/// Streams (concurrent calls) one connection may carry.
const MAX_CONCURRENT_STREAMS: u32 = 1024;
/// An idle connection is pinged this often, and dropped if a ping goes unanswered for as long.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Pause after a failed `accept` (for example out of file descriptors) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves RPC on `listener` until `shutdown` completes.
///
/// Each accepted connection goes through a TLS handshake with `tls` (which should come from
/// [`crate::tls::server_config`], so that it requires a client certificate), bounded by 10 s;
/// a failed handshake is logged and the connection dropped. The caller's [`Peer`] is read from
/// its verified certificate. Then HTTP/2 is served on the connection: `POST /rpc` calls
/// `handler` with the peer and the request body and answers 200 with what it returns; any
/// other method or path gets 404, a body over [`MAX_BODY_BYTES`] gets 413.
///
/// When `shutdown` completes the listener is closed, every connection is told to finish
/// (HTTP/2 GOAWAY), in-flight requests get up to 5 s to complete, then remaining connections
/// are cut and `serve` returns. Errors on single connections never stop the server.
///
/// Each request's handler future runs in its own task (hyper spawns one per HTTP/2 stream),
/// so a panicking handler loses only its own request. A handler still running when the grace
/// period ends is not cancelled: it runs to completion, and its answer is dropped.
pub async fn serve<H, F>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NetError>
where
    H: Fn(Peer, Bytes) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Vec<u8>> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    let mut http = http2::Builder::new(TokioExecutor::new());
    http.timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .keep_alive_interval(KEEP_ALIVE)
        .keep_alive_timeout(KEEP_ALIVE);
    let http = Arc::new(http);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "rpc server listening");
    }

    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, "rpc connection task failed");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    if connections.len() >= MAX_CONNECTIONS {
                        tracing::warn!(%remote, "too many rpc connections, dropping a new one");
                        continue;
                    }
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!(%remote, error = %e, "could not set tcp_nodelay");
                    }
                    connections.spawn(serve_connection(
                        tcp,
                        remote,
                        acceptor.clone(),
                        Arc::clone(&http),
                        handler.clone(),
                        stop_rx.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "rpc accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }

    drop(listener);
    tracing::info!(connections = connections.len(), "rpc server shutting down");
    // Nobody may be listening any more: that is fine.
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "rpc connections still busy after the shutdown grace period, cutting them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Completes once `stop` says so (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn serve_connection<H, F>(
    tcp: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    http: Arc<http2::Builder<TokioExecutor>>,
    handler: H,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(Peer, Bytes) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Vec<u8>> + Send + 'static,
{
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let tls = tokio::select! {
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::warn!(%remote, error = %e, "rpc tls handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "rpc tls handshake timed out");
                return;
            }
        },
        () = stopped(&mut stop) => return,
    };
    let peer = match Peer::from_chain(tls.get_ref().1.peer_certificates()) {
        Ok(peer) => peer,
        Err(reason) => {
            tracing::warn!(%remote, %reason, "rpc client refused");
            return;
        }
    };
    tracing::debug!(%remote, peer = %peer.name, "rpc connection open");

    let service_peer = peer.clone();
    let service = service_fn(move |request| {
        let handler = handler.clone();
        let peer = service_peer.clone();
        async move { Ok::<_, Infallible>(handle(request, peer, handler).await) }
    });
    let mut connection = pin!(http.serve_connection(TokioIo::new(tls), service));
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = connection.as_mut() => break result,
            () = stopped(&mut stop), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    match result {
        Ok(()) => tracing::debug!(%remote, peer = %peer.name, "rpc connection closed"),
        Err(e) => tracing::debug!(%remote, peer = %peer.name, error = %e, "rpc connection failed"),
    }
}

async fn handle<H, F>(request: Request<Incoming>, peer: Peer, handler: H) -> Response<Full<Bytes>>
where
    H: Fn(Peer, Bytes) -> F,
    F: Future<Output = Vec<u8>>,
{
    if request.method() != Method::POST || request.uri().path() != RPC_PATH {
        return empty(StatusCode::NOT_FOUND);
    }
    let announced = request.body().size_hint().lower();
    if usize::try_from(announced).map_or(true, |len| len > MAX_BODY_BYTES) {
        return empty(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return empty(StatusCode::PAYLOAD_TOO_LARGE);
        }
        Err(e) => {
            tracing::debug!(peer = %peer.name, error = %e, "could not read rpc request body");
            return empty(StatusCode::BAD_REQUEST);
        }
    };
    let answer = handler(peer, body).await;
    let mut response = Response::new(Full::new(Bytes::from(answer)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
