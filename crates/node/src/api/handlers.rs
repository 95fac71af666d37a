//! The API's handlers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use tessera_auth::{Role, Verified};
use tessera_crypto::GroupKey;
use tessera_types::{KeyId, Scheme};
use tessera_wire::{Intent, IntentError};
use utoipa::ToSchema;

use super::audit::{Receipted, receipted};
use super::{ApiError, AppState, Received, authenticate};
use crate::cluster::{ClientRequest, ClusterError};
use crate::gateway_store::{Begin, GatewayError, RequestRow, WalletRow};
use crate::unix_now;

/// A wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `frost-ed25519`, `frost-secp256k1-tr` or `ecdsa-secp256k1`.
    pub scheme: String,
    /// Lower-case hex of the key that verifies its signatures: 32 bytes for Ed25519, the
    /// 32-byte x-only key for BIP-340, the 33-byte compressed SEC1 key for ECDSA.
    pub public_key: String,
    /// Signers needed.
    pub threshold: u16,
    /// Signers holding a share.
    pub signers: u16,
    /// The chain of an `ecdsa-secp256k1` wallet: `ethereum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Its Ethereum address, EIP-55 checksummed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The wallets.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletList {
    /// Oldest first.
    pub wallets: Vec<WalletView>,
}

/// The result of a signing request.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignResponse {
    /// The request's id.
    pub request_id: String,
    /// `signed`; or, held back by the policy, `denied`, `pending_approval` or `rejected`.
    pub status: String,
    /// The signature, lower-case hex. ECDSA: 65 bytes `r || s || v`, `v` in {27, 28}. Absent
    /// unless `signed`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub signature_hex: String,
    /// Why the policy holds the request back, naming the rule or limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SignResponse {
    fn held(request_id: &str, held: super::policy::Held) -> Self {
        SignResponse {
            request_id: request_id.to_owned(),
            status: held.status.to_owned(),
            signature_hex: String::new(),
            reason: Some(held.reason),
        }
    }
}

/// A request and its outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    /// Its id.
    pub request_id: String,
    /// `create_wallet` or `sign`.
    pub kind: String,
    /// `pending`, `signed`, `created` or `failed`.
    pub status: String,
    /// The wallet.
    pub wallet_id: String,
    /// The client that signed it.
    pub client: String,
    /// The client's idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The signature, once signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_hex: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorView>,
    /// Why the policy holds it back (`denied`, `pending_approval`, `rejected`), naming the rule
    /// or limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A stored failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorView {
    /// Stable code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

fn wallet_view(w: &WalletRow) -> WalletView {
    let ethereum = w.scheme == Scheme::EcdsaSecp256k1.name();
    WalletView {
        id: w.id.clone(),
        name: w.name.clone(),
        scheme: w.scheme.clone(),
        public_key: hex::encode(&w.public_key),
        threshold: w.threshold,
        signers: w.signers,
        chain: ethereum.then(|| tessera_wire::Chain::Ethereum.name().to_owned()),
        address: ethereum
            .then(|| tessera_eth::address_of(&w.public_key).ok())
            .flatten()
            .map(|a| tessera_eth::checksummed(&a)),
    }
}

pub(super) fn store_err(e: GatewayError) -> ApiError {
    match e {
        GatewayError::Replay(_) => {
            ApiError::unauthorized("token_replayed", "this token was used before")
        }
        GatewayError::Conflict(k) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            format!("idempotency key `{k}` was used with another request body"),
        ),
        GatewayError::AssetExists(m) => ApiError::new(StatusCode::CONFLICT, "asset_exists", m),
        other => ApiError::internal(other),
    }
}

pub(super) fn intent_err(e: IntentError) -> ApiError {
    ApiError::bad_request(e.code, e.message)
}

