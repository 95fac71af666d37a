//! A minimal request/response RPC between nodes: HTTP/2 `POST /rpc` with opaque bytes, over
//! mutually authenticated TLS (see [`crate::tls`]).
//!
//! A client keeps one long-lived connection per peer and multiplexes concurrent calls over
//! it, so a call costs one HTTP/2 stream, not a handshake. The server tells its handler who
//! the authenticated caller is ([`Peer`]). Encoding and versioning of the bytes belong to the
//! layer above.

mod client;
mod server;

use rustls_pki_types::CertificateDer;

use crate::pki::validate_node_name;

pub use client::RpcClient;
pub use server::serve;

/// The only path served.
pub(crate) const RPC_PATH: &str = "/rpc";
/// Largest request or response body accepted: 8 MiB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The caller's node name: the subject common name of the client certificate it
    /// presented, which TLS verified against the deployment CA. It is a valid node name (see
    /// [`validate_node_name`]); a certificate whose common name is missing or is not a valid
    /// node name is refused.
    pub name: String,
}

impl Peer {
    /// The peer named by the first (end-entity) certificate of a verified chain.
    pub(crate) fn from_chain(chain: Option<&[CertificateDer<'_>]>) -> Result<Peer, String> {
        let leaf = chain
            .and_then(<[_]>::first)
            .ok_or_else(|| "the client presented no certificate".to_owned())?;
        let (_, x509) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| format!("could not parse the client certificate: {e}"))?;
        let mut names = x509.subject().iter_common_name();
        let name = match (names.next(), names.next()) {
            (Some(cn), None) => cn
                .as_str()
                .map_err(|e| format!("unreadable common name in the client certificate: {e}"))?,
            (None, _) => return Err("the client certificate has no common name".to_owned()),
            (Some(_), Some(_)) => {
                return Err("the client certificate has several common names".to_owned());
            }
        };
        validate_node_name(name).map_err(|e| e.detail)?;
        Ok(Peer {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    use super::Peer;
    use crate::pki::DevCa;

    #[test]
    fn peer_is_the_common_name() {
        let ca = DevCa::generate("test ca").unwrap();
        let node = ca.issue("signer-7").unwrap();
        let der = CertificateDer::from_pem_slice(node.cert_pem.as_bytes()).unwrap();
        let peer = Peer::from_chain(Some(&[der])).unwrap();
        assert_eq!(peer.name, "signer-7");
    }

    #[test]
    fn no_certificate_no_peer() {
        assert!(Peer::from_chain(None).is_err());
        assert!(Peer::from_chain(Some(&[])).is_err());
    }

    #[test]
    fn ca_common_name_is_not_a_node_name() {
        let ca = DevCa::generate("Test CA").unwrap();
        let der = CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap();
        assert!(Peer::from_chain(Some(&[der])).is_err());
    }
}
