//! Client authentication for Tessera.
//!
//! Every API request carries `Authorization: Bearer <JWT>`, signed by the client's own Ed25519
//! key. The coordinator and every signer node check the token themselves with [`verify`]: the
//! signature under the key registered for the `sub` claim, a lifetime of at most 60 seconds,
//! and the binding to the request's method, path and body digest. Replay protection is the
//! caller's: it records each [`RequestId`] (derived from `sub` and `jti`) in its durable store
//! and refuses a second use with [`AuthError::replayed`].
//!
//! The crate is pure: no async, no I/O except reading and writing key files.
//!
//! The wire format, fixed for external scripts:
//! - header, byte for byte: [`TOKEN_HEADER`] (`{"alg":"EdDSA","typ":"JWT"}`);
//! - claims: `sub`, `iat`, `exp`, `jti`, `method` (upper case), `path` (path and query as
//!   sent), `body_sha256` (lower-case hex SHA-256 of the exact body bytes);
//! - compact JWS, base64url without padding;
//! - key files: PKCS#8 PEM Ed25519 private keys (`-----BEGIN PRIVATE KEY-----`).

mod claims;
mod client;
mod error;
mod key;
mod token;

pub use claims::{Claims, RequestId, body_sha256};
pub use client::{Client, ClientId, ClientRegistry, MAX_CLIENT_ID_LEN, Role};
pub use error::{AuthError, AuthErrorKind};
pub use key::{ClientKey, ClientPublicKey};
pub use token::{
    MAX_JTI_LEN, MAX_TOKEN_LEN, TOKEN_HEADER, TokenPolicy, Verified, bearer_token, sign_token,
    verify, verify_signature_only, verify_stored,
};
