//! The nodes' audit keys, the signers' receipts as the coordinator collects them, and pages of
//! the signers' audit chains (ADR 0013).
//!
//! A signer's `Registered` and `Ruled` answers carry its receipt; [`Cluster`] hands each one to
//! the coordinator's store as it arrives (`receipts` table), whatever flow asked, and the API
//! answers a request with the latest receipt of each signer about it.

use std::path::Path;
use std::sync::Arc;

use tessera_audit::AuditKey;
use tessera_types::PartyId;
use tessera_wire::{AuditPage, Reply, Request};

use crate::NodeError;
use crate::cluster::{Cluster, ClusterError};
use crate::gateway_store::GatewayStore;

/// Reads a node's audit key file. A missing or malformed file stops the node: it would
/// otherwise run without the chain its configuration asks for.
pub fn read_key(file: &Path) -> Result<AuditKey, NodeError> {
    AuditKey::read_from(file).map_err(|e| NodeError::new("bad_config", e.to_string()))
}

impl Cluster {
    /// Keeps every receipt the signers send from now on in `store`.
    pub fn keep_receipts_in(&self, store: Arc<GatewayStore>) {
        // Set once at start; a second call changes nothing.
        let _ = self.receipts.set(store);
    }

    /// Keeps the receipt of a signer's answer, if it carries one about the request it answers.
    pub(crate) fn keep_receipt(&self, party: PartyId, reply: &Reply) {
        let (receipt, request_id) = match reply {
            Reply::Registered {
                receipt: Some(r),
                request_id,
                ..
            }
            | Reply::Ruled {
                receipt: Some(r),
                request_id,
                ..
            } => (r, request_id),
            _ => return,
        };
        if &receipt.request_id != request_id {
            tracing::warn!(%party, request_id, "a signer's receipt is about another request; not kept");
            return;
        }
        if let Some(store) = self.receipts.get()
            && let Err(e) = store.add_receipts(std::slice::from_ref(receipt))
        {
            tracing::error!(%party, request_id, error = %e, "cannot keep a receipt");
        }
    }

    /// A page of signer `party`'s audit chain.
    pub async fn audit_page(
        &self,
        party: PartyId,
        after: u64,
        limit: u32,
    ) -> Result<AuditPage, ClusterError> {
        let signer = self.signer(party).map_err(|e| ClusterError::Refused {
            code: e.code,
            message: e.message,
        })?;
        match signer.call(&Request::AuditPage { after, limit }).await {
            Ok(Reply::AuditPage(page)) => Ok(page),
            Ok(other) => Err(ClusterError::Failed {
                code: "protocol_error".into(),
                message: format!("{party} answered {}", reply_name(&other)),
                culprits: vec![party],
            }),
            Err(e) if e.code == crate::remote::UNREACHABLE || e.code == "signer_timeout" => {
                Err(ClusterError::Unavailable(e.message))
            }
            Err(e) => Err(ClusterError::Refused {
                code: e.code,
                message: e.message,
            }),
        }
    }
}

fn reply_name(reply: &Reply) -> &'static str {
    match reply {
        Reply::Registered { .. } => "registered",
        Reply::Ruled { .. } => "ruled",
        _ => "another reply",
    }
}
