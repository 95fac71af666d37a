//! The HTTP API: `app(state) -> Router`.
//!
//! Every route but `/healthz`, `/metrics` and `/openapi.json` needs a client-signed token
//! (`Authorization: Bearer <JWT>`), checked here with the same rules the signers apply; the
//! signers check it again themselves. Errors are `{"error": {"code", "message"}}` with a stable
//! code; internal details go to the log only.

mod error;
mod handlers;
pub mod openapi;

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
}

impl AppState {
    fn request_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
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
        .route("/v1/requests/{id}", get(handlers::get_request))
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
    .map_err(|e| ApiError::unauthorized(e.code(), e.message()))?;
    if !roles.contains(&v.client.role) {
        return Err(ApiError::forbidden(format!(
            "client `{}` has role `{}`, which may not do this",
            v.client.id, v.client.role
        )));
    }
    Ok(v)
}
