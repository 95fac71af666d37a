//! The Web3Signer-compatible JSON-RPC endpoint end to end: real signer and coordinator
//! processes configured by `tessera dev --ethereum-rpc` for a real anvil, an ECDSA wallet created through
//! the API, and every method called over HTTP with tokens made by an independent JWT library.
//! Signatures are checked by recovering the signer with `k256`; the signed transaction is
//! broadcast to anvil, which must mine it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Manual, send};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use serde_json::{Value, json};

const BOB: &str = "0x00000000000000000000000000000000000000B0";

fn rpc(c: &Manual, client: &str, wallet: &str, method: &str, params: Value) -> (u16, Value) {
    c.call(
        client,
        "POST",
        &format!("/v1/wallets/{wallet}/rpc"),
        Some(&json!({"jsonrpc": "2.0", "id": 42, "method": method, "params": params})),
    )
}

/// A JSON-RPC result; the answer must be a success for call 42.
fn result(answer: (u16, Value)) -> Value {
    let (status, body) = answer;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 42);
    assert!(body.get("error").is_none(), "{body}");
    body["result"].clone()
}

/// A JSON-RPC error's numeric and stable codes.
fn error(answer: (u16, Value)) -> (i64, String) {
    let (status, body) = answer;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], 42);
    assert!(body.get("result").is_none(), "{body}");
    (
        body["error"]["code"].as_i64().unwrap(),
        body["error"]["data"]["code"].as_str().unwrap().to_owned(),
    )
}

/// The address that signed `hash` with `sig` (`0x r || s || v`, `v` 27 or 28), by `k256`.
fn recover(hash: &[u8; 32], sig: &Value) -> String {
    let bytes = hex::decode(sig.as_str().unwrap().strip_prefix("0x").unwrap()).unwrap();
    assert_eq!(bytes.len(), 65);
    assert!(matches!(bytes[64], 27 | 28), "v is {}", bytes[64]);
    let s = Signature::from_slice(&bytes[..64]).unwrap();
    let id = RecoveryId::from_byte(bytes[64] - 27).unwrap();
    let key = VerifyingKey::recover_from_prehash(hash, &s, id).unwrap();
    let address = tessera_eth::address_of(key.to_encoded_point(false).as_bytes()).unwrap();
    tessera_eth::checksummed(&address)
}

fn anvil_call(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, answer) = send(url, "POST", "", None, body.to_string().as_bytes());
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

