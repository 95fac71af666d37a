//! The coordinator: drives key generation, refresh and signing across signers, and blames the
//! ones that misbehave. Convenient, never trusted: every signer re-checks what it is asked.
//!
//! Signers are reached through [`SignerLink`]. Today the only link is in-process (a
//! [`tessera_signer::Signer`] value); the network layer adds one over mutual TLS.

mod link;
mod session;
mod signing;

pub use link::{LinkError, SignerLink};
pub use session::{Tamper, generate_key, refresh_key};
pub use signing::{Coordinator, SessionError};
