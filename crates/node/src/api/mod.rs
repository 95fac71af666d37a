//! The HTTP API: `app(state) -> Router`.
//!
//! Every route but `/healthz`, `/metrics` and `/openapi.json` needs a client-signed token
//! (`Authorization: Bearer <JWT>`), checked here with the same rules the signers apply; the
//! signers check it again themselves. Errors are `{"error": {"code", "message"}}` with a stable
//! code; internal details go to the log only.

mod audit;
mod breaker;
mod error;
mod handlers;
pub mod openapi;
mod policy;
mod proposals;
mod resume;
mod rpc;
mod transfers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::{get, post};
use tessera_auth::{ClientRegistry, Role, TokenPolicy, Verified};

use crate::cluster::Cluster;
use crate::gateway_store::GatewayStore;
use crate::metrics::Metrics;
use crate::unix_now;

pub use error::ApiError;
pub(crate) use policy::{count_row, hold as hold_ruling};
pub(crate) use proposals::follow_signers_policy;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Durable requests and wallets.
    pub store: Arc<GatewayStore>,
    /// The signers.
    pub cluster: Arc<Cluster>,
    /// The API's clients.
    pub clients: ClientRegistry,
    /// Token rules.
    pub tokens: TokenPolicy,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// One lock per request id being worked on, so that a retried request never runs twice
    /// at once.
    pub inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The Ethereum node, when one is configured.
    pub ethereum: Option<Arc<crate::transfers::Ethereum>>,
    /// The policy the API pre-checks requests with; the signers decide under their own.
    /// It follows the signers: a policy change they applied replaces it (see
    /// [`AppState::precheck_policy`]).
    pub policy: std::sync::RwLock<Option<Arc<tessera_policy::Policy>>>,
}

impl AppState {
    /// The policy the API pre-checks requests with, if any.
    pub fn precheck_policy(&self) -> Option<Arc<tessera_policy::Policy>> {
        self.policy.read().ok().and_then(|p| p.clone())
    }

    /// Pre-checks with `policy` from now on.
    pub(crate) fn set_precheck_policy(&self, policy: tessera_policy::Policy) {
        if let Ok(mut p) = self.policy.write() {
            tracing::info!(version = policy.version(), hash = %policy.hash(), "pre-check policy replaced");
            *p = Some(Arc::new(policy));
        }
    }

    pub(crate) fn request_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.inflight.lock() {
            Ok(mut m) => {
                m.retain(|_, l| Arc::strong_count(l) > 1);
                Arc::clone(m.entry(id.to_owned()).or_default())
            }
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

/// The router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/v1/wallets",
            post(handlers::create_wallet).get(handlers::list_wallets),
        )
        .route("/v1/wallets/{id}", get(handlers::get_wallet))
        .route("/v1/wallets/{id}/sign", post(handlers::sign))
        .route("/v1/wallets/{id}/rpc", post(rpc::rpc))
        .route("/v1/requests/{id}", get(handlers::get_request))
        .route("/v1/requests/{id}/approve", post(policy::approve))
        .route("/v1/requests/{id}/reject", post(policy::reject))
        .route("/v1/policy", get(policy::get_policy))
        .route("/v1/policy/proposals", post(proposals::propose))
        .route(
            "/v1/policy/proposals/{hash}/approve",
            post(proposals::approve),
        )
        .route("/v1/policy/proposals/{hash}/apply", post(proposals::apply))
        .route("/v1/breaker", get(breaker::get_breaker))
        .route("/v1/breaker/trip", post(breaker::trip))
        .route("/v1/breaker/reset", post(breaker::reset))
        .route("/v1/risk", post(breaker::set_risk))
        .route(
            "/v1/assets",
            post(transfers::add_asset).get(transfers::list_assets),
        )
        .route("/v1/transfers", post(transfers::create_transfer))
        .route("/v1/transfers/{id}", get(transfers::get_transfer))
        .route("/v1/audit", get(audit::get_audit))
        .fallback(handlers::not_found)
        .with_state(state)
}

