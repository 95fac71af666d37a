//! The policy at the API: the pre-check, the signers' rulings in answers, approvals and
//! rejections, and `GET /v1/policy`.
//!
//! The coordinator pre-checks a request under its copy of the policy so that a client learns of
//! a denial without a signing round; the signers decide, each under the policy pinned in its
//! own store, and only what they decide is final. An approval or rejection is the approver's
//! own signed request, forwarded to every signer, which verifies it itself.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use tessera_auth::Role;
use tessera_eth::Address;
use tessera_policy::{Policy, RiskLevel};
use tessera_signer::facts::{AssetBook, policy_request};
use tessera_wire::{Intent, Request as WireRequest, WireRuling};
use utoipa::ToSchema;

use super::audit::{Receipted, receipted};
use super::handlers::{cluster_err, read_access, store_err};
use super::{ApiError, AppState, Received, authenticate};
use crate::cluster::ClusterError;
use crate::gateway_store::GatewayStore;
use crate::unix_now;

/// A request the policy holds back, as the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// `denied`, `pending_approval` or `rejected`.
    pub status: &'static str,
    /// The stable code: `policy_denied`, `approval_required` or `request_rejected`.
    pub code: &'static str,
    /// Why, naming the rule or limit.
    pub reason: String,
}

/// The answer's status for a signer's decision.
fn status_of(decision: &str) -> (&'static str, &'static str) {
    match decision {
        "pending_approval" => ("pending_approval", "approval_required"),
        "rejected" => ("rejected", "request_rejected"),
        _ => ("denied", "policy_denied"),
    }
}

/// Records the signers' ruling on a request they hold back, and what the client is told.
pub(crate) fn hold(st: &AppState, request_id: &str, ruling: &WireRuling) -> Held {
    let (status, code) = status_of(&ruling.decision);
    let reason = match (status, &ruling.approval_group) {
        ("pending_approval", Some(group)) => format!(
            "{}: {} of {} approvals from `{group}`",
            ruling.reason.as_deref().unwrap_or("approvals required"),
            ruling.approvals,
            ruling.approvals_needed
        ),
        _ => ruling
            .reason
            .clone()
            .unwrap_or_else(|| "the policy holds the request back".into()),
    };
    if let Err(e) = st.store.ruled(request_id, status, code, &reason) {
        tracing::error!(request_id, error = %e, "cannot record a ruling");
    }
    if status == "rejected"
        && let Err(e) = st.store.forget_spend(request_id)
    {
        tracing::error!(request_id, error = %e, "cannot stop counting a rejected request");
    }
    if status == "pending_approval"
        && let Ok(Some(row)) = st.store.request(request_id)
    {
        count_row(st, &row);
    }
    tracing::info!(request_id, status, %reason, "the policy holds a request back");
    Held {
        status,
        code,
        reason,
    }
}

/// [`count`] for a stored request.
pub(crate) fn count_row(st: &AppState, row: &crate::gateway_store::RequestRow) {
    if let Ok((client, intent)) = stored_intent(st, row) {
        count(st, &client, &intent, &row.request_id);
    }
}

/// The client and what a stored request asks for, decoded again from its token and body.
pub(crate) fn stored_intent(
    st: &AppState,
    row: &crate::gateway_store::RequestRow,
) -> Result<(String, Intent), String> {
    let (client, claims) =
        tessera_auth::verify_signature_only(&row.token, &st.clients).map_err(|e| e.to_string())?;
    let id = tessera_auth::RequestId::derive(&client.id, &claims.jti);
    let intent = Intent::parse(&row.method, &row.path, &row.body, &id).map_err(|e| e.message)?;
    Ok((client.id.to_string(), intent))
}

/// The pre-check: the coordinator's copy of the policy, with its own record of what earlier
/// requests counted against the limits. `Some` when it denies: the request then reaches no
/// signer. Without a policy configured here, every request goes to the signers.
pub(crate) fn precheck(
    st: &AppState,
    client: &str,
    intent: &Intent,
    request_id: &str,
) -> Result<Option<Held>, ApiError> {
    let Some(policy) = st.precheck_policy() else {
        return Ok(None);
    };
    let Some(facts) = request_facts(st, client, intent)? else {
        return Ok(None);
    };
    let decision = st
        .store
        .read(|c| {
            Ok(tessera_policy::evaluate(
                &facts,
                &policy,
                &tessera_signer::SpendHistory(c),
                RiskLevel::Normal,
            ))
        })
        .map_err(store_err)?;
    super::audit::precheck_event(st, request_id, &policy, &decision);
    if decision.action != tessera_policy::Action::Deny {
        return Ok(None);
    }
    let reason = decision.reason();
    if let Err(e) = st
        .store
        .ruled(request_id, "denied", "policy_denied", &reason)
    {
        tracing::error!(request_id, error = %e, "cannot record a denial");
    }
    tracing::info!(request_id, %reason, "pre-check denied a request");
    Ok(Some(Held {
        status: "denied",
        code: "policy_denied",
        reason,
    }))
}

