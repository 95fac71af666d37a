//! Mutually authenticated TLS 1.3 configurations for nodes.
//!
//! Both sides use ring as the crypto provider, passed explicitly (no process-wide default is
//! installed or read), accept TLS 1.3 only, offer ALPN `h2`, and trust only the deployment
//! CA. The server requires a client certificate issued by that CA; the client requires a
//! server certificate issued by that CA and valid for the expected node name. Session
//! resumption is off on both sides: connections are long-lived, and every connection then
//! carries a full certificate check.
//!
//! The private key PEM is read into [`Zeroizing`] memory. The DER key decoded from it is
//! handed to rustls and ring, which keep their own unzeroized copies for the life of the
//! configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::NetError;

/// The only application protocol spoken: HTTP/2.
pub(crate) const ALPN_H2: &[u8] = b"h2";

/// Where a node's TLS material lives: all three files PEM encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The deployment CA certificate(s): the only trust anchors.
    pub ca: PathBuf,
    /// This node's certificate, optionally followed by intermediate certificates.
    pub cert: PathBuf,
    /// This node's private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// A server configuration: TLS 1.3 only, ALPN `h2`, client certificates required and
/// verified against the CA in `files.ca`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, NetError> {
    let provider = provider();
    let roots = Arc::new(load_roots(&files.ca)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| NetError::pki(format!("could not build the client verifier: {e}")))?;
    let (chain, key) = load_identity(files)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::config(format!("tls 1.3 is unavailable: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| identity_error(files, &e))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// A client configuration: TLS 1.3 only, ALPN `h2`, the CA in `files.ca` as the only trust
/// anchor, and this node's certificate and key for client authentication.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, NetError> {
    let roots = load_roots(&files.ca)?;
    let (chain, key) = load_identity(files)?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::config(format!("tls 1.3 is unavailable: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| identity_error(files, &e))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn identity_error(files: &TlsFiles, e: &rustls::Error) -> NetError {
    NetError::pki(format!(
        "could not use certificate `{}` with key `{}`: {e}",
        files.cert.display(),
        files.key.display()
    ))
}

fn load_roots(path: &Path) -> Result<RootCertStore, NetError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, "ca certificate")? {
        roots.add(cert).map_err(|e| {
            NetError::pki(format!(
                "invalid ca certificate in `{}`: {e}",
                path.display()
            ))
        })?;
    }
    Ok(roots)
}

fn load_identity(
    files: &TlsFiles,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), NetError> {
    let chain = load_certs(&files.cert, "certificate")?;
    let pem = read(&files.key, "private key")?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        NetError::pki(format!(
            "no usable private key in `{}`: {e}",
            files.key.display()
        ))
    })?;
    Ok((chain, key))
}

/// Every certificate in the PEM file at `path`; at least one.
fn load_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NetError::pki(format!("invalid {what} file `{}`: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(NetError::pki(format!("no {what} in `{}`", path.display())));
    }
    Ok(certs)
}

/// The file's bytes, in memory that is wiped on drop (it may hold a private key).
fn read(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, NetError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| NetError::io(format!("could not read {what} `{}`: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::{TlsFiles, client_config, server_config};
    use crate::NetErrorKind;
    use crate::pki::write_dev_pki;

    fn files(dir: &std::path::Path, node: &str) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join(format!("{node}.pem")),
            key: dir.join(format!("{node}.key")),
        }
    }

    #[test]
    fn configs_load_from_dev_pki() {
        let dir = tempfile::tempdir().unwrap();
        write_dev_pki(dir.path(), "test ca", &["signer-1"]).unwrap();
        let server = server_config(&files(dir.path(), "signer-1")).unwrap();
        assert_eq!(server.alpn_protocols, vec![b"h2".to_vec()]);
        let client = client_config(&files(dir.path(), "signer-1")).unwrap();
        assert_eq!(client.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_dev_pki(dir.path(), "test ca", &["signer-1"]).unwrap();
        let mut f = files(dir.path(), "signer-1");
        f.key = dir.path().join("nope.key");
        let e = server_config(&f).unwrap_err();
        assert_eq!(e.kind, NetErrorKind::Io);
        assert!(e.detail.contains("nope.key"), "{e}");
    }

    #[test]
    fn mismatched_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_dev_pki(dir.path(), "test ca", &["signer-1", "signer-2"]).unwrap();
        let mut f = files(dir.path(), "signer-1");
        f.key = dir.path().join("signer-2.key");
        let e = client_config(&f).unwrap_err();
        assert_eq!(e.kind, NetErrorKind::Pki);
        assert!(e.detail.contains("signer-1.pem"), "{e}");
    }

    #[test]
    fn garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_dev_pki(dir.path(), "test ca", &["signer-1"]).unwrap();
        std::fs::write(dir.path().join("bad.pem"), "not a certificate").unwrap();
        let mut f = files(dir.path(), "signer-1");
        f.ca = dir.path().join("bad.pem");
        let e = server_config(&f).unwrap_err();
        assert_eq!(e.kind, NetErrorKind::Pki);
        assert!(e.detail.contains("bad.pem"), "{e}");
    }
}
