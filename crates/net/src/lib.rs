//! Authenticated transport between Tessera nodes.
//!
//! One coordinator and several signers talk over TLS 1.3 with mutual authentication: each
//! node holds a certificate issued by the deployment CA ([`pki`] makes a development one),
//! loaded into rustls configurations by [`tls`]. On top of TLS, [`rpc`] is a minimal
//! request/response channel: HTTP/2 `POST /rpc` of opaque bytes, multiplexed over one
//! long-lived connection per peer, with the server told who the authenticated caller is.
//! Encoding and versioning of the bytes belong to the layer above.

mod error;
pub mod pki;
pub mod rpc;
pub mod tls;

pub use error::{NetError, NetErrorKind};
