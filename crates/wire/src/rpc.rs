//! The Web3Signer-compatible JSON-RPC endpoint, `POST /v1/wallets/{id}/rpc`: the JSON-RPC 2.0
//! call a client signs, and what its signing methods ask for. The path names the wallet; the
//! body is one call (no batches). `eth_accounts` asks for no signature: the coordinator answers
//! it, and no signer registers it.

use serde::Deserialize;
use serde_json::Value;
use tessera_eth::RpcTx;
use tessera_types::KeyId;

use crate::api::{Intent, IntentError, decode_payload, parse_address};

/// The JSON-RPC version every call must name.
pub const JSONRPC_VERSION: &str = "2.0";

/// The methods of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcMethod {
    /// `eth_accounts`: the wallet's address.
    Accounts,
    /// `eth_sign(address, data)`: an EIP-191 signature over `data`.
    Sign,
    /// `eth_signTypedData_v4(address, typedData)`: an EIP-712 signature.
    SignTypedDataV4,
    /// `eth_signTransaction(tx)`: a signed EIP-1559 transaction.
    SignTransaction,
}

impl RpcMethod {
    /// Every method.
    pub const ALL: [RpcMethod; 4] = [
        RpcMethod::Accounts,
        RpcMethod::Sign,
        RpcMethod::SignTypedDataV4,
        RpcMethod::SignTransaction,
    ];

    /// Its JSON-RPC name.
    pub fn name(self) -> &'static str {
        match self {
            RpcMethod::Accounts => "eth_accounts",
            RpcMethod::Sign => "eth_sign",
            RpcMethod::SignTypedDataV4 => "eth_signTypedData_v4",
            RpcMethod::SignTransaction => "eth_signTransaction",
        }
    }

    /// Whether it asks for a signature (and so for the `trader` role).
    pub fn signs(self) -> bool {
        self != RpcMethod::Accounts
    }
}

/// One JSON-RPC 2.0 call, as the endpoint reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcCall {
    /// The caller's id, echoed in the answer: a string, a number or null.
    pub id: Value,
    /// The method.
    pub method: RpcMethod,
    /// Its positional parameters.
    pub params: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    jsonrpc: String,
    #[serde(default)]
    id: Value,
    method: String,
    #[serde(default)]
    params: Option<Value>,
}

fn rpc_err(code: &'static str, message: impl Into<String>) -> IntentError {
    IntentError {
        code,
        message: message.into(),
    }
}

fn invalid_params(message: impl Into<String>) -> IntentError {
    rpc_err("invalid_params", message)
}

