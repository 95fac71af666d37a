//! Policy changes at the API: `POST /v1/policy/proposals` (an admin proposes a policy file),
//! `POST /v1/policy/proposals/{hash}/approve` and `POST /v1/policy/proposals/{hash}/apply`.
//!
//! Every step is the admin's own signed request, forwarded to every signer; each verifies it
//! and decides by itself, under the policy in force, whether a quorum of admins approved and
//! the time lock passed (crates/signer/src/proposals.rs). Once the signers applied a policy,
//! the coordinator's pre-check follows them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use tessera_auth::Role;
use tessera_wire::{PolicyChange, Reply, Request as WireRequest, WireProposal};
use utoipa::ToSchema;

use super::handlers::store_err;
use super::{ApiError, AppState, Received, authenticate};

/// A proposal as the signers hold it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalView {
    /// The proposal, as the first signer that answered reports it.
    #[serde(flatten)]
    pub proposal: WireProposal,
    /// Each signer that answered: its party and the proposal's state there.
    pub signers: Vec<SignerProposalView>,
}

/// One signer's view of a proposal.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignerProposalView {
    /// The signer's party.
    pub party: u16,
    /// `open` or `applied`.
    pub state: String,
    /// The admins whose approvals it recorded.
    pub approvals: Vec<String>,
}

/// `POST /v1/policy/proposals` (admin): proposes a new policy; the proposer's approval counts.
#[utoipa::path(post, path = "/v1/policy/proposals", request_body = tessera_wire::ProposeBody,
    security(("client_jwt" = [])),
    responses((status = 201, body = ProposalView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn propose(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<(StatusCode, Json<ProposalView>), ApiError> {
    step(st, r).await.map(|v| (StatusCode::CREATED, v))
}

/// `POST /v1/policy/proposals/{hash}/approve` (admin).
#[utoipa::path(post, path = "/v1/policy/proposals/{hash}/approve", security(("client_jwt" = [])),
    params(("hash" = String, Path, description = "the proposed policy's hash")),
    responses((status = 200, body = ProposalView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn approve(
    State(st): State<Arc<AppState>>,
    Path(_hash): Path<String>,
    r: Received,
) -> Result<Json<ProposalView>, ApiError> {
    step(st, r).await
}

/// `POST /v1/policy/proposals/{hash}/apply` (admin): applies a proposal once a quorum of admins
/// approved it and its time lock passed (`quorum_not_reached`, `time_locked` otherwise).
#[utoipa::path(post, path = "/v1/policy/proposals/{hash}/apply", security(("client_jwt" = [])),
    params(("hash" = String, Path, description = "the proposed policy's hash")),
    responses((status = 200, body = ProposalView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn apply(
    State(st): State<Arc<AppState>>,
    Path(_hash): Path<String>,
    r: Received,
) -> Result<Json<ProposalView>, ApiError> {
    let view = step(Arc::clone(&st), r).await?;
    follow_signers_policy(&st).await;
    Ok(view)
}

async fn step(st: Arc<AppState>, r: Received) -> Result<Json<ProposalView>, ApiError> {
    let v = authenticate(&st, &r, &[Role::Admin])?;
    PolicyChange::parse(&r.method, &r.path, &r.body)
        .map_err(|e| ApiError::bad_request(e.code, e.message))?;
    st.store
        .use_token(v.client.id.as_str(), &v.claims.jti, v.claims.exp)
        .map_err(store_err)?;
    let msg = WireRequest::PolicyChange {
        token: r.token.clone(),
        method: r.method.clone(),
        path: r.path.clone(),
        body_hex: hex::encode(&r.body),
    };
    let mut answers: Vec<(u16, WireProposal)> = Vec::new();
    let mut refusal = None;
    for (party, reply) in st.cluster.each(&msg).await {
        match reply {
            Ok(Reply::Proposal { proposal }) => answers.push((party, proposal)),
            Ok(other) => tracing::warn!(party, ?other, "unexpected answer to a policy change"),
            Err(e) if crate::cluster::is_transport(&e) => {
                tracing::warn!(party, code = %e.code, "signer unreachable for a policy change");
            }
            Err(e) => refusal = Some(e),
        }
    }
    let need = usize::from(st.cluster.threshold().t());
    if answers.len() < need
        && let Some(e) = refusal
    {
        return Err(refused(&e.code, &e.message));
    }
    if answers.len() < need {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signers_unavailable",
            format!(
                "{} signers carried out the step; {need} are needed",
                answers.len()
            ),
        ));
    }
    if let Some(e) = refusal {
        tracing::warn!(code = %e.code, message = %e.message, "a signer refused a policy change the others accepted");
    }
    tracing::info!(admin = %v.client.id, path = %r.path, signers = answers.len(), "policy change step");
    let signers = answers
        .iter()
        .map(|(party, p)| SignerProposalView {
            party: *party,
            state: p.state.clone(),
            approvals: p.approvals.clone(),
        })
        .collect();
    let proposal = answers
        .into_iter()
        .map(|(_, p)| p)
        .next()
        .ok_or_else(|| ApiError::internal("no answer"))?;
    Ok(Json(ProposalView { proposal, signers }))
}

fn refused(code: &str, message: &str) -> ApiError {
    let status = match code {
        "forbidden" => StatusCode::FORBIDDEN,
        "unknown_request" => StatusCode::NOT_FOUND,
        "stale_policy" | "quorum_not_reached" | "time_locked" | "request_closed"
        | "replayed_request" => StatusCode::CONFLICT,
        c if c.starts_with("invalid_")
            || matches!(c, "not_a_policy_change" | "unknown_field" | "missing_field")
            || c.starts_with("unknown_") && c != "unknown_client" =>
        {
            StatusCode::BAD_REQUEST
        }
        "duplicate_name" => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    ApiError::new(
        status,
        code.to_owned(),
        format!("signers refused: {message}"),
    )
}

/// Makes the pre-check follow the policy the signers enforce: when at least `t` of them report
/// the same policy, with its text, and the text hashes to it, the pre-check uses it.
pub(crate) async fn follow_signers_policy(st: &AppState) {
    let need = usize::from(st.cluster.threshold().t());
    let reports = st.cluster.policies().await;
    let current = st.precheck_policy().map(|p| p.hash().to_string());
    for (_, _, hash, text) in &reports {
        let agreeing = reports.iter().filter(|r| &r.2 == hash).count();
        if agreeing < need || current.as_deref() == Some(hash.as_str()) {
            continue;
        }
        let Some(text) = text else { continue };
        match tessera_policy::Policy::parse(text) {
            Ok(p) if &p.hash().to_string() == hash => {
                st.set_precheck_policy(p);
                return;
            }
            _ => {
                tracing::warn!(%hash, "a signer reported a policy text that does not match its hash")
            }
        }
    }
}
