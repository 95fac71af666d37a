//! `POST /v1/wallets/{id}/rpc`: a Web3Signer-compatible JSON-RPC 2.0 endpoint, one per
//! `ecdsa-secp256k1` wallet, so that Ethereum tooling can use Tessera as a remote signer.
//!
//! The call is authenticated like every route (the client's token is bound to the exact body)
//! and is answered with a JSON-RPC object: a result, or an error whose `data.code` is the
//! stable Tessera code. Authentication failures keep the native answer (HTTP 401 or 403).
//! `eth_accounts` is read access, answered here from the coordinator's store. The signing
//! methods need the `trader` role and go through the signers exactly as native requests do:
//! every signer decodes the client's call itself ([`tessera_wire::RpcCall`]), checks that the
//! account named is the wallet's address (computed from its own key), and for a transaction
//! checks the unsigned transaction handed over here field by field against the call. JSON-RPC
//! has no idempotency key: each call is a new request, made once by its single-use token.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use tessera_auth::{Role, Verified};
use tessera_crypto::GroupKey;
use tessera_eth::{Address, RpcTx};
use tessera_types::{KeyId, Scheme};
use tessera_wire::{Intent, JSONRPC_VERSION, RpcCall};
use utoipa::ToSchema;

use super::handlers::{ecdsa_sign_recorded, fail, intent_err, row_for, store_err};
use super::{ApiError, AppState, Received, authenticate};
use crate::gateway_store::{Begin, RequestRow, WalletRow};

/// A JSON-RPC 2.0 call, as tooling sends it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RpcRequest {
    /// `2.0`.
    pub jsonrpc: String,
    /// Echoed in the answer: a string, a number or null.
    #[schema(value_type = Object)]
    pub id: Value,
    /// `eth_accounts`, `eth_sign`, `eth_signTypedData_v4` or `eth_signTransaction`.
    pub method: String,
    /// `[]`; `[address, data]`; `[address, typedData]` (an object or a JSON string of one);
    /// `[{from, to, gas, maxFeePerGas, maxPriorityFeePerGas, value, data, nonce, chainId?}]`.
    #[schema(value_type = Vec<Object>)]
    pub params: Vec<Value>,
}

/// A JSON-RPC 2.0 answer: `result` or `error`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RpcAnswer {
    /// `2.0`.
    pub jsonrpc: String,
    /// The call's id.
    #[schema(value_type = Object)]
    pub id: Value,
    /// `eth_accounts`: the wallet's address (EIP-55) in a list; `eth_sign` and
    /// `eth_signTypedData_v4`: the 65-byte signature `0x r || s || v`, `v` 27 or 28;
    /// `eth_signTransaction`: the signed raw transaction, `0x02...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Why the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcErrorObject>,
}

/// A JSON-RPC error.
#[derive(Debug, Serialize, ToSchema)]
pub struct RpcErrorObject {
    /// -32700 (not JSON), -32600 (not a call), -32601 (unknown method), -32602 (invalid
    /// parameters), -32000 (refused or failed).
    pub code: i64,
    /// For people.
    pub message: String,
    /// The stable Tessera code.
    pub data: RpcErrorData,
}

/// The machine-readable part of a JSON-RPC error.
#[derive(Debug, Serialize, ToSchema)]
pub struct RpcErrorData {
    /// Stable, snake_case, as in the native API.
    pub code: String,
}

/// Codes of parameters that do not decode.
const PARAM_CODES: [&str; 8] = [
    "invalid_params",
    "missing_field",
    "invalid_address",
    "invalid_payload",
    "invalid_typed_data",
    "invalid_tx_json",
    "unsupported_tx_type",
    "contract_creation_not_allowed",
];

fn rpc_code(code: &str) -> i64 {
    match code {
        "invalid_json" => -32700,
        "invalid_request" => -32600,
        "unknown_method" => -32601,
        c if PARAM_CODES.contains(&c) => -32602,
        _ => -32000,
    }
}