impl RpcCall {
    /// The id of the call in `body`, if one can be read: what an error answer echoes.
    pub fn id_of(body: &[u8]) -> Value {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("id").cloned())
            .filter(|id| matches!(id, Value::String(_) | Value::Number(_)))
            .unwrap_or(Value::Null)
    }

    /// Reads a call. Codes: `invalid_json` (not JSON), `invalid_request` (not a JSON-RPC 2.0
    /// call object; batches included), `unknown_method`, `invalid_params` (parameters not a
    /// list).
    pub fn parse(body: &[u8]) -> Result<RpcCall, IntentError> {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map_err(|e| rpc_err("invalid_json", format!("request body: {e}")))?;
        if body.trim_ascii_start().first() == Some(&b'[') {
            return Err(rpc_err(
                "invalid_request",
                "batches are not supported: send one call per request",
            ));
        }
        // Read from the bytes, not through a map: a key given twice is refused, not resolved.
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|e| rpc_err("invalid_request", format!("JSON-RPC call: {e}")))?;
        if envelope.jsonrpc != JSONRPC_VERSION {
            return Err(rpc_err(
                "invalid_request",
                format!("`jsonrpc` must be \"{JSONRPC_VERSION}\""),
            ));
        }
        if !matches!(
            envelope.id,
            Value::String(_) | Value::Number(_) | Value::Null
        ) {
            return Err(rpc_err(
                "invalid_request",
                "`id` must be a string, a number or null",
            ));
        }
        let method = RpcMethod::ALL
            .into_iter()
            .find(|m| m.name() == envelope.method)
            .ok_or_else(|| {
                rpc_err(
                    "unknown_method",
                    format!(
                        "method `{}` is not served here; try {}",
                        shorten(&envelope.method),
                        RpcMethod::ALL.map(RpcMethod::name).join(", ")
                    ),
                )
            })?;
        let params = match envelope.params {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(invalid_params("`params` must be a list")),
        };
        Ok(RpcCall {
            id: envelope.id,
            method,
            params,
        })
    }

    /// What the call asks `wallet` to sign, decoded exactly as every signer decodes it.
    /// `eth_accounts` asks for none (`not_signable`). Codes for the parameters:
    /// `invalid_params` (count or type), `invalid_address`, `invalid_payload`,
    /// `invalid_typed_data`, `missing_field`, `invalid_tx_json`, `unsupported_tx_type`,
    /// `contract_creation_not_allowed`.
    pub fn intent(self, wallet: KeyId) -> Result<Intent, IntentError> {
        let name = self.method.name();
        match (self.method, self.params.as_slice()) {
            (RpcMethod::Accounts, _) => Err(rpc_err(
                "not_signable",
                "`eth_accounts` asks for no signature",
            )),
            (RpcMethod::Sign, [address, data]) => {
                let address = parse_address("address", text(name, address)?)?;
                let message = decode_payload("data", text(name, data)?)?;
                Ok(Intent::sign_message(wallet, Some(address), message, None))
            }
            (RpcMethod::SignTypedDataV4, [address, typed_data]) => {
                let address = parse_address("address", text(name, address)?)?;
                let typed_data = match typed_data {
                    Value::Object(_) => typed_data.clone(),
                    Value::String(s) => serde_json::from_str::<Value>(s)
                        .ok()
                        .filter(Value::is_object)
                        .ok_or_else(|| {
                            rpc_err(
                                "invalid_typed_data",
                                "the typed data is a string that is not a JSON object",
                            )
                        })?,
                    _ => {
                        return Err(invalid_params(
                            "the typed data must be a JSON object or a string of one",
                        ));
                    }
                };
                Intent::sign_typed_data(wallet, Some(address), typed_data, None)
            }
            (RpcMethod::SignTransaction, [tx]) => {
                let code = |e: tessera_eth::EthError| rpc_err(e.code, e.message);
                let from = tessera_eth::rpc_json_sender(tx)
                    .map_err(code)?
                    .ok_or_else(|| rpc_err("missing_field", "`from` is required"))?;
                let tx = RpcTx::from_json(tx).map_err(code)?;
                if tx.to.is_none() {
                    return Err(rpc_err(
                        "contract_creation_not_allowed",
                        "a transaction without `to` creates a contract, which is not signed here",
                    ));
                }
                Ok(Intent::SignTransaction { wallet, from, tx })
            }
            (method, params) => {
                let want = match method {
                    RpcMethod::Accounts => 0,
                    RpcMethod::Sign | RpcMethod::SignTypedDataV4 => 2,
                    RpcMethod::SignTransaction => 1,
                };
                Err(invalid_params(format!(
                    "`{name}` takes {want} parameters, got {}",
                    params.len()
                )))
            }
        }
    }
}