/// A request as received: what the token must be bound to.
#[derive(Debug)]
pub(crate) struct Received {
    pub method: String,
    pub path: String,
    pub token: String,
    pub body: Bytes,
}

/// Largest request body accepted, in bytes.
const MAX_BODY: usize = 1024 * 1024;

impl<S: Send + Sync> axum::extract::FromRequest<S> for Received {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request bodies are limited to {MAX_BODY} bytes"),
            )
        })?;
        Ok(Received::new(
            &parts.method,
            &parts.uri,
            &parts.headers,
            body,
        ))
    }
}

impl Received {
    pub(crate) fn new(method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Self {
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| tessera_auth::bearer_token(v).ok())
            .unwrap_or_default()
            .to_owned();
        Self {
            method: method.as_str().to_owned(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
            token,
            body,
        }
    }
}

/// Checks the token and that the client's role is one of `roles`.
pub(crate) fn authenticate(
    state: &AppState,
    r: &Received,
    roles: &[Role],
) -> Result<Verified, ApiError> {
    if r.token.is_empty() {
        return Err(ApiError::unauthorized(
            "missing_token",
            "send `Authorization: Bearer <token>`",
        ));
    }
    let v = tessera_auth::verify(
        &r.token,
        &state.clients,
        &r.method,
        &r.path,
        &r.body,
        unix_now(),
        &state.tokens,
    )
    .map_err(|e| match e.code() {
        // One answer for both, so that client ids cannot be probed without a key.
        "unknown_client" | "bad_signature" => ApiError::unauthorized(
            "bad_signature",
            "the token is not signed by the key of a registered client",
        ),
        code => ApiError::unauthorized(code, e.message()),
    })?;
    if !roles.contains(&v.client.role) {
        return Err(ApiError::forbidden(format!(
            "client `{}` has role `{}`, which may not do this",
            v.client.id, v.client.role
        )));
    }
    Ok(v)
}

/// Finishes what a stopped coordinator left pending. A wallet that some signer activated is
/// activated at the others (they all finished with the same key, or none would have) and
/// recorded; one that no signer holds is dropped everywhere and its request marked failed; if
/// some signer cannot be asked, the request stays pending for the next start.
/// Signing requests stay pending until their client retries with the same idempotency key.
pub(crate) async fn recover_pending(st: Arc<AppState>) {
    let pending = match st.store.pending() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read pending requests");
            return;
        }
    };
    for row in pending.into_iter().filter(|r| r.kind == "create_wallet") {
        let Ok(wallet) = tessera_types::KeyId::new(&row.wallet_id) else {
            continue;
        };
        let name = serde_json::from_slice::<tessera_wire::CreateWallet>(&row.body)
            .map(|b| b.name)
            .unwrap_or_default();
        let held = st.cluster.key_everywhere(&wallet).await;
        if let Some(group) = held.iter().find_map(|r| r.as_ref().ok()) {
            // Some signer activated it, so every signer finished with this key: finish the
            // activation the crash cut short, then record the wallet.
            if !st.cluster.activate_everywhere(&wallet, group).await {
                tracing::warn!(wallet = %wallet, "interrupted activation left pending: not every signer activated");
                continue;
            }
            match handlers::record_wallet(&st, &row.request_id, &wallet, &name, group) {
                Ok(_) => {
                    tracing::info!(wallet = %wallet, "recorded a wallet whose creation was interrupted")
                }
                Err(e) => {
                    tracing::error!(wallet = %wallet, code = %e.code, "cannot record a recovered wallet")
                }
            }
        } else if held
            .iter()
            .all(|r| matches!(r, Err(e) if e.code == "no_such_key"))
        {
            st.cluster.abort_everywhere(&wallet).await;
            if let Err(e) = st.store.failed(
                &row.request_id,
                "interrupted",
                "the coordinator stopped during key generation; nothing was kept; create the wallet again",
            ) {
                tracing::error!(error = %e, "cannot record an interrupted key generation");
            }
        } else {
            tracing::warn!(wallet = %wallet, "interrupted key generation left pending: not every signer answered");
        }
    }
}
