//! `POST /v1/assets`, `GET /v1/assets`, `POST /v1/transfers` and `GET /v1/transfers/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use tessera_auth::Role;
use tessera_types::Scheme;
use tessera_wire::{Intent, NATIVE_DECIMALS, NATIVE_SYMBOL};
use utoipa::ToSchema;

use super::audit::{Receipted, receipted};
use super::handlers::{fail, intent_err, read_access, row_for, store_err};
use super::{ApiError, AppState, Received, authenticate};
use crate::cluster::ClientRequest;
use crate::gateway_store::{AssetAdded, AssetRow, Begin, TransferRow};
use crate::transfers::{self, Ethereum, TransferError};

/// A registered asset.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetView {
    /// Its symbol.
    pub symbol: String,
    /// `ethereum`.
    pub chain: String,
    /// Its token contract, EIP-55; none for the chain's own asset.
    pub contract: Option<String>,
    /// Its decimals.
    pub decimals: u8,
}

/// The registered assets.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetList {
    /// `ETH` first, then the tokens in the order registered.
    pub assets: Vec<AssetView>,
}

/// A transfer and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    /// The transfer's id (its request's id).
    pub id: String,
    /// `pending_approval`, `signed`, `broadcast`, `confirmed`, `denied` or `failed`.
    pub status: String,
    /// Why it was denied or failed: a stable code, a colon, and a message.
    pub reason: Option<String>,
    /// The hash of its transaction (the latest version, or the one mined), `0x` hex.
    pub tx_hash: Option<String>,
    /// That transaction, signed, `0x` hex: what was or will be broadcast.
    pub raw_tx: Option<String>,
    /// The wallet the funds leave.
    pub wallet_id: String,
    /// The recipient.
    pub to: String,
    /// The asset.
    pub asset: String,
    /// The amount, as asked.
    pub amount: String,
    /// The nonce of its transaction, once assigned.
    pub nonce: Option<u64>,
    /// The block that includes it, once mined.
    pub block_number: Option<u64>,
}

fn transfer_view(t: TransferRow) -> TransferView {
    TransferView {
        id: t.request_id,
        status: t.status,
        reason: t.reason,
        tx_hash: t.tx_hash,
        raw_tx: t.raw_tx.map(|r| format!("0x{}", hex::encode(r))),
        wallet_id: t.wallet_id,
        to: t.to,
        asset: t.asset,
        amount: t.amount,
        nonce: t.nonce,
        block_number: t.block_number,
    }
}

fn ethereum(st: &AppState) -> Result<Arc<Ethereum>, ApiError> {
    st.ethereum.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_not_configured",
            "this deployment has no Ethereum node configured",
        )
    })
}

