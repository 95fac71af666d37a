//! `GET /v1/audit`, the receipts in the API's answers, and the coordinator's own audit entries
//! for what it decides or forwards without a store change of its own (ADR 0013).
//!
//! An answer about a request carries `receipts`: the latest receipt of each signer about it,
//! as the signers returned them (the coordinator cannot forge or alter one; it can withhold
//! them). A client checks them with `tessera receipt verify` or `tessera_audit::check_quorum`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tessera_audit::{Anchor, Entry, MAX_PAGE, Receipt};
use tessera_policy::{Action, Decision, Policy};
use tessera_types::PartyId;
use utoipa::ToSchema;

use super::handlers::{cluster_err, read_access, store_err};
use super::{ApiError, AppState, Received};

/// An answer, with the signers' receipts for the request it is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipted<T: ToSchema> {
    /// The answer's own fields.
    #[serde(flatten)]
    pub answer: T,
    /// The latest receipt of each signer about the request (ADR 0013): node, request_id,
    /// request_hash, decision, policy_hash, audit_seq, audit_hash, sig.
    #[schema(value_type = Vec<Object>)]
    pub receipts: Vec<Receipt>,
}

/// `answer` with the receipts kept for `request_id`. A store failure leaves them out (logged):
/// the answer itself stands.
pub(crate) fn receipted<T: ToSchema>(st: &AppState, request_id: &str, answer: T) -> Receipted<T> {
    let receipts = st.store.receipts(request_id).unwrap_or_else(|e| {
        tracing::error!(request_id, error = %e, "cannot read the receipts of a request");
        Vec::new()
    });
    Receipted { answer, receipts }
}

/// Records the pre-check's decision on a request in the coordinator's chain.
pub(crate) fn precheck_event(st: &AppState, request_id: &str, policy: &Policy, d: &Decision) {
    let decision = match &d.action {
        Action::Allow => "allow",
        Action::Deny => "deny",
        Action::NeedsApprovals { .. } => "pending_approval",
    };
    let body = serde_json::json!({
        "request_id": request_id,
        "decision": decision,
        "reason": d.reason(),
        "policy_hash": policy.hash().to_string(),
        "policy_version": policy.version(),
    });
    if let Err(e) = st.store.audit_event("precheck", &body) {
        tracing::error!(request_id, error = %e, "cannot record the pre-check in the audit log");
    }
}

/// Records an approver's verdict forwarded to the signers, and where they say it leaves the
/// request.
pub(crate) fn verdict_event(
    st: &AppState,
    request_id: &str,
    approver: &str,
    r: &Received,
    ruling: &tessera_wire::WireRuling,
) {
    let verdict = if r.path.ends_with("/reject") {
        "reject"
    } else {
        "approve"
    };
    let body = serde_json::json!({
        "request_id": request_id,
        "approver": approver,
        "verdict": verdict,
        "verdict_hash": hex::encode(tessera_audit::request_hash(&r.token, &r.method, &r.path, &r.body)),
        "decision": ruling.decision,
        "approvals": ruling.approvals,
        "approvals_needed": ruling.approvals_needed,
        "policy_hash": ruling.policy_hash,
    });
    if let Err(e) = st.store.audit_event("verdict", &body) {
        tracing::error!(request_id, error = %e, "cannot record a verdict in the audit log");
    }
}

/// A page of a node's audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageView {
    /// `coordinator`, or `signer-N`.
    pub node: String,
    /// The entries, in order: seq, at, kind, body (the exact JSON that was hashed), prev, hash,
    /// sig.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Entry>,
    /// The `after` of the next page; null when this page reaches the head.
    pub next_after: Option<u64>,
    /// The chain's last position and hash; null for an empty chain.
    #[schema(value_type = Option<Object>)]
    pub head: Option<Anchor>,
    /// The audit public key the node says it signs with, hex (for display: a verifier takes
    /// the key from its own configuration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// Which chain, and where in it.
