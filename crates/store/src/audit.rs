//! The signer's audit chain (ADR 0013): entries appended inside the store's own transactions,
//! so that an entry and what it records commit together or not at all.
//!
//! A store writes entries only once it has an audit key ([`Store::set_audit_key`]); without
//! one (tests, tools that open a store to read it) nothing is appended.
//!
//! # Appending from a store module
//!
//! Every store module that records something worth auditing calls, inside its own write
//! transaction (opened `TransactionBehavior::Immediate`) and before `commit`:
//!
//! ```text
//! crate::audit::append_in(
//!     tx: &rusqlite::Connection,        // the open transaction (a Transaction derefs to it)
//!     key: Option<&tessera_audit::AuditKey>, // self.audit.as_ref(): None appends nothing
//!     kind: &str,                       // 1 to 32 of `a-z` and `_`, e.g. "breaker_trip"
//!     body: &serde_json::Value,         // what happened; ids, hashes and values, no secrets
//! ) -> Result<Option<tessera_audit::Anchor>, StoreError>
//! ```
//!
//! Borrowing works field by field: `let tx = self.conn.transaction_with_behavior(..)?;` and
//! then `append_in(&tx, self.audit.as_ref(), ..)`. An error aborts the caller's transaction, so
//! nothing is recorded unaudited. Kinds written here: `request`, `verdict`, `policy_pin`,
//! `share`, `signature`, `eth_tx_bound`, `eth_tx_signature`, `key_activated`, `asset_added`.
//!
//! Request entries and verdict entries carry `request_hash` ([`tessera_audit::request_hash`]
//! of the client's token, method, path and body), the `decision` and the `policy_hash`; the
//! latest of them for a request is the anchor of the receipt a signer returns
//! ([`Store::decision_entry`]).

use rusqlite::{Connection, OptionalExtension, params};
use tessera_audit::{Anchor, AuditError, AuditKey, Entry};

use crate::{Store, StoreError, hex, now};

/// Kinds of entries that record a decision about a request: the anchors of receipts.
pub const DECISION_KINDS: [&str; 2] = ["request", "verdict"];

impl From<AuditError> for StoreError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Sqlite(e) => StoreError::Sqlite(e),
            other => StoreError::Audit(other.to_string()),
        }
    }
}

/// Appends an entry to the audit chain inside the caller's transaction `tx`, when `key` is
/// some; returns its position. See the module documentation.
pub(crate) fn append_in(
    tx: &Connection,
    key: Option<&AuditKey>,
    kind: &str,
    body: &serde_json::Value,
) -> Result<Option<Anchor>, StoreError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let entry = tessera_audit::append(tx, key, now(), kind, body)?;
    Ok(Some(entry.anchor()))
}

/// A value as lower-case hex, for entry bodies.
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    hex(bytes)
}

impl Store {
    /// From now on, everything this store records is also appended to its audit chain, signed
    /// with `key`.
    pub fn set_audit_key(&mut self, key: AuditKey) {
        self.audit = Some(key);
    }

    /// The audit key set with [`Store::set_audit_key`].
    pub fn audit_key(&self) -> Option<&AuditKey> {
        self.audit.as_ref()
    }

    /// The chain's last position and hash; `None` for an empty chain.
    pub fn audit_head(&self) -> Result<Option<Anchor>, StoreError> {
        Ok(tessera_audit::head(&self.conn)?.map(|(seq, hash)| Anchor { seq, hash }))
    }

    /// Up to `limit` entries (at most [`tessera_audit::MAX_PAGE`]) after position `after`.
    pub fn audit_page(&self, after: u64, limit: u32) -> Result<Vec<Entry>, StoreError> {
        Ok(tessera_audit::page(&self.conn, after, limit)?)
    }

    /// Writes the whole chain as JSON lines; returns how many entries.
    pub fn audit_export(&self, out: impl std::io::Write) -> Result<u64, StoreError> {
        Ok(tessera_audit::export_jsonl(&self.conn, out)?)
    }

