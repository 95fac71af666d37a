//! The coordinator daemon: the HTTP API in front, mutual-TLS links to the signers behind, and
//! the background task that keeps nonce commitments ready.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tessera_types::{KeyId, PartyId};

use crate::NodeError;
use crate::api::{AppState, app};
use crate::cluster::Cluster;
use crate::config::{self, CoordinatorConfig};
use crate::gateway_store::GatewayStore;
use crate::metrics::Metrics;
use crate::remote::RemoteSigner;

/// A coordinator that is listening.
#[derive(Debug)]
pub struct Bound {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    addr: SocketAddr,
}

impl Bound {
    /// The API's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), NodeError> {
        let refill = tokio::spawn(Arc::clone(&self.state.cluster).refill_forever());
        let tracker = self
            .state
            .ethereum
            .clone()
            .map(|eth| tokio::spawn(eth.track_forever(Arc::clone(&self.state))));
        // Before the first request is served: a request that arrives now must not be taken for
        // one a previous run left pending.
        crate::api::recover_pending(Arc::clone(&self.state)).await;
        let store = Arc::clone(&self.state.store);
        let skew = self.state.tokens.clock_skew_secs;
        let prune = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                // Tokens expired for longer than the clock skew are refused by expiry alone.
                let before = crate::unix_now().saturating_sub(skew.saturating_mul(2));
                if let Err(e) = store.prune_tokens(before) {
                    tracing::warn!(error = %e, "cannot prune used token ids");
                }
            }
        });
        let router = app(Arc::clone(&self.state)).layer(axum::middleware::from_fn_with_state(
            Arc::clone(&self.state),
            count_responses,
        ));
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| NodeError::new("io", format!("api server: {e}")));
        refill.abort();
        prune.abort();
        if let Some(t) = tracker {
            t.abort();
        }
        tracing::info!("coordinator stopped");
        result
    }
}

async fn count_responses(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    st.metrics.http(&route, resp.status().as_u16());
    resp
}

/// Loads the configuration, opens the store and binds the API.
pub async fn bind(config_path: &Path) -> Result<Bound, NodeError> {
    let cfg: CoordinatorConfig = config::load(config_path)?;
    let tls = tessera_net::tls::client_config(&cfg.tls.files())?;
    let timeout = Duration::from_millis(cfg.signer_timeout_ms);
    let mut signers = Vec::with_capacity(cfg.signers.len());
    for s in &cfg.signers {
        let party = PartyId::new(s.party)
            .map_err(|e| NodeError::new("bad_config", format!("signer `{}`: {e}", s.name)))?;
        signers.push(RemoteSigner::new(
            party,
            s.name.clone(),
            s.address.clone(),
            Arc::clone(&tls),
            timeout,
        ));
    }
    let n = u16::try_from(signers.len())
        .map_err(|_| NodeError::new("bad_config", "too many signers"))?;
    let threshold = tessera_types::Threshold::new(cfg.threshold, n)
        .map_err(|e| NodeError::new("bad_config", e.to_string()))?;
    let metrics = Arc::new(Metrics::default());
    let cluster = Arc::new(Cluster::new(
        signers,
        threshold,
        cfg.commitment_pool,
        Arc::clone(&metrics),
    ));
    let mut store = GatewayStore::open(&cfg.store)
        .map_err(|e| NodeError::new("store_open_failed", e.to_string()))?;
    if let Some(file) = &cfg.audit_key_file {
        store.set_audit_key(crate::audit::read_key(file)?);
    }
    let store = Arc::new(store);
    cluster.keep_receipts_in(Arc::clone(&store));
    for w in store
        .wallets()
        .map_err(|e| NodeError::new("store_error", e.to_string()))?
    {
        // Only FROST wallets sign with pooled nonce commitments.
        let pooled = w
            .scheme
            .parse::<tessera_types::Scheme>()
            .is_ok_and(|s| s.uses_nonce_pool());
        if let (true, Ok(id)) = (pooled, KeyId::new(&w.id)) {
            cluster.watch(id);
        }
    }
    let ethereum = match &cfg.ethereum {
        Some(e) => Some(Arc::new(connect_ethereum(e).await?)),
        None => None,
    };
    let state = Arc::new(AppState {
        store,
        cluster,
        clients: config::clients(config_path, &cfg.clients)?,
        tokens: cfg.tokens.policy(),
        metrics,
        inflight: Mutex::new(HashMap::new()),
        ethereum,
        policy: std::sync::RwLock::new(
            cfg.policy_file
                .as_deref()
                .map(|f| config::policy(config_path, f).map(Arc::new))
                .transpose()?,
        ),
    });
    match state.precheck_policy() {
        Some(p) => tracing::info!(version = p.version(), hash = %p.hash(), "pre-check policy"),
        None => tracing::info!("no pre-check policy: every request goes to the signers"),
    }
    crate::api::follow_signers_policy(&state).await;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| NodeError::new("listen_failed", format!("{}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| NodeError::new("io", e.to_string()))?;
    tracing::info!(api = %format!("http://{addr}"), "coordinator ready");
    Ok(Bound {
        listener,
        state,
        addr,
    })
}

/// Connects to the configured Ethereum node and reads its chain id.
async fn connect_ethereum(
    e: &config::CoordinatorEthereumSection,
) -> Result<crate::transfers::Ethereum, NodeError> {
    let rpc = tessera_eth::Rpc::new(&e.rpc_url).map_err(|err| {
        NodeError::new("bad_config", format!("[ethereum] rpc_url: {}", err.message))
    })?;
    let chain_id = rpc.chain_id().await.map_err(|err| {
        NodeError::new(
            "ethereum_unavailable",
            format!(
                "cannot read the chain id of the Ethereum node at {}: {}",
                e.rpc_url, err.message
            ),
        )
    })?;
    tracing::info!(rpc = %e.rpc_url, chain_id, confirmations = e.confirmations, "Ethereum node connected");
    Ok(crate::transfers::Ethereum {
        rpc,
        chain_id,
        confirmations: e.confirmations,
        poll: Duration::from_millis(e.poll_interval_ms.max(50)),
        bump_after: Duration::from_secs(e.bump_after_secs),
    })
}

/// Runs a coordinator until `shutdown` resolves.
pub async fn run(
    config_path: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    bind(config_path).await?.serve(shutdown).await
}
