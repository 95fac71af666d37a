//! A small JSON-RPC client to an Ethereum node over plain HTTP (a node on loopback or a private
//! network), with a timeout on every call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use bytes::Bytes as BodyBytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::CONTENT_TYPE;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::abi;
use crate::address::shorten;
use crate::error::{EthError, err};
use crate::quantity;
use crate::quantity::data_hex as hex_of;
use crate::tx::UnsignedTx;

/// The timeout of one call unless [`Rpc::with_timeout`] sets another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The tip used when the node does not answer `eth_maxPriorityFeePerGas`: 1 gwei.
pub const FALLBACK_PRIORITY_FEE: u128 = 1_000_000_000;
/// The largest response body read.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// The outcome of a mined transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The block that includes the transaction.
    pub block_number: u64,
    /// That block's hash (compare it later to detect a reorg).
    pub block_hash: B256,
    /// Whether execution succeeded (`status` 1).
    pub success: bool,
    /// Gas used by the transaction.
    pub gas_used: u64,
    /// Wei paid per gas (base fee plus tip).
    pub effective_gas_price: u128,
    /// The contract created, for a contract creation.
    pub contract_address: Option<Address>,
}

/// JSON-RPC client to one node.
#[derive(Debug, Clone)]
pub struct Rpc {
    client: Client<HttpConnector, Full<BodyBytes>>,
    uri: hyper::Uri,
    timeout: Duration,
    next_id: Arc<AtomicU64>,
}