/// Codes a signer gives when the client's request itself is at fault; their messages are
/// written for clients. Any other refusal is the deployment's problem: the client gets a generic
/// answer and the log gets the detail.
const CLIENT_FAULTS: [&str; 22] = [
    "malformed_token",
    "unsupported_algorithm",
    "unknown_client",
    "bad_signature",
    "token_expired",
    "token_not_yet_valid",
    "token_lifetime_too_long",
    "request_mismatch",
    "replayed_request",
    "forbidden",
    "invalid_body",
    "invalid_name",
    "invalid_payload",
    "invalid_idempotency_key",
    "invalid_wallet_id",
    "not_signable",
    "no_such_key",
    "raw_signing_not_allowed",
    "unsupported_scheme",
    "invalid_typed_data",
    "invalid_address",
    "unsupported_chain",
];

pub(super) fn cluster_err(e: &ClusterError) -> ApiError {
    match e {
        // The coordinator checked the token's freshness when the request arrived: the signers
        // find it expired when a request cut off (by a crash, say) before enough of them
        // registered it is taken up again, with its original token, more than a minute later.
        // Nothing can be signed for it any more, and nothing was.
        ClusterError::Refused { code, .. } if code == "token_expired" => ApiError::new(
            StatusCode::CONFLICT,
            "request_expired",
            "the request expired before enough signers registered it; nothing was signed for \
             it: send it again with a new idempotency key",
        ),
        ClusterError::Refused { code, message } if CLIENT_FAULTS.contains(&code.as_str()) => {
            let status = match code.as_str() {
                "forbidden" => StatusCode::FORBIDDEN,
                c if c.starts_with("invalid_")
                    || c.starts_with("unsupported_")
                    || matches!(
                        c,
                        "not_signable" | "no_such_key" | "raw_signing_not_allowed"
                    ) =>
                {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::UNAUTHORIZED,
            };
            ApiError::new(status, code.clone(), format!("signers refused: {message}"))
        }
        ClusterError::Refused { code, message } => {
            tracing::warn!(%code, %message, "signers refused a request the coordinator accepted");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "signer_refused",
                "the signers refused the request; see the coordinator's log",
            )
        }
        ClusterError::Unavailable(m) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "signers_unavailable", m)
        }
        ClusterError::Failed { code, message, .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, code.clone(), message.clone())
        }
        ClusterError::Ruled(r) => ApiError::new(
            StatusCode::FORBIDDEN,
            if r.decision == "pending_approval" {
                "approval_required"
            } else {
                "policy_denied"
            },
            r.reason
                .clone()
                .unwrap_or_else(|| "the policy holds the request back".into()),
        ),
    }
}

/// Records a failed request with what its client is told, and returns that answer.
pub(super) fn fail(st: &AppState, request_id: &str, e: &ClusterError) -> ApiError {
    let answer = cluster_err(e);
    if let Err(store) = st.store.failed(request_id, &answer.code, &answer.message) {
        tracing::error!(request_id, error = %store, "cannot record a failed request");
    }
    answer
}