fn unprocessable(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// `POST /v1/assets` (admin): registers a token at every signer, then here.
#[utoipa::path(post, path = "/v1/assets", request_body = tessera_wire::AddAsset,
    security(("client_jwt" = [])),
    responses((status = 201, body = AssetView), (status = 200, body = AssetView),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
pub async fn add_asset(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<(StatusCode, Json<AssetView>), ApiError> {
    let v = authenticate(&st, &r, &[Role::Admin])?;
    let intent = Intent::parse(&r.method, &r.path, &r.body, &v.request_id).map_err(intent_err)?;
    let Intent::AddAsset {
        symbol,
        chain,
        contract,
        decimals,
    } = &intent
    else {
        return Err(ApiError::internal("asset route decoded another intent"));
    };
    let asset = AssetRow {
        symbol: symbol.clone(),
        chain: chain.name().to_owned(),
        contract: tessera_eth::checksummed(contract),
        decimals: *decimals,
    };
    // Refused here first, so that a conflict reaches no signer.
    st.store.check_new_asset(&asset).map_err(store_err)?;
    let row = row_for(&v, &r, &intent, None);
    st.store
        .begin(&row, &v.claims.jti, v.claims.exp)
        .map_err(store_err)?;
    let n = usize::from(st.cluster.threshold().n());
    // Every signer must know the token, or it would refuse transfers of it.
    if let Err(e) = st.cluster.register(&ClientRequest::from(&row), n).await {
        return Err(fail(&st, &row.request_id, &e));
    }
    let added = st.store.add_asset(&asset).map_err(store_err)?;
    if let Err(e) = st.store.done(&row.request_id) {
        tracing::error!(error = %e, "cannot record a finished request");
    }
    tracing::info!(symbol = %asset.symbol, contract = %asset.contract, "asset registered");
    let status = match added {
        AssetAdded::New => StatusCode::CREATED,
        AssetAdded::Same => StatusCode::OK,
    };
    Ok((status, Json(asset_view(asset))))
}

fn asset_view(a: AssetRow) -> AssetView {
    AssetView {
        symbol: a.symbol,
        chain: a.chain,
        contract: Some(a.contract),
        decimals: a.decimals,
    }
}

/// `GET /v1/assets`.
#[utoipa::path(get, path = "/v1/assets", security(("client_jwt" = [])),
    responses((status = 200, body = AssetList), (status = 401, body = super::error::ErrorBody)))]
pub async fn list_assets(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<AssetList>, ApiError> {
    read_access(&st, &r)?;
    let mut assets = vec![AssetView {
        symbol: NATIVE_SYMBOL.to_owned(),
        chain: tessera_wire::Chain::Ethereum.name().to_owned(),
        contract: None,
        decimals: NATIVE_DECIMALS,
    }];
    assets.extend(
        st.store
            .assets()
            .map_err(store_err)?
            .into_iter()
            .map(asset_view),
    );
    Ok(Json(AssetList { assets }))
}

/// `POST /v1/transfers` (trader): moves an amount of ETH or a registered token from an
/// `ecdsa-secp256k1` wallet. Answers once the transaction is broadcast (or the transfer failed);
/// `GET /v1/transfers/{id}` follows it to `confirmed`.
#[utoipa::path(post, path = "/v1/transfers", request_body = tessera_wire::TransferRequest,
    security(("client_jwt" = [])),
    responses((status = 200, body = Receipted<TransferView>), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn create_transfer(
    State(st): State<Arc<AppState>>,
    r: Received,
) -> Result<Json<Receipted<TransferView>>, ApiError> {
    let v = authenticate(&st, &r, &[Role::Trader])?;
    let intent = Intent::parse(&r.method, &r.path, &r.body, &v.request_id).map_err(intent_err)?;
    let Intent::Transfer {
        wallet,
        to,
        asset,
        amount,
        idempotency_key,
    } = &intent
    else {
        return Err(ApiError::internal("transfer route decoded another intent"));
    };
    let eth = ethereum(&st)?;
    let w = st
        .store
        .wallet(wallet.as_str())
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("no wallet `{wallet}`")))?;
    if w.scheme != Scheme::EcdsaSecp256k1.name() {
        return Err(unprocessable(
            "unsupported_scheme",
            format!(
                "`{wallet}` is a {} wallet; transfers leave `{}` wallets",
                w.scheme,
                Scheme::EcdsaSecp256k1
            ),
        ));
    }
    let (_, decimals) = transfers::resolve_asset(&st, asset)
        .map_err(store_err)?
        .ok_or_else(|| {
            unprocessable("unknown_asset", format!("no asset `{asset}` is registered"))
        })?;
    tessera_wire::parse_amount(amount, decimals).map_err(|e| unprocessable(e.code, e.message))?;
    let row = row_for(&v, &r, &intent, Some(idempotency_key.clone()));
    let transfer = TransferRow {
        request_id: row.request_id.clone(),
        wallet_id: w.id.clone(),
        to: tessera_eth::checksummed(to),
        asset: asset.clone(),
        amount: amount.clone(),
        status: "pending_approval".into(),
        reason: None,
        nonce: None,
        unsigned_tx: None,
        tx_hash: None,
        raw_tx: None,
        last_sent_at: None,
        block_number: None,
        block_hash: None,
        created_at: 0,
        updated_at: 0,
    };
    let id = match st
        .store
        .begin_transfer(&row, &v.claims.jti, v.claims.exp, &transfer)
        .map_err(store_err)?
    {
        Begin::New => {
            let client = v.client.id.as_str();
            if let Some(held) = super::policy::precheck(&st, client, &intent, &row.request_id)? {
                super::policy::tell_signers(&st, &row).await;
                st.store
                    .hold_transfer(&row.request_id, held.status, held.code, &held.reason)
                    .map_err(store_err)?;
                let t = st
                    .store
                    .transfer(&row.request_id)
                    .map_err(store_err)?
                    .ok_or_else(|| ApiError::internal("the transfer vanished"))?;
                return Ok(Json(receipted(&st, &row.request_id, transfer_view(t))));
            }
            row.request_id
        }
        Begin::Existing(earlier) => earlier.request_id,
    };
    // Detached: a transaction the signers signed is recorded and broadcast even if the client
    // hung up meanwhile.
    let work = {
        let st = Arc::clone(&st);
        tokio::spawn(async move { transfers::drive(&st, &eth, &id).await })
    };
    match work
        .await
        .map_err(|e| ApiError::internal(format!("transfer task: {e}")))?
    {
        Ok(t) => Ok(Json(receipted(
            &st,
            &t.request_id.clone(),
            transfer_view(t),
        ))),
        Err(TransferError::Later { code, message }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            format!("{message}; the transfer is kept and tried again"),
        )),
        Err(TransferError::Failed { code, message }) => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, code, message))
        }
        Err(TransferError::Held(r)) => Err(super::handlers::cluster_err(
            &crate::cluster::ClusterError::Ruled(r),
        )),
    }
}

/// `GET /v1/transfers/{id}`: a transfer and where it stands. Clients see their own; admins see
/// all.
#[utoipa::path(get, path = "/v1/transfers/{id}", security(("client_jwt" = [])),
    params(("id" = String, Path, description = "transfer id")),
    responses((status = 200, body = Receipted<TransferView>), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_transfer(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    r: Received,
) -> Result<Json<Receipted<TransferView>>, ApiError> {
    let v = read_access(&st, &r)?;
    let visible = st
        .store
        .request(&id)
        .map_err(store_err)?
        .is_some_and(|row| v.client.role == Role::Admin || row.client == v.client.id.as_str());
    let t = st
        .store
        .transfer(&id)
        .map_err(store_err)?
        .filter(|_| visible)
        .ok_or_else(|| ApiError::not_found(format!("no transfer `{id}`")))?;
    Ok(Json(receipted(&st, &id, transfer_view(t))))
}
