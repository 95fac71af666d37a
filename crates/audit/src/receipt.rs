//! Decision receipts: a node's signed statement of what it decided about a request, and where
//! in its audit chain it recorded that; and the quorum check a client runs over them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::entry::{Anchor, check_kind, prefix};
use crate::hexbytes;
use crate::key::{AuditKey, AuditPublicKey};

const DOMAIN: &[u8] = b"tessera/receipt/v1\0";
const REQUEST_DOMAIN: &[u8] = b"tessera/request/v1\0";
const MAX_NAME: usize = 128;

/// What a receipt states, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptFields {
    /// The node that decided.
    pub node: String,
    /// The request's id.
    pub request_id: String,
    /// SHA-256 of the client's signed request, as the caller defines it.
    pub request_hash: [u8; 32],
    /// The decision (`allow`, `deny`, `pending_approval`, ...): 1 to 32 of `a-z` and `_`.
    pub decision: String,
    /// The hash of the policy the decision was made under: 64 lowercase hex characters.
    pub policy_hash: String,
    /// The audit entry that records the decision.
    pub audit: Anchor,
}

/// A node's signed decision about one request.
///
/// The signature is Ed25519 by the node's audit key over
/// `"tessera/receipt/v1\0" || lp(node) || lp(request_id) || request_hash || lp(decision)
/// || lp(policy_hash) || audit_seq (u64 BE) || audit_hash`, where `lp(x)` is the length of `x`
/// as a big-endian u64 followed by `x`; the fixed-size fields go in as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The node that decided.
    pub node: String,
    /// The request's id.
    pub request_id: String,
    /// SHA-256 of the client's signed request.
    #[serde(with = "hexbytes")]
    pub request_hash: [u8; 32],
    /// The decision.
    pub decision: String,
    /// The policy's hash, 64 lowercase hex characters.
    pub policy_hash: String,
    /// The position of the audit entry recording the decision.
    pub audit_seq: u64,
    /// That entry's hash.
    #[serde(with = "hexbytes")]
    pub audit_hash: [u8; 32],
    /// The node's signature.
    #[serde(with = "hexbytes")]
    pub sig: [u8; 64],
}

/// Why a receipt, or a set of them, is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// A field breaks its format.
    #[error("receipt field `{field}` {reason}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The signature does not verify under the key given.
    #[error("receipt from `{0}` is not signed by its node's audit key")]
    BadSignature(String),
    /// A quorum of zero.
    #[error("a quorum needs at least one receipt")]
    BadThreshold,
    /// Fewer than the threshold of receipts are valid and agree.
    #[error("no quorum: {} of {threshold} needed receipts agree{}", counted.len(), RejectedList(rejected))]
    NoQuorum {
        /// How many were needed.
        threshold: usize,
        /// The nodes whose receipts counted.
        counted: Vec<String>,
        /// Every receipt that did not count, and why.
        rejected: Vec<Rejection>,
    },
}

impl ReceiptError {
    /// A stable code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            ReceiptError::Malformed { .. } => "malformed_receipt",
            ReceiptError::BadSignature(_) => "bad_signature",
            ReceiptError::BadThreshold => "bad_threshold",
            ReceiptError::NoQuorum { .. } => "no_quorum",
        }
    }
}

/// A receipt that [`check_quorum`] did not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Its index in the slice given.
    pub index: usize,
    /// The node it names.
    pub node: String,
    /// Why: `unknown_node`, `malformed_receipt`, `bad_signature`, `other_request`,
    /// `other_policy`, `other_decision` or `duplicate_node`.
    pub code: &'static str,
}

struct RejectedList<'a>(&'a [Rejection]);

impl fmt::Display for RejectedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            let lead = if i == 0 { "; not counted: " } else { ", " };
            write!(f, "{lead}#{} from `{}` ({})", r.index, r.node, r.code)?;
        }
        Ok(())
    }
}

/// A quorum that [`check_quorum`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuorumReport {
    /// The nodes whose receipts counted, in order.
    pub nodes: Vec<String>,
    /// The receipts that did not count, and why.
    pub rejected: Vec<Rejection>,
}

impl Receipt {
    /// Checks the fields and signs them with the node's audit key.
    pub fn sign(key: &AuditKey, fields: ReceiptFields) -> Result<Self, ReceiptError> {
        let mut receipt = Self {
            node: fields.node,
            request_id: fields.request_id,
            request_hash: fields.request_hash,
            decision: fields.decision,
            policy_hash: fields.policy_hash,
            audit_seq: fields.audit.seq,
            audit_hash: fields.audit.hash,
            sig: [0; 64],
        };
        receipt.check_fields()?;
        receipt.sig = key.sign(&receipt.message());
        Ok(receipt)
    }