/// Registers a request the pre-check denied with every signer all the same: each records it in
/// its own store, rules on it itself, and counts the denial towards its circuit breakers (a
/// burst of denials trips them). The client's answer stays the pre-check's. Should the signers
/// allow what the pre-check denied, nothing signs it; it then counts against their limits
/// without having moved anything, which errs on the safe side.
pub(crate) async fn tell_signers(st: &AppState, row: &crate::gateway_store::RequestRow) {
    let need = usize::from(st.cluster.threshold().t());
    let request_id = row.request_id.as_str();
    match st
        .cluster
        .rule(&crate::cluster::ClientRequest::from(row), need)
        .await
    {
        Ok(crate::cluster::Ruled::Not(r)) => {
            tracing::debug!(request_id, decision = %r.decision, "signers recorded a pre-check denial");
        }
        Ok(crate::cluster::Ruled::Allowed(_)) => {
            tracing::warn!(
                request_id,
                "signers allow a request the pre-check denied; it is not signed"
            );
        }
        Err(e) => {
            tracing::warn!(request_id, error = %e, "signers did not record a pre-check denial");
        }
    }
}

/// Remembers what a request the signers did not deny counts against the limits, for the
/// pre-checks of the requests after it.
pub(crate) fn count(st: &AppState, client: &str, intent: &Intent, request_id: &str) {
    let facts = match request_facts(st, client, intent) {
        Ok(Some(f)) => f,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(request_id, error = %e.message, "cannot count a request for the pre-check");
            return;
        }
    };
    if let Err(e) = st
        .store
        .count_spend(&tessera_signer::spend_facts(request_id, &facts))
    {
        tracing::warn!(request_id, error = %e, "cannot count a request for the pre-check");
    }
}

fn request_facts(
    st: &AppState,
    client: &str,
    intent: &Intent,
) -> Result<Option<tessera_policy::Request>, ApiError> {
    let chain_id = st.ethereum.as_ref().map_or(0, |e| e.chain_id);
    policy_request(
        client,
        intent,
        unix_now(),
        chain_id,
        &GatewayBook(&st.store),
    )
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code, e.message))
}

/// The coordinator's asset registry, as the pre-check looks assets up.
struct GatewayBook<'s>(&'s GatewayStore);

impl AssetBook for GatewayBook<'_> {
    fn decimals(&self, symbol: &str) -> Result<Option<u8>, String> {
        if symbol == tessera_wire::NATIVE_SYMBOL {
            return Ok(Some(tessera_wire::NATIVE_DECIMALS));
        }
        Ok(self
            .0
            .asset(symbol)
            .map_err(|e| e.to_string())?
            .map(|a| a.decimals))
    }

    fn token_at(&self, contract: &Address) -> Result<Option<(String, u8)>, String> {
        let contract = format!("{contract:#x}");
        Ok(self
            .0
            .assets()
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|a| a.contract.eq_ignore_ascii_case(&contract))
            .map(|a| (a.symbol, a.decimals)))
    }
}

/// Where a request stands after an approver's verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictView {
    /// The request.
    pub request_id: String,
    /// `pending_approval`, `pending` (approved: being signed), or `rejected`.
    pub status: String,
    /// Approvals recorded, as the signers count them.
    pub approvals: u32,
    /// Approvals needed.
    pub approvals_needed: u32,
    /// Why it stands there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/requests/{id}/approve` (approver).
#[utoipa::path(post, path = "/v1/requests/{id}/approve", request_body = tessera_wire::VerdictBody,
    security(("client_jwt" = [])),
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, body = Receipted<VerdictView>), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn approve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    r: Received,
) -> Result<Json<Receipted<VerdictView>>, ApiError> {
    verdict(st, id, r).await
}

/// `POST /v1/requests/{id}/reject` (approver).
#[utoipa::path(post, path = "/v1/requests/{id}/reject", request_body = tessera_wire::VerdictBody,
    security(("client_jwt" = [])),
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, body = Receipted<VerdictView>), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn reject(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    r: Received,
) -> Result<Json<Receipted<VerdictView>>, ApiError> {
    verdict(st, id, r).await
}

