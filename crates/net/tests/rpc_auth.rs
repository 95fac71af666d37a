//! Mutual authentication: who may call whom.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Pki, Server};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tessera_net::NetErrorKind;
use tessera_net::rpc::RpcClient;
use tessera_net::tls::{TlsFiles, client_config};

const NODES: &[&str] = &["coordinator", "signer-1", "signer-2"];

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;

    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.files("coordinator").ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let client = RpcClient::new(
        server.addr.to_string(),
        "signer-1".to_owned(),
        Arc::new(config),
        Duration::from_secs(5),
    );

    let e = client.call(b"hello".to_vec()).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Tls, "{e}");
    assert!(server.seen().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn client_from_another_ca_is_refused() {
    let pki = Pki::new("test ca", NODES);
    let rogue = Pki::new("rogue ca", NODES);
    let server = Server::start(&pki, "signer-1").await;

    // Trusts the real CA (so the server is accepted) but presents a rogue certificate.
    let files = TlsFiles {
        ca: pki.files("coordinator").ca,
        ..rogue.files("coordinator")
    };
    let client = RpcClient::new(
        server.addr.to_string(),
        "signer-1".to_owned(),
        client_config(&files).unwrap(),
        Duration::from_secs(5),
    );

    let e = client.call(b"hello".to_vec()).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Tls, "{e}");
    assert!(server.seen().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn server_from_another_ca_is_refused() {
    let pki = Pki::new("test ca", NODES);
    let rogue = Pki::new("rogue ca", NODES);
    let server = Server::start(&rogue, "signer-1").await;
    let client = pki.client("coordinator", server.addr, "signer-1");

    let e = client.call(b"hello".to_vec()).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Tls, "{e}");
    assert_eq!(e.code(), "tls_failed");
    assert!(server.seen().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn server_with_another_name_is_refused() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    let client = pki.client("coordinator", server.addr, "signer-2");

    let e = client.call(b"hello".to_vec()).await.unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Tls, "{e}");
    assert!(e.detail.contains("signer-2"), "{e}");
    assert!(server.seen().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn each_caller_is_told_apart() {
    let pki = Pki::new("test ca", NODES);
    let server = Server::start(&pki, "signer-1").await;
    for node in ["coordinator", "signer-2"] {
        let client = pki.client(node, server.addr, "signer-1");
        assert_eq!(
            client.call(node.as_bytes().to_vec()).await.unwrap(),
            node.as_bytes()
        );
    }
    assert_eq!(server.seen(), ["coordinator", "signer-2"]);
    server.stop().await;
}