    /// Checks the fields and the signature under `key`, the audit key of `self.node`.
    pub fn verify(&self, key: &AuditPublicKey) -> Result<(), ReceiptError> {
        self.check_fields()?;
        if key.verifies(&self.message(), &self.sig) {
            Ok(())
        } else {
            Err(ReceiptError::BadSignature(self.node.clone()))
        }
    }

    /// Where the node's audit chain recorded the decision: verifying the chain with this anchor
    /// proves the entry is still there, unchanged.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            seq: self.audit_seq,
            hash: self.audit_hash,
        }
    }

    fn check_fields(&self) -> Result<(), ReceiptError> {
        let malformed = |field, reason| Err(ReceiptError::Malformed { field, reason });
        if !name_ok(&self.node) {
            return malformed("node", "is empty, too long or has control characters");
        }
        if !name_ok(&self.request_id) {
            return malformed("request_id", "is empty, too long or has control characters");
        }
        if check_kind(&self.decision).is_err() {
            return malformed("decision", "is not 1 to 32 characters of `a-z` and `_`");
        }
        let policy_ok = self.policy_hash.len() == 64
            && self
                .policy_hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !policy_ok {
            return malformed("policy_hash", "is not 64 lowercase hex characters");
        }
        if self.audit_seq == 0 {
            return malformed("audit_seq", "is 0; audit entries start at 1");
        }
        Ok(())
    }

    fn message(&self) -> Vec<u8> {
        let mut m = DOMAIN.to_vec();
        push_prefixed(&mut m, self.node.as_bytes());
        push_prefixed(&mut m, self.request_id.as_bytes());
        m.extend_from_slice(&self.request_hash);
        push_prefixed(&mut m, self.decision.as_bytes());
        push_prefixed(&mut m, self.policy_hash.as_bytes());
        m.extend_from_slice(&self.audit_seq.to_be_bytes());
        m.extend_from_slice(&self.audit_hash);
        m
    }
}

/// The hash by which receipts (and audit entries) name a client's signed request:
///
/// ```text
/// SHA-256("tessera/request/v1\0" || lp(token) || lp(method) || lp(path) || lp(body))
/// ```
///
/// where `token` is the client's compact JWS exactly as sent in `Authorization: Bearer`,
/// `method` the HTTP method (`POST`), `path` the path and query as sent, `body` the exact body
/// bytes, and `lp(x)` the length of `x` as a big-endian u64 followed by `x`. A client computes
/// it from what it sent, without trusting any node.
pub fn request_hash(token: &str, method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(REQUEST_DOMAIN);
    for part in [token.as_bytes(), method.as_bytes(), path.as_bytes(), body] {
        crate::entry::update_prefixed(&mut h, part);
    }
    h.finalize().into()
}

fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME && !s.chars().any(char::is_control)
}

fn push_prefixed(m: &mut Vec<u8>, bytes: &[u8]) {
    m.extend_from_slice(&prefix(bytes));
    m.extend_from_slice(bytes);
}

/// Counts the receipts that come from distinct nodes of `keys`, verify under that node's key,
/// and state `expected_decision` about the request hashed `request_hash` under the policy
/// `expected_policy`; succeeds when there are at least `threshold` of them.
///
/// A receipt from an unknown node, with a bad signature or a malformed field, about another
/// request, under another policy, with another decision, or from a node already counted, does
/// not count; each is listed with its reason, in the report or in the error.
pub fn check_quorum(
    receipts: &[Receipt],
    keys: &BTreeMap<String, AuditPublicKey>,
    threshold: usize,
    request_hash: &[u8; 32],
    expected_policy: &str,
    expected_decision: &str,
) -> Result<QuorumReport, ReceiptError> {
    if threshold == 0 {
        return Err(ReceiptError::BadThreshold);
    }
    let mut counted = BTreeSet::new();
    let mut rejected = Vec::new();
    for (index, receipt) in receipts.iter().enumerate() {
        let code = match keys.get(&receipt.node) {
            None => Some("unknown_node"),
            Some(key) => match receipt.verify(key) {
                Err(e) => Some(e.code()),
                Ok(()) if receipt.request_hash != *request_hash => Some("other_request"),
                Ok(()) if receipt.policy_hash != expected_policy => Some("other_policy"),
                Ok(()) if receipt.decision != expected_decision => Some("other_decision"),
                Ok(()) if counted.contains(&receipt.node) => Some("duplicate_node"),
                Ok(()) => None,
            },
        };
        match code {
            Some(code) => rejected.push(Rejection {
                index,
                node: receipt.node.clone(),
                code,
            }),
            None => {
                counted.insert(receipt.node.clone());
            }
        }
    }
    let nodes: Vec<String> = counted.into_iter().collect();
    if nodes.len() >= threshold {
        Ok(QuorumReport { nodes, rejected })
    } else {
        Err(ReceiptError::NoQuorum {
            threshold,
            counted: nodes,
            rejected,
        })
    }
}