#[derive(Debug, PartialEq, Eq)]
struct AuditQuery {
    node: Option<PartyId>,
    after: u64,
    limit: u32,
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

/// Parses `node` (`coordinator` or a signer's party), `after` (default 0) and `limit` (default
/// 100, at most [`MAX_PAGE`]) from the query string.
fn parse_query(path: &str) -> Result<AuditQuery, ApiError> {
    let mut q = AuditQuery {
        node: None,
        after: 0,
        limit: 100,
    };
    let Some((_, query)) = path.split_once('?') else {
        return Ok(q);
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let shown: String = value.chars().take(40).collect();
        match name {
            "node" if value == "coordinator" => q.node = None,
            "node" => {
                let party = value
                    .parse::<u16>()
                    .ok()
                    .and_then(|p| PartyId::new(p).ok())
                    .ok_or_else(|| {
                        bad_query(format!(
                            "`node` is `coordinator` or a signer's party number, not `{shown}`"
                        ))
                    })?;
                q.node = Some(party);
            }
            "after" => {
                q.after = value.parse().map_err(|_| {
                    bad_query(format!("`after` is an entry's position, not `{shown}`"))
                })?;
            }
            "limit" => {
                let limit: u32 = value.parse().ok().filter(|l| *l > 0).ok_or_else(|| {
                    bad_query(format!("`limit` is 1 to {MAX_PAGE}, not `{shown}`"))
                })?;
                q.limit = limit.min(MAX_PAGE);
            }
            other => {
                let other: String = other.chars().take(40).collect();
                return Err(bad_query(format!(
                    "unknown query parameter `{other}`; use node, after, limit"
                )));
            }
        }
    }
    Ok(q)
}

fn next_after(entries: &[Entry], head: Option<&Anchor>) -> Option<u64> {
    let last = entries.last()?.seq;
    head.filter(|h| h.seq > last).map(|_| last)
}

/// `GET /v1/audit?node=coordinator|N&after=SEQ&limit=N`: a page of the coordinator's audit
/// chain, or of signer N's.
#[utoipa::path(get, path = "/v1/audit", security(("client_jwt" = [])),
    params(("node" = Option<String>, Query, description = "`coordinator` (default) or a signer's party number"),
        ("after" = Option<u64>, Query, description = "entries after this position (default 0)"),
        ("limit" = Option<u32>, Query, description = "at most this many (default 100, at most 1000)")),
    responses((status = 200, body = AuditPageView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn get_audit(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<AuditPageView>, ApiError> {
    read_access(&st, &r)?;
    let q = parse_query(&r.path)?;
    let Some(party) = q.node else {
        let entries = st.store.audit_page(q.after, q.limit).map_err(store_err)?;
        let head = st.store.audit_head().map_err(store_err)?;
        return Ok(Json(AuditPageView {
            node: "coordinator".into(),
            next_after: next_after(&entries, head.as_ref()),
            entries,
            head,
            public_key: None,
        }));
    };
    let page = st
        .cluster
        .audit_page(party, q.after, q.limit)
        .await
        .map_err(|e| match e {
            crate::cluster::ClusterError::Refused { code, message } if code == "unknown_signer" => {
                ApiError::new(StatusCode::NOT_FOUND, code, message)
            }
            other => cluster_err(&other),
        })?;
    let entries = page.parsed().map_err(|e| {
        tracing::warn!(%party, error = %e, "a signer sent an audit page that does not parse");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "signer_refused",
            "the signer's audit page does not parse; see the coordinator's log",
        )
    })?;
    Ok(Json(AuditPageView {
        node: page.node,
        next_after: next_after(&entries, page.head.as_ref()),
        entries,
        head: page.head,
        public_key: page.public_key.map(|k| k.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_has_defaults_a_cap_and_no_strangers() {
        let q = parse_query("/v1/audit").unwrap();
        assert_eq!(
            q,
            AuditQuery {
                node: None,
                after: 0,
                limit: 100
            }
        );
        let q = parse_query("/v1/audit?node=2&after=7&limit=5000").unwrap();
        assert_eq!(q.node.map(PartyId::get), Some(2));
        assert_eq!((q.after, q.limit), (7, MAX_PAGE));
        assert!(
            parse_query("/v1/audit?node=coordinator")
                .unwrap()
                .node
                .is_none()
        );
        for bad in [
            "/v1/audit?node=x",
            "/v1/audit?node=0",
            "/v1/audit?after=-1",
            "/v1/audit?limit=0",
            "/v1/audit?page=2",
        ] {
            assert_eq!(parse_query(bad).unwrap_err().code, "invalid_query", "{bad}");
        }
    }
}

#[cfg(test)]
mod doc_tests {
    use utoipa::OpenApi;

    #[test]
    fn the_document_describes_receipts_and_the_audit_route() {
        let doc = serde_json::to_value(super::super::openapi::ApiDoc::openapi()).unwrap();
        assert!(doc["paths"].get("/v1/audit").is_some());
        let answer = &doc["components"]["schemas"]["Receipted_SignResponse"];
        assert!(answer.to_string().contains("receipts"), "{answer}");
    }
}