pub(super) fn row_for(
    v: &Verified,
    r: &Received,
    intent: &Intent,
    idempotency: Option<String>,
) -> RequestRow {
    RequestRow {
        request_id: v.request_id.to_string(),
        client: v.client.id.to_string(),
        kind: intent.kind().to_owned(),
        wallet_id: intent.wallet().map(ToString::to_string).unwrap_or_default(),
        idempotency_key: idempotency,
        body_sha256: tessera_auth::body_sha256(&r.body),
        method: r.method.clone(),
        path: r.path.clone(),
        body: r.body.to_vec(),
        token: r.token.clone(),
        status: "pending".into(),
        signature: None,
        error_code: None,
        error_message: None,
        created_at: 0,
        updated_at: 0,
    }
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(),
    )
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// `POST /v1/wallets` (admin): generates a wallet key on the signers.
#[utoipa::path(post, path = "/v1/wallets", request_body = tessera_wire::CreateWallet,
    security(("client_jwt" = [])),
    responses((status = 201, body = WalletView), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn create_wallet(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<(StatusCode, Json<WalletView>), ApiError> {
    let v = authenticate(&st, &r, &[Role::Admin])?;
    let intent = Intent::parse(&r.method, &r.path, &r.body, &v.request_id).map_err(intent_err)?;
    let Intent::CreateWallet {
        wallet,
        name,
        scheme,
        ..
    } = &intent
    else {
        return Err(ApiError::internal("create route decoded another intent"));
    };
    let row = row_for(&v, &r, &intent, None);
    st.store
        .begin(&row, &v.claims.jti, v.claims.exp)
        .map_err(store_err)?;
    // The work runs in its own task: a client that hangs up does not cut a key generation
    // short between the signers' activation and the coordinator's record of the wallet.
    let work = {
        let st = Arc::clone(&st);
        let (wallet, name, scheme) = (wallet.clone(), name.clone(), *scheme);
        tokio::spawn(async move {
            let n = usize::from(st.cluster.threshold().n());
            let result = async {
                st.cluster.register(&ClientRequest::from(&row), n).await?;
                st.cluster
                    .create_wallet(&row.request_id, &wallet, scheme)
                    .await
            }
            .await;
            match result {
                Ok(group) => record_wallet(&st, &row.request_id, &wallet, &name, &group),
                Err(e) => Err(fail(&st, &row.request_id, &e)),
            }
        })
    };
    let w = work
        .await
        .map_err(|e| ApiError::internal(format!("key generation task: {e}")))??;
    Ok((StatusCode::CREATED, Json(wallet_view(&w))))
}

/// Records a generated wallet and marks its create request done.
pub(crate) fn record_wallet(
    st: &AppState,
    request_id: &str,
    wallet: &KeyId,
    name: &str,
    group: &GroupKey,
) -> Result<WalletRow, ApiError> {
    let w = WalletRow {
        id: wallet.to_string(),
        name: name.to_owned(),
        scheme: group.scheme().name().to_owned(),
        public_key: group.public_key(),
        group_key: group.to_bytes().map_err(ApiError::internal)?,
        threshold: group.threshold().t(),
        signers: group.threshold().n(),
        request_id: request_id.to_owned(),
        created_at: unix_now(),
    };
    st.store.wallet_created(&w).map_err(store_err)?;
    if group.scheme().uses_nonce_pool() {
        st.cluster.watch(wallet.clone());
    }
    st.metrics.wallet_created();
    tracing::info!(wallet = %w.id, scheme = %w.scheme, "wallet created");
    Ok(w)
}

/// `GET /v1/wallets`.
#[utoipa::path(get, path = "/v1/wallets", security(("client_jwt" = [])),
    responses((status = 200, body = WalletList), (status = 401, body = super::error::ErrorBody)))]
