//! The JSON-RPC transaction object of `eth_signTransaction`, as sent by Ethereum tooling to a remote
//! signer (Web3Signer style): read strictly, turned into an unsigned transaction, and compared field
//! by field with the transaction a signer is handed.

use alloy_primitives::{Address, Bytes, TxKind, U256};
use serde_json::{Map, Value};

use crate::address::{checksummed, parse_address};
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

/// The code of a required field that is absent.
const MISSING: &str = "missing_field";

/// A JSON-RPC transaction object of `eth_signTransaction`, read strictly: every field that ends up
/// in the signed transaction. The chain id is optional here, as tooling may leave it to the signer;
/// [`RpcTx::to_unsigned`] takes the one to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcTx {
    /// `chainId`, when given.
    pub chain_id: Option<u64>,
    /// `nonce`.
    pub nonce: u64,
    /// `gas`, `maxFeePerGas` and `maxPriorityFeePerGas`.
    pub fees: TxFees,
    /// `to`; `None` creates a contract.
    pub to: Option<Address>,
    /// `value` (default 0).
    pub value: U256,
    /// `data` or `input` (default empty).
    pub input: Bytes,
}

impl RpcTx {
    /// Reads a transaction object `{from, to, gas, maxFeePerGas, maxPriorityFeePerGas, value,
    /// data | input, nonce, chainId}` with hex quantities. `nonce`, `gas` and both fees are
    /// required (code `missing_field`); `chainId` is optional; `to` absent or null creates a
    /// contract; `value` and data default to zero and empty; `data` and `input` must agree when
    /// both are given; `type` when given must be `0x2`; `accessList` when given must be empty;
    /// `from` is read by [`rpc_json_sender`]. Codes: `unsupported_tx_type` for a legacy
    /// (`gasPrice`) or other-typed transaction, `invalid_tx_json` for anything else, unknown
    /// fields included.
    pub fn from_json(v: &Value) -> Result<RpcTx, EthError> {
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
        let chain_id = optional(obj, "chainId", quantity::u64)?;
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
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(parse_address(s).map_err(|e| err(CODE, format!("`to`: {}", e.message)))?)
            }
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
        Ok(RpcTx {
            chain_id,
            nonce,
            fees,
            to,
            value,
            input,
        })
    }

    /// The unsigned transaction on chain `chain_id`, without an access list.
    pub fn to_unsigned(&self, chain_id: u64) -> UnsignedTx {
        let to = self.to.map_or(TxKind::Create, TxKind::Call);
        UnsignedTx::new(
            chain_id,
            self.nonce,
            &self.fees,
            to,
            self.value,
            self.input.clone(),
        )
    }

    /// What a signer checks before it signs `tx` for this request on its chain `chain_id`: every
    /// field equals the request's, the chain id the signer's (and the request's, when it names
    /// one). The error names the first field that differs, in this order: `wrong_chain`,
    /// `wrong_recipient`, `wrong_amount`, `wrong_data`, `wrong_nonce`, `wrong_fees`, and
    /// `wrong_tx` for anything else (an access list).
    pub fn check(&self, tx: &UnsignedTx, chain_id: u64) -> Result<(), EthError> {
        if let Some(asked) = self.chain_id.filter(|c| *c != chain_id) {
            return Err(err(
                "wrong_chain",
                format!("the request is for chain {asked}, this signer signs for chain {chain_id}"),
            ));
        }
        if tx.chain_id() != chain_id {
            return Err(err(
                "wrong_chain",
                format!(
                    "the transaction is for chain {}, the request for chain {chain_id}",
                    tx.chain_id()
                ),
            ));
        }
        let show =
            |a: Option<Address>| a.map_or_else(|| "a new contract".to_owned(), |a| checksummed(&a));
        if tx.to() != self.to {
            return Err(err(
                "wrong_recipient",
                format!(
                    "the transaction calls {}, the request {}",
                    show(tx.to()),
                    show(self.to)
                ),
            ));
        }
        if tx.value() != self.value {
            return Err(err(
                "wrong_amount",
                format!(
                    "the transaction sends {} wei, the request {}",
                    tx.value(),
                    self.value
                ),
            ));
        }
        if *tx.input() != self.input {
            return Err(err(
                "wrong_data",
                format!(
                    "the transaction's data ({} bytes) is not the request's ({} bytes)",
                    tx.input().len(),
                    self.input.len()
                ),
            ));
        }
        if tx.nonce() != self.nonce {
            return Err(err(
                "wrong_nonce",
                format!(
                    "the transaction has nonce {}, the request {}",
                    tx.nonce(),
                    self.nonce
                ),
            ));
        }
        let (got, want) = (tx.fees(), self.fees);
        if got != want {
            return Err(err(
                "wrong_fees",
                format!(
                    "the transaction's gas and fees are {} gas at {}/{} wei, the request's {} gas at {}/{} wei",
                    got.gas_limit,
                    got.max_fee_per_gas,
                    got.max_priority_fee_per_gas,
                    want.gas_limit,
                    want.max_fee_per_gas,
                    want.max_priority_fee_per_gas
                ),
            ));
        }
        if *tx != self.to_unsigned(chain_id) {
            return Err(err(
                "wrong_tx",
                "the transaction has fields the request does not (an access list)",
            ));
        }
        Ok(())
    }
}

impl UnsignedTx {
    /// Builds the transaction from a JSON-RPC transaction object, as [`RpcTx::from_json`] reads
    /// it, with `chainId` required too (code `missing_field`).
    pub fn from_rpc_json(v: &Value) -> Result<UnsignedTx, EthError> {
        let tx = RpcTx::from_json(v)?;
        let chain_id = tx
            .chain_id
            .ok_or_else(|| err(MISSING, "`chainId` is required"))?;
        Ok(tx.to_unsigned(chain_id))
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
    optional(obj, field, read)?.ok_or_else(|| err(MISSING, format!("`{field}` is required")))
}