#[test]
fn ethereum_tooling_signs_through_the_json_rpc_endpoint() {
    let anvil = tessera_eth::anvil::Anvil::start().unwrap();
    let chain = anvil.chain_id();
    let tmp = tempfile::tempdir().unwrap();
    // `tessera dev --ethereum-rpc` configures the signers with anvil's chain id and the
    // coordinator with the node, whose chain fills in calls without `chainId`.
    let mut c = Manual::prepare_with(tmp.path(), 2, 3, &["--ethereum-rpc", &anvil.url()]);
    for n in 1..=3 {
        c.start_signer(n, false);
    }
    c.start_coordinator();

    let (status, w) = c.call(
        "admin-1",
        "POST",
        "/v1/wallets",
        Some(&json!({"name": "tooling", "scheme": "ecdsa-secp256k1"})),
    );
    assert_eq!(status, 201, "{w}");
    let id = w["id"].as_str().unwrap().to_owned();
    let address = w["address"].as_str().unwrap().to_owned();

    // eth_accounts: read access, any role.
    for client in ["trader", "approver-1"] {
        assert_eq!(
            result(rpc(&c, client, &id, "eth_accounts", json!([]))),
            json!([address])
        );
    }

    // eth_sign: an EIP-191 signature by the wallet.
    let sig = result(rpc(
        &c,
        "trader",
        &id,
        "eth_sign",
        json!([address.to_lowercase(), "0x68656c6c6f"]),
    ));
    assert_eq!(
        recover(&tessera_eth::personal_message_hash(b"hello").0, &sig),
        address
    );

    // eth_signTypedData_v4, the typed data given as a JSON string.
    let typed = json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "chainId", "type": "uint256"}
            ],
            "Order": [
                {"name": "market", "type": "string"},
                {"name": "size", "type": "uint256"}
            ]
        },
        "primaryType": "Order",
        "domain": {"name": "Venue", "chainId": chain},
        "message": {"market": "ETH-PERP", "size": "5"}
    });
    let sig = result(rpc(
        &c,
        "trader",
        &id,
        "eth_signTypedData_v4",
        json!([address, typed.to_string()]),
    ));
    assert_eq!(
        recover(&tessera_eth::typed_data_hash(&typed).unwrap().0, &sig),
        address
    );

    // eth_signTransaction without a chain id: the raw transaction anvil accepts and mines.
    anvil_call(
        &anvil.url(),
        "anvil_setBalance",
        json!([address, "0xde0b6b3a7640000"]),
    );
    let tx = json!({
        "from": address,
        "to": BOB,
        "gas": "0x5208",
        "maxFeePerGas": "0x77359400",
        "maxPriorityFeePerGas": "0x3b9aca00",
        "value": "0x2386f26fc10000",
        "nonce": "0x0"
    });
    let raw = result(rpc(&c, "trader", &id, "eth_signTransaction", json!([tx])));
    let raw = raw.as_str().unwrap().to_owned();
    assert!(raw.starts_with("0x02"), "{raw}");
    let bytes = hex::decode(raw.strip_prefix("0x").unwrap()).unwrap();
    assert_eq!(
        tessera_eth::checksummed(&tessera_eth::recover_sender(&bytes).unwrap()),
        address
    );
    let hash = anvil_call(&anvil.url(), "eth_sendRawTransaction", json!([raw]));
    let deadline = Instant::now() + Duration::from_secs(20);
    let receipt = loop {
        let r = anvil_call(&anvil.url(), "eth_getTransactionReceipt", json!([hash]));
        if !r.is_null() {
            break r;
        }
        assert!(Instant::now() < deadline, "anvil did not mine {hash}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(
        anvil_call(&anvil.url(), "eth_getBalance", json!([BOB, "latest"])),
        "0x2386f26fc10000"
    );

    // Refusals, as JSON-RPC errors with stable codes.
    let mut other_chain = tx.clone();
    other_chain["chainId"] = json!("0x1");
    other_chain["nonce"] = json!("0x1");
    let mut no_nonce = tx.clone();
    no_nonce.as_object_mut().unwrap().remove("nonce");
    let mut legacy = tx.clone();
    legacy["gasPrice"] = json!("0x1");
    let mut deploy = tx.clone();
    deploy.as_object_mut().unwrap().remove("to");
    let mut stranger = tx.clone();
    stranger["from"] = json!(BOB);
    for (method, params, want) in [
        (
            "eth_signTransaction",
            json!([other_chain]),
            (-32000, "unsupported_chain"),
        ),
        (
            "eth_signTransaction",
            json!([no_nonce]),
            (-32602, "missing_field"),
        ),
        (
            "eth_signTransaction",
            json!([legacy]),
            (-32602, "unsupported_tx_type"),
        ),
        (
            "eth_signTransaction",
            json!([deploy]),
            (-32602, "contract_creation_not_allowed"),
        ),
        (
            "eth_signTransaction",
            json!([stranger]),
            (-32000, "wrong_account"),
        ),
        ("eth_sign", json!([BOB, "0x00"]), (-32000, "wrong_account")),
        ("eth_sign", json!([address]), (-32602, "invalid_params")),
        (
            "eth_sendTransaction",
            json!([tx]),
            (-32601, "unknown_method"),
        ),
    ] {
        let (code, stable) = error(rpc(&c, "trader", &id, method, params));
        assert_eq!((code, stable.as_str()), want, "{method}");
    }
    let (code, stable) = error(rpc(&c, "trader", "w-nope", "eth_accounts", json!([])));
    assert_eq!((code, stable.as_str()), (-32000, "not_found"));

    // Signing needs the trader role: the native 403.
    let (status, body) = rpc(&c, "approver-1", &id, "eth_sign", json!([address, "0x00"]));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    // A call whose token is bound to another body: the native 401.
    let body = json!({"jsonrpc": "2.0", "id": 42, "method": "eth_accounts", "params": []});
    let token = common::token(
        &c.key("trader"),
        "trader",
        "POST",
        &format!("/v1/wallets/{id}/rpc"),
        b"{}",
        common::now(),
    );
    let (status, _) = send(
        &c.api,
        "POST",
        &format!("/v1/wallets/{id}/rpc"),
        Some(&token),
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 401);

    // The route is in the OpenAPI document.
    let (_, doc) = send(&c.api, "GET", "/openapi.json", None, b"");
    assert!(doc["paths"].get("/v1/wallets/{id}/rpc").is_some());
}