impl RpcAnswer {
    fn ok(id: Value, result: Value) -> Self {
        Self {
            jsonrpc: JSONRPC_VERSION.into(),
            id,
            result: Some(result),
            error: None,
        }
    }

    fn err(id: Value, e: ApiError) -> Self {
        Self {
            jsonrpc: JSONRPC_VERSION.into(),
            id,
            result: None,
            error: Some(RpcErrorObject {
                code: rpc_code(&e.code),
                message: e.message,
                data: RpcErrorData { code: e.code },
            }),
        }
    }
}

/// `POST /v1/wallets/{id}/rpc`: Web3Signer-compatible JSON-RPC for an `ecdsa-secp256k1` wallet.
#[utoipa::path(post, path = "/v1/wallets/{id}/rpc", request_body = RpcRequest,
    security(("client_jwt" = [])),
    params(("id" = String, Path, description = "wallet id")),
    responses((status = 200, body = RpcAnswer, description = "a JSON-RPC result or error"),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn rpc(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    r: Received,
) -> Result<Json<RpcAnswer>, ApiError> {
    let v = authenticate(&st, &r, &[Role::Trader, Role::Approver, Role::Admin])?;
    let call_id = RpcCall::id_of(&r.body);
    match answer(&st, &id, &r, &v).await {
        Ok(result) => Ok(Json(RpcAnswer::ok(call_id, result))),
        Err(e) if matches!(e.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => Err(e),
        Err(e) => Ok(Json(RpcAnswer::err(call_id, e))),
    }
}

async fn answer(
    st: &Arc<AppState>,
    id: &str,
    r: &Received,
    v: &Verified,
) -> Result<Value, ApiError> {
    let call = RpcCall::parse(&r.body).map_err(intent_err)?;
    let w = st
        .store
        .wallet(id)
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("no wallet `{id}`")))?;
    if w.scheme != Scheme::EcdsaSecp256k1.name() {
        return Err(ApiError::bad_request(
            "unsupported_scheme",
            format!(
                "`{id}` is a `{}` wallet; JSON-RPC serves `{}` wallets",
                w.scheme,
                Scheme::EcdsaSecp256k1
            ),
        ));
    }
    let address = tessera_eth::address_of(&w.public_key).map_err(ApiError::internal)?;
    if !call.method.signs() {
        st.store
            .use_token(v.client.id.as_str(), &v.claims.jti, v.claims.exp)
            .map_err(store_err)?;
        return Ok(json!([tessera_eth::checksummed(&address)]));
    }
    if v.client.role != Role::Trader {
        return Err(ApiError::forbidden(format!(
            "client `{}` has role `{}`; `{}` needs `{}`",
            v.client.id,
            v.client.role,
            call.method.name(),
            Role::Trader
        )));
    }
    let intent = Intent::parse(&r.method, &r.path, &r.body, &v.request_id).map_err(intent_err)?;
    if let Some(named) = intent.account().filter(|a| **a != address) {
        return Err(ApiError::bad_request(
            "wrong_account",
            format!(
                "account {} is not this wallet's; its address is {}",
                tessera_eth::checksummed(named),
                tessera_eth::checksummed(&address)
            ),
        ));
    }
    // The transaction is built before anything is recorded: a call without a chain id on a
    // coordinator that has none configured is refused without using the token.
    let tx = match &intent {
        Intent::SignTransaction { tx, .. } => Some(unsigned(st, tx)?),
        _ => None,
    };
    let message = match &tx {
        Some(_) => Vec::new(),
        None => intent
            .message_for(Scheme::EcdsaSecp256k1)
            .map_err(intent_err)?,
    };
    let row = row_for(v, r, &intent, None);
    if let Begin::Existing(_) = st
        .store
        .begin(&row, &v.claims.jti, v.claims.exp)
        .map_err(store_err)?
    {
        return Err(ApiError::internal(
            "a JSON-RPC call matched an idempotency key",
        ));
    }
    // Detached, like native signing: a signature the signers gave is recorded even if the
    // client hung up meanwhile.
    let st = Arc::clone(st);
    let work = tokio::spawn(async move {
        match tx {
            Some(tx) => sign_transaction(&st, &row, &w, &address, tx).await,
            None => sign_message(&st, &row, &w, &message).await,
        }
    });
    work.await
        .map_err(|e| ApiError::internal(format!("signing task: {e}")))?
}