impl Rpc {
    /// A client of the node at `url`, which must be `http://host:port[/path]`. Code `invalid_rpc_url`.
    pub fn new(url: &str) -> Result<Rpc, EthError> {
        let invalid = |why: &str| err("invalid_rpc_url", format!("`{}` {why}", shorten(url)));
        let uri: hyper::Uri = url.parse().map_err(|_| invalid("is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("is not an http:// URL"));
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("has no host"));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Rpc {
            client,
            uri,
            timeout: DEFAULT_TIMEOUT,
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// The same client with another timeout per call.
    pub fn with_timeout(mut self, timeout: Duration) -> Rpc {
        self.timeout = timeout;
        self
    }

    /// The node's URL.
    pub fn url(&self) -> String {
        self.uri.to_string()
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, EthError> {
        let v = self.call_raw("eth_chainId", json!([])).await?;
        read(&v, quantity::u64)
    }

    /// `eth_blockNumber`: the latest block.
    pub async fn block_number(&self) -> Result<u64, EthError> {
        let v = self.call_raw("eth_blockNumber", json!([])).await?;
        read(&v, quantity::u64)
    }

    /// The hash of the canonical block at `number`, or `None` when there is none yet.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>, EthError> {
        let block = self
            .call_raw(
                "eth_getBlockByNumber",
                json!([quantity::to_hex(number), false]),
            )
            .await?;
        if block.is_null() {
            return Ok(None);
        }
        hash(field(&block, "hash")?).map(Some)
    }

    /// `eth_getTransactionCount` at the latest block, or counting the node's pending transactions.
    pub async fn nonce(&self, address: Address, pending: bool) -> Result<u64, EthError> {
        let tag = if pending { "pending" } else { "latest" };
        let v = self
            .call_raw(
                "eth_getTransactionCount",
                json!([hex_of(address.as_slice()), tag]),
            )
            .await?;
        read(&v, quantity::u64)
    }

    /// `eth_getBalance` at the latest block, in wei.
    pub async fn balance(&self, address: Address) -> Result<U256, EthError> {
        let v = self
            .call_raw(
                "eth_getBalance",
                json!([hex_of(address.as_slice()), "latest"]),
            )
            .await?;
        read(&v, quantity::u256)
    }

    /// The ERC-20 balance of `owner` at the latest block (`balanceOf` through `eth_call`).
    pub async fn token_balance(&self, token: Address, owner: Address) -> Result<U256, EthError> {
        let data = abi::balanceOfCall { owner }.abi_encode();
        let v = self
            .call_raw(
                "eth_call",
                json!([{"to": hex_of(token.as_slice()), "data": hex_of(&data)}, "latest"]),
            )
            .await?;
        let out = read(&v, quantity::data)?;
        abi::balanceOfCall::abi_decode_returns_validate(&out).map_err(|_| {
            err(
                "rpc_bad_response",
                format!("`balanceOf` answered {} bytes, not one uint256", out.len()),
            )
        })
    }

    /// `eth_estimateGas` for `tx` sent by `from` (its fees are left out, so that the estimate does not
    /// depend on the sender holding enough for the fee caps).
    pub async fn estimate_gas(&self, from: Address, tx: &UnsignedTx) -> Result<u64, EthError> {
        let mut call = json!({
            "from": hex_of(from.as_slice()),
            "value": quantity::to_hex(tx.value()),
            "input": quantity::data_hex(tx.input()),
            "nonce": quantity::to_hex(tx.nonce()),
        });
        if let (Some(to), Some(obj)) = (tx.to(), call.as_object_mut()) {
            obj.insert("to".to_owned(), json!(hex_of(to.as_slice())));
        }
        let v = self.call_raw("eth_estimateGas", json!([call])).await?;
        read(&v, quantity::u64)
    }

    /// Fee caps for a transaction now: `(max_fee_per_gas, max_priority_fee_per_gas)` where the max
    /// fee is twice the latest base fee plus the tip, and the tip is `eth_maxPriorityFeePerGas`, or
    /// 1 gwei when the node does not answer it.
    pub async fn suggest_fees(&self) -> Result<(u128, u128), EthError> {
        let block = self
            .call_raw("eth_getBlockByNumber", json!(["latest", false]))
            .await?;
        let base_fee = read(field(&block, "baseFeePerGas")?, quantity::u128)?;
        let priority = match self.call_raw("eth_maxPriorityFeePerGas", json!([])).await {
            Ok(v) => read(&v, quantity::u128)?,
            Err(e) if e.code == "rpc_error" => FALLBACK_PRIORITY_FEE,
            Err(e) => return Err(e),
        };
        let max_fee = base_fee.saturating_mul(2).saturating_add(priority);
        Ok((max_fee, priority))
    }

    /// `eth_sendRawTransaction`: the transaction hash. A refusal keeps the node's message, with code
    /// `nonce_too_low`, `replacement_underpriced`, `insufficient_funds`, `already_known` or
    /// `rpc_error`.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<B256, EthError> {
        let v = self
            .call_raw("eth_sendRawTransaction", json!([quantity::data_hex(raw)]))
            .await?;
        hash(&v)
    }

    /// The receipt of a mined transaction, `None` while it is not mined.
    pub async fn receipt(&self, tx_hash: B256) -> Result<Option<Receipt>, EthError> {
        let r = self
            .call_raw(
                "eth_getTransactionReceipt",
                json!([hex_of(tx_hash.as_slice())]),
            )
            .await?;
        if r.is_null() {
            return Ok(None);
        }
        let contract_address = match r.get("contractAddress") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                s.parse::<Address>()
                    .map_err(|_| err("rpc_bad_response", "`contractAddress` is not an address"))?,
            ),
            Some(_) => return Err(err("rpc_bad_response", "`contractAddress` is not a string")),
        };
        Ok(Some(Receipt {
            block_number: read(field(&r, "blockNumber")?, quantity::u64)?,
            block_hash: hash(field(&r, "blockHash")?)?,
            success: read(field(&r, "status")?, quantity::u64)? == 1,
            gas_used: read(field(&r, "gasUsed")?, quantity::u64)?,
            effective_gas_price: read(field(&r, "effectiveGasPrice")?, quantity::u128)?,
            contract_address,
        }))
    }

    /// Whether the node knows the transaction, pending or mined (`eth_getTransactionByHash` is not
    /// null).
    pub async fn transaction_known(&self, tx_hash: B256) -> Result<bool, EthError> {
        let v = self
            .call_raw(
                "eth_getTransactionByHash",
                json!([hex_of(tx_hash.as_slice())]),
            )
            .await?;
        Ok(!v.is_null())
    }