fn text<'a>(method: &str, v: &'a Value) -> Result<&'a str, IntentError> {
    v.as_str()
        .ok_or_else(|| invalid_params(format!("the parameters of `{method}` are strings")))
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rid() -> tessera_auth::RequestId {
        tessera_auth::RequestId::derive(&tessera_auth::ClientId::new("trader").unwrap(), "jti-1")
    }

    const FROM: &str = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

    fn parse(body: &Value) -> Result<Intent, IntentError> {
        Intent::parse(
            "POST",
            "/v1/wallets/w-1/rpc",
            body.to_string().as_bytes(),
            &rid(),
        )
    }

    fn call(method: &str, params: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    }

    fn tx() -> Value {
        json!({
            "from": FROM,
            "to": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "gas": "0x5208",
            "maxFeePerGas": "0x6fc23ac00",
            "maxPriorityFeePerGas": "0x3b9aca00",
            "value": "0x1",
            "nonce": "0x0"
        })
    }

    #[test]
    fn signing_methods_decode_into_intents() {
        let from = tessera_eth::parse_address(FROM).unwrap();
        match parse(&call("eth_sign", json!([FROM, "0x68656c6c6f"]))).unwrap() {
            Intent::SignMessage {
                address,
                message,
                hash,
                idempotency_key,
                ..
            } => {
                assert_eq!(address, Some(from));
                assert_eq!(message, b"hello");
                assert_eq!(hash, tessera_eth::personal_message_hash(b"hello").0);
                assert_eq!(idempotency_key, None);
            }
            other => panic!("{other:?}"),
        }
        let typed = json!({
            "types": {"EIP712Domain": [{"name": "name", "type": "string"}],
                      "Mail": [{"name": "text", "type": "string"}]},
            "primaryType": "Mail",
            "domain": {"name": "x"},
            "message": {"text": "hi"}
        });
        let as_object = parse(&call("eth_signTypedData_v4", json!([FROM, typed]))).unwrap();
        let as_string = parse(&call(
            "eth_signTypedData_v4",
            json!([FROM, typed.to_string()]),
        ))
        .unwrap();
        assert_eq!(as_object, as_string);
        assert_eq!(as_object.kind(), "sign_typed_data");
        assert_eq!(as_object.account(), Some(&from));
        let i = parse(&call("eth_signTransaction", json!([tx()]))).unwrap();
        assert_eq!(i.kind(), "sign_transaction");
        assert_eq!(i.account(), Some(&from));
        assert_eq!(i.idempotency_key(), None);
        assert_eq!(i.wallet().unwrap().as_str(), "w-1");
        assert_eq!(
            i.message_for(tessera_types::Scheme::EcdsaSecp256k1)
                .unwrap_err()
                .code,
            "not_signable"
        );
    }

    #[test]
    fn refusals_have_stable_codes() {
        let without = |field: &str| {
            let mut t = tx();
            t.as_object_mut().unwrap().remove(field);
            call("eth_signTransaction", json!([t]))
        };
        let with = |field: &str, v: Value| {
            let mut t = tx();
            t[field] = v;
            call("eth_signTransaction", json!([t]))
        };
        let cases = [
            (
                json!({"jsonrpc": "1.0", "id": 1, "method": "eth_accounts"}),
                "invalid_request",
            ),
            (json!([call("eth_accounts", json!([]))]), "invalid_request"),
            (
                json!({"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "x": 1}),
                "invalid_request",
            ),
            (
                json!({"jsonrpc": "2.0", "id": [1], "method": "eth_accounts"}),
                "invalid_request",
            ),
            (
                json!({"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": 1}),
                "invalid_params",
            ),
            (call("eth_sendTransaction", json!([tx()])), "unknown_method"),
            (call("eth_accounts", json!([])), "not_signable"),
            (call("eth_sign", json!([FROM])), "invalid_params"),
            (call("eth_sign", json!({"a": 1})), "invalid_params"),
            (call("eth_sign", json!([FROM, 5])), "invalid_params"),
            (call("eth_sign", json!(["0x12", "0x00"])), "invalid_address"),
            (call("eth_sign", json!([FROM, "0xzz"])), "invalid_payload"),
            (
                call("eth_signTypedData_v4", json!([FROM, "[]"])),
                "invalid_typed_data",
            ),
            (
                call("eth_signTypedData_v4", json!([FROM, {}])),
                "invalid_typed_data",
            ),
            (call("eth_signTransaction", json!([])), "invalid_params"),
            (without("nonce"), "missing_field"),
            (without("gas"), "missing_field"),
            (without("maxFeePerGas"), "missing_field"),
            (without("maxPriorityFeePerGas"), "missing_field"),
            (without("from"), "missing_field"),
            (without("to"), "contract_creation_not_allowed"),
            (with("gasPrice", json!("0x1")), "unsupported_tx_type"),
            (with("type", json!("0x0")), "unsupported_tx_type"),
            (with("value", json!("12")), "invalid_tx_json"),
        ];
        for (body, code) in cases {
            assert_eq!(parse(&body).unwrap_err().code, code, "{body}");
        }
        let e = Intent::parse("POST", "/v1/wallets/w-1/rpc", b"{", &rid()).unwrap_err();
        assert_eq!(e.code, "invalid_json");
        let twice = br#"{"jsonrpc":"2.0","id":1,"method":"eth_sign","method":"eth_accounts"}"#;
        let e = Intent::parse("POST", "/v1/wallets/w-1/rpc", twice, &rid()).unwrap_err();
        assert_eq!(e.code, "invalid_request");
        let e = without("maxFeePerGas");
        assert!(
            parse(&e).unwrap_err().message.contains("maxFeePerGas"),
            "the missing field is named"
        );
    }

    #[test]
    fn ids_are_echoed_when_readable() {
        assert_eq!(RpcCall::id_of(br#"{"id": 3}"#), json!(3));
        assert_eq!(RpcCall::id_of(br#"{"id": "a"}"#), json!("a"));
        assert_eq!(RpcCall::id_of(br#"{"id": [1]}"#), Value::Null);
        assert_eq!(RpcCall::id_of(b"{"), Value::Null);
        let c = RpcCall::parse(br#"{"jsonrpc":"2.0","id":"x","method":"eth_accounts"}"#).unwrap();
        assert_eq!(c.method, RpcMethod::Accounts);
        assert!(c.params.is_empty());
    }
}