/// The transaction a call asks for: on its `chainId`, or on the configured chain.
fn unsigned(st: &AppState, tx: &RpcTx) -> Result<tessera_eth::UnsignedTx, ApiError> {
    let chain_id = tx
        .chain_id
        .or(st.ethereum.as_ref().map(|e| e.chain_id))
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_field",
                "`chainId` is required: this coordinator has no Ethereum node configured",
            )
        })?;
    Ok(tx.to_unsigned(chain_id))
}

fn wallet_key(w: &WalletRow) -> Result<(KeyId, GroupKey, usize), ApiError> {
    let group = GroupKey::from_bytes(&w.group_key).map_err(ApiError::internal)?;
    let key_id = KeyId::new(&w.id).map_err(ApiError::internal)?;
    let t = usize::from(group.threshold().t());
    Ok((key_id, group, t))
}

/// `eth_sign` and `eth_signTypedData_v4`: the native ECDSA signing path, answered as `0x` hex.
async fn sign_message(
    st: &Arc<AppState>,
    row: &RequestRow,
    w: &WalletRow,
    message: &[u8],
) -> Result<Value, ApiError> {
    let (key_id, group, t) = wallet_key(w)?;
    let signed = ecdsa_sign_recorded(st, row, &key_id, &group, message, t).await?;
    Ok(Value::String(format!("0x{}", signed.signature_hex)))
}

/// `eth_signTransaction`: every signer checks `tx` against the client's call before it joins;
/// the answer is the signed raw transaction.
async fn sign_transaction(
    st: &Arc<AppState>,
    row: &RequestRow,
    w: &WalletRow,
    address: &Address,
    tx: tessera_eth::UnsignedTx,
) -> Result<Value, ApiError> {
    let (key_id, group, t) = wallet_key(w)?;
    let hash = tx.signing_hash().0;
    let bytes = tx.to_bytes();
    let result = async {
        let parties = st
            .cluster
            .register(&crate::cluster::ClientRequest::from(row), t)
            .await?;
        st.cluster
            .ecdsa_sign(
                &row.request_id,
                &key_id,
                &group,
                &hash,
                Some(&bytes),
                &parties,
            )
            .await
    }
    .await;
    let (sig, culprits) = result.map_err(|e| fail(st, &row.request_id, &e))?;
    if !culprits.is_empty() {
        tracing::warn!(request_id = %row.request_id, ?culprits, "signed after excluding signers that were blamed");
        super::breaker::blame(st, &culprits, &row.request_id).await;
    }
    let (r, rest) = sig.split_at(32);
    let (s, v) = rest.split_at(32);
    let (r, s): ([u8; 32], [u8; 32]) = match (r.try_into(), s.try_into()) {
        (Ok(r), Ok(s)) => (r, s),
        _ => return Err(ApiError::internal("an ECDSA signature is 65 bytes")),
    };
    let y_parity = v.first().is_some_and(|v| v & 1 == 1);
    let signed = tx.into_signed(r, s, y_parity).map_err(ApiError::internal)?;
    if signed.from != *address {
        return Err(ApiError::internal(
            "the signed transaction recovers to another sender",
        ));
    }
    st.store.signed(&row.request_id, &sig).map_err(store_err)?;
    Ok(Value::String(format!("0x{}", hex::encode(signed.raw))))
}
