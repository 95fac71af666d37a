//! This signer's audit chain and its decision receipts (ADR 0013).
//!
//! The store appends the entries, inside the transactions that record what they describe
//! (`tessera_store::audit`); this module sets the key, reads pages of the chain, and signs
//! receipts. A receipt states the decision recorded by the latest `request` or `verdict` entry
//! about a request, anchored at that entry, under the name `signer-N` (N: this signer's party).

use tessera_audit::{AuditKey, Receipt, ReceiptFields};
use tessera_store::StoreError;
use tessera_wire::AuditPage;

use crate::{Signer, SignerError, SignerNode};

impl Signer {
    /// From now on, the store chains and signs an audit entry for each change it records. Set
    /// it before anything else happens to the store (the bootstrap policy's pin included).
    pub fn set_audit_key(&mut self, key: AuditKey) {
        self.store_mut().set_audit_key(key);
    }
}

fn audit_err(what: &str, e: impl std::fmt::Display) -> SignerError {
    SignerError::Store(StoreError::Audit(format!("{what}: {e}")))
}

impl SignerNode {
    /// This signer's name in receipts and audit pages: `signer-N`.
    pub fn node_name(&self) -> String {
        format!("signer-{}", self.party().get())
    }

    /// The receipt for the decision this signer last recorded about `request_id`, signed with
    /// its audit key; `None` without an audit key or without such a record.
    pub fn receipt(&self, request_id: &str) -> Result<Option<Receipt>, SignerError> {
        let store = self.signer.store();
        let Some(key) = store.audit_key() else {
            return Ok(None);
        };
        let Some(entry) = store.decision_entry(request_id)? else {
            return Ok(None);
        };
        let body = entry
            .body
            .to_value()
            .map_err(|e| audit_err("decision entry", e))?;
        let text = |field: &str| body.get(field).and_then(serde_json::Value::as_str);
        let (Some(decision), Some(policy_hash), Some(request_hash)) =
            (text("decision"), text("policy_hash"), text("request_hash"))
        else {
            return Ok(None);
        };
        let mut hash = [0u8; 32];
        hex::decode_to_slice(request_hash, &mut hash)
            .map_err(|e| audit_err("decision entry's request hash", e))?;
        let receipt = Receipt::sign(
            key,
            ReceiptFields {
                node: self.node_name(),
                request_id: request_id.to_owned(),
                request_hash: hash,
                decision: decision.to_owned(),
                policy_hash: policy_hash.to_owned(),
                audit: entry.anchor(),
            },
        )
        .map_err(|e| audit_err("receipt", e))?;
        Ok(Some(receipt))
    }

    /// Up to `limit` entries (capped at [`tessera_audit::MAX_PAGE`]) of this signer's audit
    /// chain after position `after`, with its head.
    pub fn audit_page(&self, after: u64, limit: u32) -> Result<AuditPage, SignerError> {
        let store = self.signer.store();
        let mut entries = Vec::new();
        for entry in store.audit_page(after, limit.min(tessera_audit::MAX_PAGE))? {
            entries.push(serde_json::to_string(&entry).map_err(|e| audit_err("entry", e))?);
        }
        Ok(AuditPage {
            node: self.node_name(),
            entries,
            head: store.audit_head()?,
            public_key: store.audit_key().map(AuditKey::public),
        })
    }
}
