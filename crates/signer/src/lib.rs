//! The signer node: one party's shares, its nonce pool and its ledger.
//!
//! A signer never lets its share leave: key generation and refresh run *inside* it (the caller
//! only relays messages), and the share is sealed by the vault as soon as it exists; it becomes
//! the active share only when the coordinator activates it, after every party finished with
//! the same group key (a failure seen by one party must not leave the others on another key). It signs
//! only with a nonce it can prove unused: the secret nonce must be in this process's pool, and
//! the store must move it from `issued` (in this boot) to `consumed` in a durable transaction
//! before the share is computed. A crash at any point therefore loses at most a nonce, never
//! reuses one (ADR 0003).
//!
//! [`SignerNode`] is the signer as the network sees it: it acts only on client requests it has
//! verified and registered itself, and signs only the bytes they asked for. Threshold ECDSA
//! (ADR 0010) signs in interactive sessions instead of from a nonce pool: each session is
//! recorded as issued when it opens and consumed, with a round of its request, before its
//! round-2 messages exist; for an Ethereum transfer the signer first decodes the coordinator's
//! unsigned transaction and checks it against the client's request ([`eth`]).

pub mod breaker;
mod error;
pub mod eth;
pub mod facts;
mod guard;
mod node;
pub mod peer;
pub mod proposals;
mod receipts;
mod ruling;

pub use error::SignerError;
pub use eth::EthereumRules;
pub use guard::{Registered, Rules, SignerNode};
pub use node::{
    EcdsaProgress, MAX_ECDSA_SESSIONS, MAX_POOLED_NONCES, Progress, SignObserver, SignStep, Signer,
    package_digest,
};
pub use ruling::{SpendHistory, StoreBook, spend_facts, wire_ruling};
