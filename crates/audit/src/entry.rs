//! One entry of a node's audit chain, its hash and its signature.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::error::AuditError;
use crate::hexbytes;
use crate::key::{AuditKey, AuditPublicKey};

/// The `prev` of entry 1, and the hash at position 0 (an empty chain).
pub const GENESIS: [u8; 32] = [0; 32];

const HASH_DOMAIN: &[u8] = b"tessera/audit/v1\0";
const SIG_DOMAIN: &[u8] = b"tessera/audit-entry/v1\0";

/// A JSON body, kept as the exact text that was hashed. Serializes inline as that JSON.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Body(Box<RawValue>);

impl Body {
    /// The compact JSON text of `value` (`serde_json::to_string`), as [`crate::append`] stores
    /// it.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, AuditError> {
        serde_json::value::to_raw_value(value)
            .map(Self)
            .map_err(|e| AuditError::Body(e.to_string()))
    }

    /// `text`, if it is JSON with no whitespace around it. Kept byte for byte.
    pub fn from_text(text: String) -> Result<Self, String> {
        let raw =
            RawValue::from_string(text.clone()).map_err(|e| format!("body is not JSON: {e}"))?;
        if raw.get() != text {
            return Err("body has whitespace around its JSON value".into());
        }
        Ok(Self(raw))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The body parsed as a JSON value.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Body {}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of an audit chain; one line of a JSONL export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When it was written, as the node counts time (Unix seconds in Tessera).
    pub at: i64,
    /// What it records (`request`, `decision`, `signature`, ...).
    pub kind: String,
    /// The details, as the exact JSON text that was hashed.
    pub body: Body,
    /// The previous entry's hash ([`GENESIS`] for entry 1).
    #[serde(with = "hexbytes")]
    pub prev: [u8; 32],
    /// This entry's hash (see the crate documentation).
    #[serde(with = "hexbytes")]
    pub hash: [u8; 32],
    /// The node's Ed25519 signature over `"tessera/audit-entry/v1\0" || hash`.
    #[serde(with = "hexbytes")]
    pub sig: [u8; 64],
}

impl Entry {
    /// Builds and signs the entry following `prev` at position `seq`.
    pub(crate) fn sign(
        key: &AuditKey,
        seq: u64,
        at: i64,
        kind: &str,
        body: Body,
        prev: [u8; 32],
    ) -> Result<Self, AuditError> {
        check_kind(kind)?;
        let hash = entry_hash(seq, at, kind, body.as_str(), &prev);
        let sig = key.sign(&sig_message(&hash));
        Ok(Self {
            seq,
            at,
            kind: kind.to_owned(),
            body,
            prev,
            hash,
            sig,
        })
    }

    /// The hash of this entry's contents, computed again (not the stored `hash`).
    pub fn compute_hash(&self) -> [u8; 32] {
        entry_hash(
            self.seq,
            self.at,
            &self.kind,
            self.body.as_str(),
            &self.prev,
        )
    }

    /// Whether `sig` is `key`'s signature of the stored `hash`.
    pub fn signature_valid(&self, key: &AuditPublicKey) -> bool {
        key.verifies(&sig_message(&self.hash), &self.sig)
    }

    /// This entry's position, to check a chain against later.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// A position in a chain that some outside party holds: "entry `seq` had hash `hash`". Position
/// 0 is the empty chain, with hash [`GENESIS`]. Receipts carry one; a chain that no longer
/// reaches it was truncated, one with another hash there was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Anchor {
    /// The position.
    pub seq: u64,
    /// The hash of the entry at that position.
    #[serde(with = "hexbytes")]
    pub hash: [u8; 32],
}

/// Accepts a kind of 1 to 32 characters of `a-z` and `_`.
pub fn check_kind(kind: &str) -> Result<(), AuditError> {
    let ok =
        (1..=32).contains(&kind.len()) && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        Ok(())
    } else {
        let shown: String = kind.chars().take(40).collect();
        Err(AuditError::BadKind(shown))
    }
}

pub(crate) fn entry_hash(seq: u64, at: i64, kind: &str, body: &str, prev: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(HASH_DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    update_prefixed(&mut h, kind.as_bytes());
    update_prefixed(&mut h, body.as_bytes());
    h.update(prev);
    h.finalize().into()
}

/// Feeds `bytes` preceded by its length as a big-endian u64.
pub(crate) fn update_prefixed(h: &mut Sha256, bytes: &[u8]) {
    h.update(prefix(bytes));
    h.update(bytes);
}

/// The length of `bytes` as a big-endian u64.
pub(crate) fn prefix(bytes: &[u8]) -> [u8; 8] {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes()
}

fn sig_message(hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIG_DOMAIN.len() + hash.len());
    m.extend_from_slice(SIG_DOMAIN);
    m.extend_from_slice(hash);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_lowercase_words() {
        for ok in ["request", "policy_change", "a", &"x".repeat(32)] {
            assert!(check_kind(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Request", "re-quest", "r1", "décision", &"x".repeat(33)] {
            assert_eq!(
                check_kind(bad).unwrap_err().code(),
                "bad_audit_kind",
                "{bad}"
            );
        }
    }

    #[test]
    fn hash_follows_the_documented_layout() {
        let body = r#"{"a":1}"#;
        let prev = [9u8; 32];
        let mut preimage = b"tessera/audit/v1\0".to_vec();
        preimage.extend_from_slice(&7u64.to_be_bytes());
        preimage.extend_from_slice(&(-5i64).to_be_bytes());
        preimage.extend_from_slice(&7u64.to_be_bytes());
        preimage.extend_from_slice(b"request");
        preimage.extend_from_slice(&7u64.to_be_bytes());
        preimage.extend_from_slice(body.as_bytes());
        preimage.extend_from_slice(&prev);
        let expected: [u8; 32] = Sha256::digest(&preimage).into();
        assert_eq!(entry_hash(7, -5, "request", body, &prev), expected);
    }

    #[test]
    fn a_body_keeps_its_exact_text() {
        let text = r#"{"b":1,"a":[1.50,"x"]}"#.to_owned();
        let body = Body::from_text(text.clone()).unwrap();
        assert_eq!(body.as_str(), text);
        assert!(Body::from_text(" {}".into()).is_err());
        assert!(Body::from_text("{".into()).is_err());
    }
}
