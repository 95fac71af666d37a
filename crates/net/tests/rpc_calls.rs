//! RPC between nodes that trust each other: echo, peer identity, multiplexing, limits,
//! timeouts and reconnection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::{Pki, Server, counting_proxy};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tessera_net::NetErrorKind;
use tessera_net::rpc::{MAX_BODY_BYTES, RpcClient};
use tessera_net::tls::client_config;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

const NODES: &[&str] = &["coordinator", "signer-1", "signer-2"];

#[tokio::test]
async fn echo_reaches_handler_with_peer_name() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let client = pki.client("coordinator", server.addr, "signer-1");

    let answer = client.call(b"hello".to_vec()).await.unwrap();
    assert_eq!(answer, b"hello");
    let empty = client.call(Vec::new()).await.unwrap();
    assert!(empty.is_empty());
    assert_eq!(server.seen(), ["coordinator", "coordinator"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_connection() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let (proxy, accepted) = counting_proxy(server.addr).await;
    let client = pki.client("coordinator", proxy, "signer-1");

    let mut calls = JoinSet::new();
    for i in 0..200 {
        let client = client.clone();
        calls.spawn(async move {
            let body = format!("call-{i}").into_bytes();
            let answer = client.call(body.clone()).await.unwrap();
            assert_eq!(answer, body);
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap();
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(server.seen().len(), 200);
    server.stop().await;
}

#[tokio::test]
async fn slow_handler_times_out_and_connection_survives() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let (proxy, accepted) = counting_proxy(server.addr).await;
    let client = RpcClient::new(
        proxy.to_string(),
        "signer-1".to_owned(),
        client_config(&pki.files("coordinator")).unwrap(),
        Duration::from_millis(200),
    );

    let e = client.call(b"sleep:2000".to_vec()).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Timeout, "{e}");
    assert_eq!(e.code(), "timeout");
    assert_eq!(client.call(b"quick".to_vec()).await.unwrap(), b"quick");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test]
async fn client_reconnects_after_server_restart() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let addr = server.addr;
    let client = pki.client("coordinator", addr, "signer-1");
    assert_eq!(client.call(b"before".to_vec()).await.unwrap(), b"before");

    server.stop().await;
    let e = client.call(b"while down".to_vec()).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Connect, "{e}");

    let listener = TcpListener::bind(addr).await.unwrap();
    let server = Server::start_on(listener, &pki, "signer-1");
    assert_eq!(client.call(b"after".to_vec()).await.unwrap(), b"after");
    assert_eq!(server.seen(), ["coordinator"]);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let client = pki.client("coordinator", server.addr, "signer-1");
    client.call(b"warm up".to_vec()).await.unwrap();

    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.call(b"sleep:300".to_vec()).await }
    });
    // Shut down only once the slow call is in the handler.
    while server.seen().len() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await;
    assert_eq!(slow.await.unwrap().unwrap(), b"sleep:300");
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let client = pki.client("coordinator", server.addr, "signer-1");

    let e = client.call(vec![0; MAX_BODY_BYTES + 1]).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Status(413), "{e}");
    assert_eq!(e.code(), "http_status");
    let big = vec![7; MAX_BODY_BYTES];
    assert_eq!(client.call(big.clone()).await.unwrap(), big);
    assert_eq!(server.seen(), ["coordinator"]);
    server.stop().await;
}

#[tokio::test]
async fn other_routes_get_404() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let tls = client_config(&pki.files("coordinator")).unwrap();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("signer-1").unwrap();
    let stream = TlsConnector::from(tls).connect(name, tcp).await.unwrap();
    let (mut sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);

    let uri = format!("https://{}", server.addr);
    for (method, path) in [
        ("GET", "/rpc"),
        ("POST", "/"),
        ("POST", "/rpc/x"),
        ("PUT", "/rpc"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(format!("{uri}{path}"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.is_empty());
    }
    assert!(server.seen().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn panicking_handler_loses_only_its_request() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let (proxy, accepted) = counting_proxy(server.addr).await;
    let client = pki.client("coordinator", proxy, "signer-1");

    assert_eq!(client.call(b"before".to_vec()).await.unwrap(), b"before");
    let e = client.call(b"panic".to_vec()).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Protocol, "{e}");
    assert_eq!(client.call(b"after".to_vec()).await.unwrap(), b"after");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    server.stop().await;
}