    /// Any method, for tests and node-specific methods (`anvil_setBalance`, `evm_mine`,
    /// `evm_setAutomine`, `anvil_dropTransaction`, `evm_snapshot`, `evm_revert`): the `result`.
    /// Codes: `rpc_timeout`, `rpc_unavailable` (no connection or an HTTP error without a JSON-RPC
    /// answer), `rpc_bad_response`, and for an error answered by the node one of the codes of
    /// [`Rpc::send_raw`].
    pub async fn call_raw(&self, method: &str, params: Value) -> Result<Value, EthError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(BodyBytes::from(body.to_string())))
            .map_err(|e| err("invalid_rpc_url", format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                err(
                    "rpc_unavailable",
                    format!("`{method}` to {}: {e}", self.uri),
                )
            })?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| {
                    err(
                        "rpc_unavailable",
                        format!("`{method}`: reading the answer: {e}"),
                    )
                })?
                .to_bytes();
            Ok::<_, EthError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                err(
                    "rpc_timeout",
                    format!("`{method}` had no answer within {:?}", self.timeout),
                )
            })??;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
            let code = if status.is_success() {
                "rpc_bad_response"
            } else {
                "rpc_unavailable"
            };
            err(
                code,
                format!("`{method}`: HTTP {status} without a JSON-RPC answer"),
            )
        })?;
        if answer.get("id") != Some(&json!(id)) {
            return Err(err(
                "rpc_bad_response",
                format!("`{method}`: the answer is not for request {id}"),
            ));
        }
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            return Err(node_error(error));
        }
        answer
            .get("result")
            .cloned()
            .ok_or_else(|| err("rpc_bad_response", format!("`{method}`: no result")))
    }
}

/// A JSON-RPC error object as an [`EthError`] that keeps the node's message.
fn node_error(error: &Value) -> EthError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned);
    let lower = message.to_ascii_lowercase();
    let code = if lower.contains("nonce too low") {
        "nonce_too_low"
    } else if lower.contains("replacement transaction underpriced")
        || lower.contains("replacement underpriced")
    {
        "replacement_underpriced"
    } else if lower.contains("insufficient funds") {
        "insufficient_funds"
    } else if lower.contains("already known") || lower.contains("already imported") {
        "already_known"
    } else {
        "rpc_error"
    };
    err(code, shorten_long(message))
}

fn shorten_long(message: String) -> String {
    const MAX: usize = 1000;
    if message.chars().count() <= MAX {
        message
    } else {
        let mut out: String = message.chars().take(MAX).collect();
        out.push_str("...");
        out
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, EthError> {
    v.get(name)
        .ok_or_else(|| err("rpc_bad_response", format!("the answer has no `{name}`")))
}

fn read<T>(v: &Value, parse: fn(&Value) -> Result<T, String>) -> Result<T, EthError> {
    parse(v).map_err(|e| err("rpc_bad_response", e))
}

fn hash(v: &Value) -> Result<B256, EthError> {
    let bytes: Bytes = read(v, quantity::data)?;
    B256::try_from(bytes.as_ref()).map_err(|_| err("rpc_bad_response", "a hash is not 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls() {
        assert!(Rpc::new("http://127.0.0.1:8545").is_ok());
        assert!(Rpc::new("http://localhost:8545/rpc").is_ok());
        for bad in [
            "https://127.0.0.1:8545",
            "ws://127.0.0.1:8545",
            "127.0.0.1:8545",
            "",
            "http://",
        ] {
            assert_eq!(Rpc::new(bad).unwrap_err().code, "invalid_rpc_url", "{bad}");
        }
    }

    #[test]
    fn node_errors_keep_the_message_and_get_a_code() {
        let cases = [
            ("nonce too low", "nonce_too_low"),
            (
                "Nonce too low. Expected nonce to be 3 but got 2.",
                "nonce_too_low",
            ),
            (
                "replacement transaction underpriced",
                "replacement_underpriced",
            ),
            (
                "insufficient funds for gas * price + value",
                "insufficient_funds",
            ),
            (
                "Insufficient funds for gas * price + value",
                "insufficient_funds",
            ),
            ("already known", "already_known"),
            ("execution reverted", "rpc_error"),
        ];
        for (message, code) in cases {
            let e = node_error(&json!({"code": -32000, "message": message}));
            assert_eq!(e.code, code, "{message}");
            assert_eq!(e.message, message);
        }
    }
}