pub async fn list_wallets(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<WalletList>, ApiError> {
    read_access(&st, &r)?;
    let wallets = st.store.wallets().map_err(store_err)?;
    Ok(Json(WalletList {
        wallets: wallets.iter().map(wallet_view).collect(),
    }))
}

/// `GET /v1/wallets/{id}`.
#[utoipa::path(get, path = "/v1/wallets/{id}", security(("client_jwt" = [])),
    params(("id" = String, Path, description = "wallet id")),
    responses((status = 200, body = WalletView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_wallet(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    r: Received,
) -> Result<Json<WalletView>, ApiError> {
    read_access(&st, &r)?;
    let w = st
        .store
        .wallet(&id)
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("no wallet `{id}`")))?;
    Ok(Json(wallet_view(&w)))
}

pub(super) fn read_access(st: &AppState, r: &Received) -> Result<Verified, ApiError> {
    let v = authenticate(st, r, &[Role::Trader, Role::Approver, Role::Admin])?;
    st.store
        .use_token(v.client.id.as_str(), &v.claims.jti, v.claims.exp)
        .map_err(store_err)?;
    Ok(v)
}

/// `POST /v1/wallets/{id}/sign` (trader): raw signing of `payload_hex`.
#[utoipa::path(post, path = "/v1/wallets/{id}/sign", request_body = tessera_wire::SignRequest,
    security(("client_jwt" = [])),
    params(("id" = String, Path, description = "wallet id")),
    responses((status = 200, body = Receipted<SignResponse>), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 502, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn sign(
    State(st): State<Arc<AppState>>,
    Path(_id): Path<String>,
    r: Received,
) -> Result<Json<Receipted<SignResponse>>, ApiError> {
    let v = authenticate(&st, &r, &[Role::Trader])?;
    let intent = Intent::parse(&r.method, &r.path, &r.body, &v.request_id).map_err(intent_err)?;
    let (Some(wallet), Some(idempotency_key)) = (intent.wallet(), intent.idempotency_key()) else {
        return Err(ApiError::internal("sign route decoded another intent"));
    };
    let w = st
        .store
        .wallet(wallet.as_str())
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("no wallet `{wallet}`")))?;
    let scheme: Scheme = w.scheme.parse().map_err(ApiError::internal)?;
    let message = intent.message_for(scheme).map_err(intent_err)?;
    let row = row_for(&v, &r, &intent, Some(idempotency_key.to_owned()));
    let target = match st
        .store
        .begin(&row, &v.claims.jti, v.claims.exp)
        .map_err(store_err)?
    {
        Begin::New => {
            if let Some(held) =
                super::policy::precheck(&st, v.client.id.as_str(), &intent, &row.request_id)?
            {
                super::policy::tell_signers(&st, &row).await;
                let held = SignResponse::held(&row.request_id, held);
                return Ok(Json(receipted(&st, &row.request_id, held)));
            }
            row
        }
        Begin::Existing(earlier) => *earlier,
    };
    // Detached, like key generation: a signature the signers gave is recorded even if the
    // client hung up meanwhile.
    let work = {
        let st = Arc::clone(&st);
        tokio::spawn(async move { sign_recorded(&st, &target.request_id, &w, &message).await })
    };
    work.await
        .map_err(|e| ApiError::internal(format!("signing task: {e}")))?
        .map(|answer| Json(receipted(&st, &answer.request_id.clone(), answer)))
}

/// Signs request `request_id` unless it is signed already, and records the result. One at a
/// time per request.
pub(super) async fn sign_recorded(
    st: &Arc<AppState>,
    request_id: &str,
    w: &WalletRow,
    message: &[u8],
) -> Result<SignResponse, ApiError> {
    let lock = st.request_lock(request_id);
    let _guard = lock.lock().await;
    let current = st
        .store
        .request(request_id)
        .map_err(store_err)?
        .ok_or_else(|| ApiError::internal("request vanished from the store"))?;
    if let (Some(sig), "signed") = (&current.signature, current.status.as_str()) {
        return Ok(SignResponse {
            request_id: current.request_id,
            status: "signed".into(),
            signature_hex: hex::encode(sig),
            reason: None,
        });
    }
    if let Some(held) = final_ruling(&current) {
        return Ok(SignResponse::held(&current.request_id, held));
    }
    let group = GroupKey::from_bytes(&w.group_key).map_err(ApiError::internal)?;
    let key_id = KeyId::new(&w.id).map_err(ApiError::internal)?;
    let t = usize::from(group.threshold().t());
    if group.scheme() == Scheme::EcdsaSecp256k1 {
        return ecdsa_sign_recorded(st, &current, &key_id, &group, message, t).await;
    }
    let result = async {
        let parties = st
            .cluster
            .register(&ClientRequest::from(&current), t)
            .await?;
        st.cluster
            .sign(&current.request_id, &key_id, &group, message, &parties)
            .await
    }
    .await;
    match result {
        Ok((sig, culprits)) => {
            st.store
                .signed(&current.request_id, sig.to_bytes())
                .map_err(store_err)?;
            super::policy::count_row(st, &current);
            if !culprits.is_empty() {
                tracing::warn!(request_id = %current.request_id, ?culprits, "signed after excluding signers that sent bad shares");
                super::breaker::blame(st, &culprits, &current.request_id).await;
            }
            let cluster = Arc::clone(&st.cluster);
            let id = current.request_id.clone();
            let done = sig.clone();
            tokio::spawn(async move { cluster.complete(&id, &done).await });
            Ok(SignResponse {
                request_id: current.request_id,
                status: "signed".into(),
                signature_hex: hex::encode(sig.to_bytes()),
                reason: None,
            })
        }
        Err(ClusterError::Ruled(r)) => Ok(SignResponse::held(
            &current.request_id,
            super::policy::hold(st, &current.request_id, &r),
        )),
        Err(e) => Err(fail(st, &current.request_id, &e)),
    }
}