async fn verdict(
    st: Arc<AppState>,
    id: String,
    r: Received,
) -> Result<Json<Receipted<VerdictView>>, ApiError> {
    let v = authenticate(&st, &r, &[Role::Approver])?;
    tessera_wire::Verdict::parse(&r.method, &r.path, &r.body)
        .map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let row = st
        .store
        .request(&id)
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("no request `{id}`")))?;
    st.store
        .use_token(v.client.id.as_str(), &v.claims.jti, v.claims.exp)
        .map_err(store_err)?;
    let need = usize::from(st.cluster.threshold().t());
    let msg = WireRequest::Verdict {
        token: r.token.clone(),
        method: r.method.clone(),
        path: r.path.clone(),
        body_hex: hex::encode(&r.body),
    };
    let ruling = st
        .cluster
        .verdict(&msg, need)
        .await
        .map_err(|e| verdict_err(&e))?;
    super::audit::verdict_event(&st, &id, v.client.id.as_str(), &r, &ruling);
    let view = |status: &str, reason: Option<String>| VerdictView {
        request_id: id.clone(),
        status: status.to_owned(),
        approvals: ruling.approvals,
        approvals_needed: ruling.approvals_needed,
        reason,
    };
    if ruling.decision == "allow" {
        st.store.approved(&id).map_err(store_err)?;
        tracing::info!(request_id = %id, "approvals complete; signing");
        super::resume::resume(&st, row);
        let answer = view("pending", ruling.reason.clone());
        return Ok(Json(receipted(&st, &id, answer)));
    }
    let held = hold(&st, &id, &ruling);
    // A transfer keeps its own row: a rejection (or one more approval) shows there too.
    if row.kind == "transfer"
        && let Err(e) = st
            .store
            .hold_transfer(&id, held.status, held.code, &held.reason)
    {
        tracing::error!(request_id = %id, error = %e, "cannot record a ruling on a transfer");
    }
    Ok(Json(receipted(
        &st,
        &id,
        view(held.status, Some(held.reason)),
    )))
}

fn verdict_err(e: &ClusterError) -> ApiError {
    match e {
        ClusterError::Refused { code, message } => {
            let status = match code.as_str() {
                "forbidden" => StatusCode::FORBIDDEN,
                "unknown_request" => StatusCode::NOT_FOUND,
                "request_closed" | "approval_expired" | "replayed_request" => StatusCode::CONFLICT,
                c if c.starts_with("invalid_") || c == "not_a_verdict" => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            ApiError::new(status, code.clone(), format!("signers refused: {message}"))
        }
        other => cluster_err(other),
    }
}

/// The policy in force, as `GET /v1/policy` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    /// The version the signers enforce (the one most of them report).
    pub version: u64,
    /// Its hash, 64 lower-case hex: SHA-256 over a domain tag and the policy file's bytes.
    pub hash: String,
    /// The policy the coordinator pre-checks with, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precheck_hash: Option<String>,
    /// What each signer that answered enforces.
    pub signers: Vec<SignerPolicyView>,
}

/// One signer's policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignerPolicyView {
    /// The signer's party.
    pub party: u16,
    /// The version it enforces.
    pub version: u64,
    /// Its hash.
    pub hash: String,
}

/// `GET /v1/policy`: the version and hash of the policy the signers enforce.
#[utoipa::path(get, path = "/v1/policy", security(("client_jwt" = [])),
    responses((status = 200, body = PolicyView), (status = 401, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn get_policy(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<PolicyView>, ApiError> {
    read_access(&st, &r)?;
    let signers = st.cluster.policies().await;
    let mut counts: Vec<((u64, String), usize)> = Vec::new();
    for (_, version, hash, _) in &signers {
        match counts
            .iter_mut()
            .find(|(k, _)| k.0 == *version && &k.1 == hash)
        {
            Some((_, n)) => *n += 1,
            None => counts.push(((*version, hash.clone()), 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let precheck = st.precheck_policy();
    let precheck_hash = precheck.as_deref().map(|p: &Policy| p.hash().to_string());
    let ((version, hash), _) = match counts.into_iter().next() {
        Some(top) => top,
        None => match precheck.as_deref() {
            Some(p) => ((p.version(), p.hash().to_string()), 0),
            None => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "signers_unavailable",
                    "no signer reported its policy",
                ));
            }
        },
    };
    Ok(Json(PolicyView {
        version,
        hash,
        precheck_hash,
        signers: signers
            .into_iter()
            .map(|(party, version, hash, _)| SignerPolicyView {
                party,
                version,
                hash,
            })
            .collect(),
    }))
}
