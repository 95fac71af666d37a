//! Circuit breakers and the risk level at the API: `GET /v1/breaker`, `POST /v1/breaker/trip`,
//! `POST /v1/breaker/reset` and `POST /v1/risk`, and the coordinator's own signals.
//!
//! Each signer keeps and enforces its breakers by itself (crates/signer/src/breaker.rs). An
//! admin's trip, reset or risk change is the admin's own signed request, forwarded to every
//! signer, which verifies it itself; a reset closes a breaker at a signer once that signer has
//! seen a quorum of distinct admins ask. What the API shows is what the signers report: a
//! breaker is `tripped` when any signer that answered has it tripped.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tessera_auth::Role;
use tessera_types::PartyId;
use tessera_wire::{GuardCommand, Reply, Request as WireRequest, WireBreaker, WireRisk};
use utoipa::{IntoParams, ToSchema};

use super::handlers::{read_access, store_err};
use super::{ApiError, AppState, Received, authenticate};

/// A breaker as the API shows it, over the signers that answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakerView {
    /// `deployment`, or `wallet:<id>`.
    pub scope: String,
    /// `closed` or `tripped`: tripped when any signer that answered has it tripped.
    pub state: String,
    /// Why it tripped (or who reset it), as the first signer reporting that state gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who moved it last: an admin, `coordinator` or `auto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When it last changed, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<i64>,
    /// Admins who asked for a reset since it tripped.
    pub reset_votes: Vec<String>,
    /// Distinct admins whose reset requests close it.
    pub reset_quorum: u32,
    /// The risk level, the highest any signer reports.
    pub risk: String,
    /// Every other breaker that is tripped (for the deployment's view: the wallets').
    pub tripped: Vec<WireBreaker>,
    /// What each signer that answered reports.
    pub signers: Vec<SignerBreakerView>,
}

/// One signer's view of the breaker asked about.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignerBreakerView {
    /// The signer's party.
    pub party: u16,
    /// `closed` or `tripped`.
    pub state: String,
    /// Why.
    pub reason: String,
    /// Its risk level.
    pub risk: WireRisk,
}

/// `GET /v1/breaker` query.
#[derive(Debug, IntoParams)]
pub struct BreakerQuery {
    /// A wallet, for its breaker; the deployment's when absent.
    pub wallet: Option<String>,
}

impl BreakerQuery {
    /// Reads the query of `path` (`?wallet=ID`); anything else is `invalid_query`.
    fn from_path(path: &str) -> Result<BreakerQuery, ApiError> {
        let mut q = BreakerQuery { wallet: None };
        let Some((_, query)) = path.split_once('?') else {
            return Ok(q);
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("wallet", w)) if q.wallet.is_none() => q.wallet = Some(w.to_owned()),
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_query",
                        "the only query parameter is `wallet`, once",
                    ));
                }
            }
        }
        Ok(q)
    }
}