/// The policy's final word on a request, if it has one: `denied` and `rejected` never change.
pub(super) fn final_ruling(row: &RequestRow) -> Option<super::policy::Held> {
    let (status, code) = match row.status.as_str() {
        "denied" => ("denied", "policy_denied"),
        "rejected" => ("rejected", "request_rejected"),
        _ => return None,
    };
    Some(super::policy::Held {
        status,
        code,
        reason: row.error_message.clone().unwrap_or_default(),
    })
}

/// [`sign_recorded`] for an ECDSA wallet: `message` is the 32-byte hash the request names
/// (typed data or EIP-191). The answer's `v` is 27 or 28, as Ethereum tooling expects of
/// signed messages. The signers record completion themselves when their session ends.
pub(super) async fn ecdsa_sign_recorded(
    st: &Arc<AppState>,
    current: &RequestRow,
    key_id: &KeyId,
    group: &GroupKey,
    message: &[u8],
    t: usize,
) -> Result<SignResponse, ApiError> {
    let hash: [u8; 32] = message
        .try_into()
        .map_err(|_| ApiError::internal("an ECDSA request names a 32-byte hash"))?;
    let result = async {
        let parties = st
            .cluster
            .register(&ClientRequest::from(current), t)
            .await?;
        st.cluster
            .ecdsa_sign(&current.request_id, key_id, group, &hash, None, &parties)
            .await
    }
    .await;
    match result {
        Ok((mut sig, culprits)) => {
            if let Some(v) = sig.last_mut() {
                *v = v.saturating_add(27);
            }
            st.store
                .signed(&current.request_id, &sig)
                .map_err(store_err)?;
            super::policy::count_row(st, current);
            if !culprits.is_empty() {
                tracing::warn!(request_id = %current.request_id, ?culprits, "signed after excluding signers that were blamed");
                super::breaker::blame(st, &culprits, &current.request_id).await;
            }
            Ok(SignResponse {
                request_id: current.request_id.clone(),
                status: "signed".into(),
                signature_hex: hex::encode(sig),
                reason: None,
            })
        }
        Err(ClusterError::Ruled(r)) => Ok(SignResponse::held(
            &current.request_id,
            super::policy::hold(st, &current.request_id, &r),
        )),
        Err(e) => Err(fail(st, &current.request_id, &e)),
    }
}

/// `GET /v1/requests/{id}`: a request, its status and its signature. Clients see their own
/// requests; admins see all.
#[utoipa::path(get, path = "/v1/requests/{id}", security(("client_jwt" = [])),
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, body = Receipted<RequestView>), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_request(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    r: Received,
) -> Result<Json<Receipted<RequestView>>, ApiError> {
    let v = read_access(&st, &r)?;
    let row = st
        .store
        .request(&id)
        .map_err(store_err)?
        .filter(|row| v.client.role == Role::Admin || row.client == v.client.id.as_str())
        .ok_or_else(|| ApiError::not_found(format!("no request `{id}`")))?;
    let held = matches!(
        row.status.as_str(),
        "denied" | "pending_approval" | "rejected"
    );
    let reason = row.error_message.clone().filter(|_| held);
    let error = match (row.error_code, row.error_message) {
        (Some(code), Some(message)) if row.status == "failed" => Some(ErrorView { code, message }),
        _ => None,
    };
    let view = RequestView {
        request_id: row.request_id,
        kind: row.kind,
        status: row.status,
        wallet_id: row.wallet_id,
        client: row.client,
        idempotency_key: row.idempotency_key,
        signature_hex: row.signature.map(hex::encode),
        error,
        reason,
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    Ok(Json(receipted(&st, &id, view)))
}
