//! A tamper-evident audit log and signed decision receipts (ADR 0013).
//!
//! Every node (each signer, and the coordinator) keeps its own hash chain in a table of its own
//! SQLite store, `audit_log`. An entry is appended with [`append`] *inside the caller's
//! transaction*, so that what it records (a registered request, a decision, a signature) and the
//! entry itself commit together or not at all.
//!
//! # Format
//!
//! Entry `seq` (from 1, dense) carries the time `at` (as the caller counts it, usually Unix
//! seconds), a `kind` (1 to 32 of `a-z` and `_`) and a JSON `body`, stored as the exact text
//! that was hashed. Its hash is
//!
//! ```text
//! SHA-256("tessera/audit/v1\0" || seq (u64 BE) || at (i64 BE)
//!         || len(kind) (u64 BE) || kind || len(body) (u64 BE) || body || prev)
//! ```
//!
//! where `prev` is the previous entry's hash (32 zero bytes for entry 1), and its signature is
//! Ed25519 by the node's audit key over `"tessera/audit-entry/v1\0" || hash`. Verification
//! recomputes the hash over the stored body text; it never serializes the body again.
//!
//! # What the chain proves
//!
//! Under the node's audit public key, [`verify`] proves that every entry present was written by
//! the key holder, in this order, with nothing edited, reordered or removed *before the last
//! entry*. It cannot see that entries were cut off the end: a truncated chain is a valid chain.
//! An external [`Anchor`] (an entry's position and hash, as every [`Receipt`] carries) proves
//! that the chain reached at least that far: see [`verify_with_anchors`]. Nor does it prove
//! that the key holder logged everything it did; only that what it logged was not changed.

mod entry;
mod error;
mod hexbytes;
mod key;
mod log;
mod receipt;
mod verify;

pub use entry::{Anchor, Body, Entry, GENESIS, check_kind};
pub use error::AuditError;
pub use key::{AuditKey, AuditPublicKey};
pub use log::{MAX_PAGE, SCHEMA, append, create_table, export_jsonl, head, page};
pub use receipt::{
    QuorumReport, Receipt, ReceiptError, ReceiptFields, Rejection, check_quorum, request_hash,
};
pub use verify::{
    BadEntry, ChainVerifier, Verified, VerifyError, verify, verify_entries, verify_jsonl,
    verify_with_anchors,
};