/// `GET /v1/breaker`: the state of the deployment's breaker, or of a wallet's.
#[utoipa::path(get, path = "/v1/breaker", security(("client_jwt" = [])), params(BreakerQuery),
    responses((status = 200, body = BreakerView), (status = 401, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn get_breaker(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<BreakerView>, ApiError> {
    read_access(&st, &r)?;
    let q = BreakerQuery::from_path(&r.path)?;
    let scope = scope_of(q.wallet.as_deref())?;
    let answers = gather(&st, &WireRequest::Breakers).await?;
    Ok(Json(view(&scope, answers)))
}

/// `POST /v1/breaker/trip` (admin): trips the deployment's breaker, or a wallet's.
#[utoipa::path(post, path = "/v1/breaker/trip", request_body = tessera_wire::TripBody,
    security(("client_jwt" = [])),
    responses((status = 200, body = BreakerView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn trip(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<BreakerView>, ApiError> {
    command(st, r).await
}

/// `POST /v1/breaker/reset` (admin): one admin's request to reset; the breaker closes once a
/// quorum of distinct admins has asked.
#[utoipa::path(post, path = "/v1/breaker/reset", request_body = tessera_wire::ResetBody,
    security(("client_jwt" = [])),
    responses((status = 200, body = BreakerView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn reset(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<BreakerView>, ApiError> {
    command(st, r).await
}

/// `POST /v1/risk` (admin): sets the risk level (`normal`, `elevated`, `critical`), which
/// scales every limit down by the policy's `[risk]` percentages. An external feed posts here
/// with an admin's credentials.
#[utoipa::path(post, path = "/v1/risk", request_body = tessera_wire::RiskBody,
    security(("client_jwt" = [])),
    responses((status = 200, body = BreakerView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn set_risk(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<BreakerView>, ApiError> {
    command(st, r).await
}

async fn command(st: Arc<AppState>, r: Received) -> Result<Json<BreakerView>, ApiError> {
    let v = authenticate(&st, &r, &[Role::Admin])?;
    let cmd = GuardCommand::parse(&r.method, &r.path, &r.body)
        .map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let scope = match &cmd {
        GuardCommand::Trip { wallet, .. } | GuardCommand::Reset { wallet, .. } => {
            scope_of(wallet.as_deref())?
        }
        GuardCommand::Risk { .. } => tessera_store::breakers::DEPLOYMENT.to_owned(),
    };
    st.store
        .use_token(v.client.id.as_str(), &v.claims.jti, v.claims.exp)
        .map_err(store_err)?;
    let msg = WireRequest::Guard {
        token: r.token.clone(),
        method: r.method.clone(),
        path: r.path.clone(),
        body_hex: hex::encode(&r.body),
    };
    let answers = gather(&st, &msg).await?;
    tracing::info!(admin = %v.client.id, path = %r.path, scope, signers = answers.len(), "breaker command applied");
    Ok(Json(view(&scope, answers)))
}

/// Every signer's answer to `msg`, requiring `t` of them; a refusal by any signer is the
/// answer's error (they all check the same admin, the same way).
async fn gather(
    st: &AppState,
    msg: &WireRequest,
) -> Result<Vec<(u16, Vec<WireBreaker>, WireRisk, u32)>, ApiError> {
    let mut answers = Vec::new();
    let mut refusal = None;
    for (party, reply) in st.cluster.each(msg).await {
        match reply {
            Ok(Reply::Breakers {
                breakers,
                risk,
                reset_quorum,
            }) => answers.push((party, breakers, risk, reset_quorum)),
            Ok(other) => {
                tracing::warn!(party, ?other, "unexpected answer to a breaker message");
            }
            Err(e) if crate::cluster::is_transport(&e) => {
                tracing::warn!(party, code = %e.code, "signer unreachable for a breaker message");
            }
            Err(e) => refusal = Some(e),
        }
    }
    if let Some(e) = refusal {
        let status = match e.code.as_str() {
            "forbidden" => StatusCode::FORBIDDEN,
            "no_such_key" => StatusCode::NOT_FOUND,
            "replayed_request" => StatusCode::CONFLICT,
            c if c.starts_with("invalid_") || c == "not_a_guard_command" => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        return Err(ApiError::new(
            status,
            e.code.clone(),
            format!("signers refused: {}", e.message),
        ));
    }
    let need = usize::from(st.cluster.threshold().t());
    if answers.len() < need {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signers_unavailable",
            format!(
                "{} of {} signers answered; {need} are needed",
                answers.len(),
                st.cluster.signer_count()
            ),
        ));
    }
    Ok(answers)
}

fn scope_of(wallet: Option<&str>) -> Result<String, ApiError> {
    match wallet {
        None => Ok(tessera_store::breakers::DEPLOYMENT.to_owned()),
        Some(w) => tessera_types::KeyId::new(w)
            .map(|_| tessera_store::breakers::wallet_scope(w))
            .map_err(|e| ApiError::bad_request("invalid_wallet", e.to_string())),
    }
}

fn view(scope: &str, answers: Vec<(u16, Vec<WireBreaker>, WireRisk, u32)>) -> BreakerView {
    let mut out = BreakerView {
        scope: scope.to_owned(),
        state: "closed".to_owned(),
        reason: None,
        source: None,
        changed_at: None,
        reset_votes: Vec::new(),
        reset_quorum: 0,
        risk: "normal".to_owned(),
        tripped: Vec::new(),
        signers: Vec::new(),
    };
    let rank = |level: &str| match level {
        "critical" => 2,
        "elevated" => 1,
        _ => 0,
    };
    for (party, breakers, risk, quorum) in answers {
        out.reset_quorum = out.reset_quorum.max(quorum);
        if rank(&risk.level) > rank(&out.risk) {
            out.risk = risk.level.clone();
        }
        let mine = breakers.iter().find(|b| b.scope == scope);
        let (state, reason) = mine.map_or(("closed".to_owned(), String::new()), |b| {
            (b.state.clone(), b.reason.clone())
        });
        if let Some(b) = mine
            && (out.source.is_none() || (b.state == "tripped" && out.state != "tripped"))
        {
            out.state = b.state.clone();
            out.reason = Some(b.reason.clone()).filter(|r| !r.is_empty());
            out.source = Some(b.source.clone()).filter(|s| !s.is_empty());
            out.changed_at = Some(b.changed_at);
            out.reset_votes = b.reset_votes.clone();
        }
        for b in breakers {
            if b.scope != scope
                && b.state == "tripped"
                && !out.tripped.iter().any(|t| t.scope == b.scope)
            {
                out.tripped.push(b);
            }
        }
        out.signers.push(SignerBreakerView {
            party,
            state,
            reason,
            risk,
        });
    }
    out
}

/// Trips the deployment's breaker at every signer because `culprits` were named as
/// misbehaving while signing `request_id`: a signer that sends bad shares may be compromised.
/// The signature made without them stands; what follows waits for a quorum of admins to reset.
pub(crate) async fn blame(st: &AppState, culprits: &[PartyId], request_id: &str) {
    if culprits.is_empty() {
        return;
    }
    let names: Vec<String> = culprits.iter().map(|p| p.get().to_string()).collect();
    let reason = format!(
        "signer(s) {} misbehaved while signing request `{request_id}`",
        names.join(", ")
    );
    let msg = WireRequest::Signal {
        wallet: None,
        signal: "misbehaving_signer".to_owned(),
        reason: reason.clone(),
    };
    for (party, reply) in st.cluster.each(&msg).await {
        if let Err(e) = reply {
            tracing::error!(party, code = %e.code, "cannot trip the breaker on a misbehaving signer");
        }
    }
    tracing::warn!(%reason, "deployment breaker tripped: a signer misbehaved");
}
