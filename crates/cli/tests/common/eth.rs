//! Ethereum helpers of the multi-process tests: a real node (anvil), plain JSON-RPC calls to
//! it, wallets and transfers through the API, and an independent check of what was signed.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_eth::anvil::{self, Anvil};

use super::Api;

/// One ether, in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;

/// A fresh anvil, or `None` when the test may be skipped (no binary and not required).
pub fn node(args: &[&str]) -> Option<Anvil> {
    if let Err(e) = anvil::binary() {
        let required = std::env::var_os("TESSERA_REQUIRE_ANVIL").is_some()
            || std::env::var_os("TESSERA_ANVIL").is_some();
        assert!(!required, "anvil is required here: {e}");
        let _ = writeln!(
            std::io::stderr(),
            "\n********\n* SKIPPED: no anvil binary ({e})\n* run scripts/install-anvil\n********"
        );
        return None;
    }
    Some(Anvil::start_with(args).unwrap())
}

/// A JSON-RPC call to the node, with a plain HTTP client.
pub fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, v) = super::try_send(url, "POST", "", None, body.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200, "{v}");
    assert!(v.get("error").is_none(), "{method}: {v}");
    v["result"].clone()
}

pub fn quantity(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

pub fn balance(url: &str, who: &str) -> u128 {
    quantity(&rpc(url, "eth_getBalance", json!([who, "latest"])))
}

pub fn mine(url: &str, blocks: u64) {
    rpc(url, "anvil_mine", json!([format!("{blocks:#x}")]));
}

/// The receipt of a transaction sent to the node. Anvil mines a sent transaction on its own,
/// but the receipt can trail the hash by a moment, so this waits (up to ten seconds) for it.
pub fn receipt_of(url: &str, hash: &Value) -> Value {
    for _ in 0..100 {
        let receipt = rpc(url, "eth_getTransactionReceipt", json!([hash]));
        if !receipt.is_null() {
            return receipt;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no receipt for {hash} after ten seconds");
}

pub fn eth_wallet(c: &impl Api, name: &str) -> Value {
    let (status, w) = c.call(
        "admin-1",
        "POST",
        "/v1/wallets",
        Some(&json!({"name": name, "scheme": "ecdsa-secp256k1", "chain": "ethereum"})),
    );
    assert_eq!(status, 201, "{w}");
    let address = w["address"].as_str().unwrap();
    let parsed = tessera_eth::parse_address(address).unwrap();
    assert_eq!(address, tessera_eth::checksummed(&parsed), "EIP-55");
    assert_eq!(
        hex::decode(w["public_key"].as_str().unwrap())
            .unwrap()
            .len(),
        33
    );
    w
}

pub fn transfer(c: &impl Api, body: &Value) -> (u16, Value) {
    c.call("trader", "POST", "/v1/transfers", Some(body))
}

pub fn get_transfer(c: &impl Api, id: &str) -> Value {
    let (status, t) = c.call("trader", "GET", &format!("/v1/transfers/{id}"), None);
    assert_eq!(status, 200, "{t}");
    t
}

/// Polls a transfer until `done` holds, mining a block now and then if `mine_url` is given.
pub fn wait_for(c: &impl Api, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let t = get_transfer(c, id);
        if done(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "transfer {id} never {what}: {t}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Recovers the signer of a raw transaction with k256, independently of the code that built
/// it, and checks it is the wallet's key; returns the decoded transaction.
pub fn recovers_to_wallet(raw_hex: &str, wallet: &Value) -> tessera_eth::DecodedSigned {
    let raw = hex::decode(raw_hex.trim_start_matches("0x")).unwrap();
    let d = tessera_eth::decode_signed(&raw).unwrap();
    let mut rs = [0u8; 64];
    rs[..32].copy_from_slice(&d.r);
    rs[32..].copy_from_slice(&d.s);
    let sig = k256::ecdsa::Signature::from_slice(&rs).unwrap();
    assert!(sig.normalize_s().is_none(), "low-S");
    let recid = k256::ecdsa::RecoveryId::new(d.y_parity, false);
    let key = k256::ecdsa::VerifyingKey::recover_from_prehash(
        d.unsigned.signing_hash().as_slice(),
        &sig,
        recid,
    )
    .unwrap();
    assert_eq!(
        hex::encode(key.to_encoded_point(true).as_bytes()),
        wallet["public_key"].as_str().unwrap(),
        "the transaction recovers to the wallet's key"
    );
    d
}

pub fn body(wallet: &Value, to: &str, asset: &str, amount: &str, key: &str) -> Value {
    json!({"wallet_id": wallet["id"], "to": to, "asset": asset, "amount": amount,
        "idempotency_key": key})
}
