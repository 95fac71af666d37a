//! An unsigned transaction from the JSON-RPC transaction object of `eth_signTransaction`, as sent by
//! Ethereum tooling to a remote signer (Web3Signer style).

use alloy_primitives::{Address, Bytes, TxKind, U256};
use serde_json::{Map, Value};

use crate::address::parse_address;
use crate::error::{EthError, err};
use crate::quantity;
use crate::tx::{TxFees, UnsignedTx};

/// Fields understood; anything else is refused rather than silently dropped from what is signed.
const KNOWN: [&str; 13] = [
    "from",
    "to",
    "gas",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "value",
    "data",
    "input",
    "nonce",
    "chainId",
    "type",
    "accessList",
    "gasPrice",
];

const CODE: &str = "invalid_tx_json";

impl UnsignedTx {
    /// Builds the transaction from a JSON-RPC transaction object `{from, to, gas, maxFeePerGas,
    /// maxPriorityFeePerGas, value, data | input, nonce, chainId}` with hex quantities. `nonce`, `gas`,
    /// both fees and `chainId` are required; `to` absent or null creates a contract; `value` and data
    /// default to zero and empty; `data` and `input` must agree when both are given; `type` when given
    /// must be `0x2`; `accessList` when given must be empty. Codes: `unsupported_tx_type` for a
    /// legacy (`gasPrice`) or other-typed transaction, `invalid_tx_json` for anything else, unknown
    /// fields included.
    pub fn from_rpc_json(v: &Value) -> Result<UnsignedTx, EthError> {
        let obj = object(v)?;
        if let Some(field) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            let code = if is_other_type_field(field) {
                "unsupported_tx_type"
            } else {
                CODE
            };
            return Err(err(code, format!("unknown transaction field `{field}`")));
        }
        if present(obj, "gasPrice") {
            return Err(err(
                "unsupported_tx_type",
                "`gasPrice` makes a legacy transaction: only EIP-1559 transactions \
                 (`maxFeePerGas`, `maxPriorityFeePerGas`) are signed",
            ));
        }
        if let Some(ty) = obj.get("type").filter(|t| !t.is_null()) {
            let ty = quantity::u64(ty).map_err(|e| err(CODE, format!("`type`: {e}")))?;
            if ty != 2 {
                return Err(err(
                    "unsupported_tx_type",
                    format!("transaction type {ty} is not supported, only EIP-1559 (type 2)"),
                ));
            }
        }
        match obj.get("accessList") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(_) => return Err(err(CODE, "a non-empty `accessList` is not supported")),
        }
        let chain_id = required(obj, "chainId", quantity::u64)?;
        let nonce = required(obj, "nonce", quantity::u64)?;
        let fees = TxFees {
            gas_limit: required(obj, "gas", quantity::u64)?,
            max_fee_per_gas: required(obj, "maxFeePerGas", quantity::u128)?,
            max_priority_fee_per_gas: required(obj, "maxPriorityFeePerGas", quantity::u128)?,
        };
        if fees.max_priority_fee_per_gas > fees.max_fee_per_gas {
            return Err(err(CODE, "`maxPriorityFeePerGas` is above `maxFeePerGas`"));
        }
        let to = match obj.get("to") {
            None | Some(Value::Null) => TxKind::Create,
            Some(Value::String(s)) => TxKind::Call(
                parse_address(s).map_err(|e| err(CODE, format!("`to`: {}", e.message)))?,
            ),
            Some(_) => return Err(err(CODE, "`to` is not an address")),
        };
        let value = optional(obj, "value", quantity::u256)?.unwrap_or(U256::ZERO);
        let data = optional(obj, "data", quantity::data)?;
        let input = optional(obj, "input", quantity::data)?;
        let input = match (data, input) {
            (Some(d), Some(i)) if d != i => {
                return Err(err(CODE, "`data` and `input` differ"));
            }
            (Some(d), _) => d,
            (None, Some(i)) => i,
            (None, None) => Bytes::new(),
        };
        Ok(UnsignedTx::new(chain_id, nonce, &fees, to, value, input))
    }
}

/// The `from` of a JSON-RPC transaction object, when it has one: the account the caller wants to
/// sign with.
pub fn rpc_json_sender(v: &Value) -> Result<Option<Address>, EthError> {
    match object(v)?.get("from") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_address(s)
            .map(Some)
            .map_err(|e| err(CODE, format!("`from`: {}", e.message))),
        Some(_) => Err(err(CODE, "`from` is not an address")),
    }
}

fn object(v: &Value) -> Result<&Map<String, Value>, EthError> {
    v.as_object()
        .ok_or_else(|| err(CODE, "the transaction is not a JSON object"))
}

fn present(obj: &Map<String, Value>, field: &str) -> bool {
    obj.get(field).is_some_and(|v| !v.is_null())
}

fn is_other_type_field(field: &str) -> bool {
    matches!(
        field,
        "maxFeePerBlobGas" | "blobVersionedHashes" | "blobs" | "sidecar" | "authorizationList"
    )
}

fn optional<T>(
    obj: &Map<String, Value>,
    field: &str,
    read: fn(&Value) -> Result<T, String>,
) -> Result<Option<T>, EthError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v)
            .map(Some)
            .map_err(|e| err(CODE, format!("`{field}`: {e}"))),
    }
}

fn required<T>(
    obj: &Map<String, Value>,
    field: &str,
    read: fn(&Value) -> Result<T, String>,
) -> Result<T, EthError> {
    optional(obj, field, read)?.ok_or_else(|| err(CODE, format!("`{field}` is required")))
}