    /// The latest entry that recorded a decision about `request_id` (its registration, or a
    /// verdict since), if any: what a receipt for the request anchors to. The chain is read
    /// from its end, so a request decided recently is found at once.
    pub fn decision_entry(&self, request_id: &str) -> Result<Option<Entry>, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM audit_log
                 WHERE kind IN (?2, ?3) AND json_extract(body, '$.request_id') = ?1
                 ORDER BY seq DESC LIMIT 1",
                params![request_id, DECISION_KINDS[0], DECISION_KINDS[1]],
                |r| r.get(0),
            )
            .optional()?;
        let Some(seq) = seq.and_then(|s| u64::try_from(s).ok()) else {
            return Ok(None);
        };
        Ok(tessera_audit::page(&self.conn, seq.saturating_sub(1), 1)?
            .into_iter()
            .next()
            .filter(|e| e.seq == seq))
    }
}

/// The body of a `request` entry: the registered request, its hash, and the ruling made on it.
/// `in_force` is the policy pinned when it was registered, named when no rule governs the
/// request (`ruled: false`).
pub(crate) fn request_body(
    req: &crate::RequestRecord,
    in_force: Option<[u8; 32]>,
) -> serde_json::Value {
    let r = &req.ruling;
    serde_json::json!({
        "request_id": req.request_id,
        "client": req.client,
        "jti": req.jti,
        "kind": req.kind.as_str(),
        "wallet": req.key_id.as_ref().map(tessera_types::KeyId::as_str),
        "method": req.method,
        "path": req.path,
        "request_hash": hex(&request_hash_of(req)),
        "decision": r.decision.as_str(),
        "reason": r.reason,
        "ruled": r.policy_hash.is_some(),
        "policy_hash": r.policy_hash.or(in_force).map(|h| hex(&h)),
        "approval_group": r.approval_group,
        "approvals_needed": r.approvals_needed,
    })
}

/// [`tessera_audit::request_hash`] of a registered request.
pub(crate) fn request_hash_of(req: &crate::RequestRecord) -> [u8; 32] {
    tessera_audit::request_hash(&req.token, &req.method, &req.path, &req.body)
}

/// The body of a `verdict` entry: the approver's verdict, the hash of its own signed request,
/// and where the request it is about stands now (`request_hash` names that request).
pub(crate) fn verdict_body(
    tx: &Connection,
    v: &crate::Verdict,
    request_hash: &[u8; 32],
    ruling: &crate::Ruling,
) -> Result<serde_json::Value, StoreError> {
    let approvals: u32 = tx.query_row(
        "SELECT count(*) FROM approvals WHERE request_id = ?1 AND verdict = 'approve'",
        params![v.request_id],
        |r| r.get(0),
    )?;
    let verdict_hash = tessera_audit::request_hash(&v.token, &v.method, &v.path, &v.body);
    Ok(serde_json::json!({
        "request_id": v.request_id,
        "approver": v.approver,
        "verdict": if v.approve { "approve" } else { "reject" },
        "jti": v.jti,
        "verdict_hash": hex(&verdict_hash),
        "request_hash": hex(request_hash),
        "decision": ruling.decision.as_str(),
        "reason": ruling.reason,
        "ruled": ruling.policy_hash.is_some(),
        "policy_hash": ruling.policy_hash.map(|h| hex(&h)),
        "approvals": approvals,
        "approvals_needed": ruling.approvals_needed,
    }))
}

/// The body of a `share` entry: a nonce (or ECDSA session) consumed to sign, and for what.
pub(crate) fn share_body(
    request: Option<(&str, u32)>,
    key_id: &tessera_types::KeyId,
    generation: u32,
    nonce_id: &[u8; 32],
    signed_digest: &[u8; 32],
) -> serde_json::Value {
    serde_json::json!({
        "request_id": request.map(|r| r.0),
        "round": request.map(|r| r.1),
        "key_id": key_id.as_str(),
        "generation": generation,
        "nonce_id": hex(nonce_id),
        "signed_digest": hex(signed_digest),
    })
}
