//! The Web3Signer-compatible JSON-RPC endpoint as the signers see it, with the coordinator
//! played by the test and therefore free to lie: every signer decodes the client's JSON-RPC call
//! itself, signs an `eth_signTransaction` only over exactly the transaction the client spelled
//! out (on its own chain, under its fee cap, from its own wallet's address), and signs
//! `eth_sign` and `eth_signTypedData_v4` only for the wallet's own address. Every signature that
//! comes out is checked with `k256`, independently of the threshold library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod ecdsa_nodes;

use ecdsa_nodes::{
    CHAIN, GWEI, Keys, address, check, cluster, now, register_everywhere, session, token,
};
use serde_json::{Value, json};
use tessera_auth::ClientKey;
use tessera_eth::{Address, RpcTx, TxFees, U256, UnsignedTx};
use tessera_signer::SignerNode;
use tessera_types::KeyId;

const BOB: &str = "0x00000000000000000000000000000000000000b0";
const EVE: &str = "0x00000000000000000000000000000000000000e0";

fn rpc_body(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

fn path(key: &KeyId) -> String {
    format!("/v1/wallets/{key}/rpc")
}

/// The transaction object a tool sends: 0.25 ether to Bob at nonce 7, 20 gwei / 1 gwei.
fn tx_object(from: &Address) -> Value {
    json!({
        "from": tessera_eth::checksummed(from),
        "to": BOB,
        "gas": "0x5208",
        "maxFeePerGas": format!("{:#x}", 20 * GWEI),
        "maxPriorityFeePerGas": format!("{:#x}", GWEI),
        "value": "0x3782dace9d90000",
        "data": "0x",
        "nonce": "0x7",
        "chainId": format!("{CHAIN:#x}")
    })
}

/// Registers `body` with every node as the trader's call; the request id.
fn call(nodes: &mut [SignerNode], keys: &Keys, key: &KeyId, body: &str) -> String {
    register_everywhere(nodes, &keys.trader, "trader", &path(key), body.as_bytes())
}

/// What one node answers to the trader's (or `sub`'s) call at registration.
fn register_code(
    node: &mut SignerNode,
    signer: &ClientKey,
    sub: &str,
    key: &KeyId,
    body: &str,
) -> String {
    let p = path(key);
    let tok = token(signer, sub, &p, body.as_bytes());
    match node.register(&tok, "POST", &p, body.as_bytes(), now()) {
        Ok(r) => panic!("registered: {r:?}"),
        Err(e) => e.code().to_owned(),
    }
}

#[test]
fn a_signer_signs_only_the_transaction_the_client_spelled_out() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, key, group) = cluster(dir.path(), &keys);
    let from = address(&group);
    let object = tx_object(&from);
    let request = call(
        &mut nodes,
        &keys,
        &key,
        &rpc_body("eth_signTransaction", json!([object])),
    );
    let honest = RpcTx::from_json(&object).unwrap().to_unsigned(CHAIN);
    let with = |edit: &dyn Fn(&mut tessera_eth::RpcTx)| {
        let mut t = RpcTx::from_json(&object).unwrap();
        edit(&mut t);
        t.to_unsigned(CHAIN)
    };
    let eve = tessera_eth::parse_address(EVE).unwrap();
    let honest_fees = honest.fees();

    // What a compromised coordinator might hand the signers instead, each refused by name
    // before any round or session is used.
    let lies: Vec<(&str, UnsignedTx)> = vec![
        ("wrong_recipient", with(&|t| t.to = Some(eve))),
        (
            "wrong_amount",
            with(&|t| t.value = U256::from(1_000_000_000_000_000_000u128)),
        ),
        (
            "wrong_data",
            with(&|t| t.input = vec![0xa9, 0x05, 0x9c, 0xbb].into()),
        ),
        ("wrong_nonce", with(&|t| t.nonce = 6)),
        (
            "wrong_fees",
            honest.with_fees(&TxFees {
                max_fee_per_gas: 200 * GWEI,
                ..honest_fees
            }),
        ),
        (
            "wrong_fees",
            honest.with_fees(&TxFees {
                gas_limit: 1_000_000,
                ..honest_fees
            }),
        ),
        (
            "wrong_fees",
            honest.with_fees(&TxFees {
                max_priority_fee_per_gas: 2 * GWEI,
                ..honest_fees
            }),
        ),
        (
            "wrong_chain",
            RpcTx::from_json(&object).unwrap().to_unsigned(1),
        ),
    ];
    for (code, tx) in &lies {
        let e = session(&mut nodes, &[0, 1], &request, &key, Some(&tx.to_bytes())).unwrap_err();
        assert_eq!(e.code(), *code, "{e}");
    }
    // A legacy transaction, or none at all, is refused too.
    let legacy = [0xc0];
    let e = session(&mut nodes, &[0, 1], &request, &key, Some(&legacy)).unwrap_err();
    assert_eq!(e.code(), "unsupported_tx_type");
    let e = session(&mut nodes, &[0, 1], &request, &key, None).unwrap_err();
    assert_eq!(e.code(), "not_what_was_asked");
    assert_eq!(
        nodes[0].request(&request).unwrap().rounds,
        0,
        "a refused transaction uses no round"
    );

    // The honest transaction signs, and recovers to the wallet's address (k256, and the
    // transaction decoder).
    let hash = honest.signing_hash().0;
    let sig = session(
        &mut nodes,
        &[0, 2],
        &request,
        &key,
        Some(&honest.to_bytes()),
    )
    .unwrap();
    check(&group, &hash, &sig);
    let signed = honest
        .clone()
        .into_signed(
            sig[..32].try_into().unwrap(),
            sig[32..64].try_into().unwrap(),
            sig[64] == 1,
        )
        .unwrap();
    assert_eq!(signed.raw[0], 0x02);
    assert_eq!(tessera_eth::recover_sender(&signed.raw).unwrap(), from);
    // It is bound to the request, signed, in every signer's own store.
    for i in [0, 2] {
        let bound = nodes[i].signer().store().eth_txs(&request).unwrap();
        assert_eq!(bound.len(), 1);
        assert_eq!(bound[0].signing_hash, hash);
        assert!(bound[0].signature.is_some());
    }
    // Even after it, no other version signs: the client fixed every field.
    let bump = honest.with_fees(&honest_fees.bumped());
    let e = session(&mut nodes, &[1, 2], &request, &key, Some(&bump.to_bytes())).unwrap_err();
    assert_eq!(e.code(), "wrong_fees");

    // Without `chainId` the signer's own chain applies; no other.
    let mut no_chain = object.clone();
    no_chain.as_object_mut().unwrap().remove("chainId");
    no_chain["nonce"] = json!("0x8");
    let request = call(
        &mut nodes,
        &keys,
        &key,
        &rpc_body("eth_signTransaction", json!([no_chain])),
    );
    let asked = RpcTx::from_json(&no_chain).unwrap();
    let e = session(
        &mut nodes,
        &[0, 1],
        &request,
        &key,
        Some(&asked.to_unsigned(1).to_bytes()),
    )
    .unwrap_err();
    assert_eq!(e.code(), "wrong_chain");
    let tx = asked.to_unsigned(CHAIN);
    let sig = session(&mut nodes, &[0, 1], &request, &key, Some(&tx.to_bytes())).unwrap();
    check(&group, &tx.signing_hash().0, &sig);

    // Fees the client chose above a signer's cap: refused whatever the coordinator does.
    let mut greedy = object.clone();
    greedy["maxFeePerGas"] = json!(format!("{:#x}", 1_000_000 * GWEI));
    greedy["nonce"] = json!("0x9");
    let request = call(
        &mut nodes,
        &keys,
        &key,
        &rpc_body("eth_signTransaction", json!([greedy])),
    );
    let tx = RpcTx::from_json(&greedy).unwrap().to_unsigned(CHAIN);
    let e = session(&mut nodes, &[0, 1], &request, &key, Some(&tx.to_bytes())).unwrap_err();
    assert_eq!(e.code(), "fee_too_high");
}

#[test]
fn calls_a_signer_refuses_at_registration() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, key, group) = cluster(dir.path(), &keys);
    let from = address(&group);
    let object = tx_object(&from);
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut o = object.clone();
        edit(&mut o);
        rpc_body("eth_signTransaction", json!([o]))
    };
    let cases = [
        (edited(&|o| o["from"] = json!(EVE)), "wrong_account"),
        (
            edited(&|o| o["chainId"] = json!("0x1")),
            "unsupported_chain",
        ),
        (
            edited(&|o| {
                o.as_object_mut().unwrap().remove("to");
            }),
            "contract_creation_not_allowed",
        ),
        (
            edited(&|o| {
                o.as_object_mut().unwrap().remove("gas");
            }),
            "missing_field",
        ),
        (
            edited(&|o| o["gasPrice"] = json!("0x1")),
            "unsupported_tx_type",
        ),
        (
            rpc_body("eth_sign", json!([EVE, "0x68656c6c6f"])),
            "wrong_account",
        ),
        (rpc_body("eth_accounts", json!([])), "not_signable"),
        (
            rpc_body("eth_sendTransaction", json!([object])),
            "unknown_method",
        ),
    ];
    for (body, code) in &cases {
        assert_eq!(
            register_code(&mut nodes[0], &keys.trader, "trader", &key, body),
            *code,
            "{body}"
        );
    }
    // Signing methods are for traders only.
    let body = rpc_body("eth_sign", json!([tessera_eth::checksummed(&from), "0x00"]));
    assert_eq!(
        register_code(&mut nodes[0], &keys.admin, "admin-1", &key, &body),
        "forbidden"
    );
}

#[test]
fn messages_and_typed_data_sign_for_the_wallets_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, key, group) = cluster(dir.path(), &keys);
    let from = tessera_eth::checksummed(&address(&group));

    // eth_sign, with the address in lower case as some tools send it.
    let body = rpc_body("eth_sign", json!([from.to_lowercase(), "0x68656c6c6f"]));
    let request = call(&mut nodes, &keys, &key, &body);
    let sig = session(&mut nodes, &[0, 1], &request, &key, None).unwrap();
    check(
        &group,
        &tessera_eth::personal_message_hash(b"hello").0,
        &sig,
    );
    // Not as a transaction the coordinator slips in.
    let tx = RpcTx::from_json(&tx_object(&address(&group)))
        .unwrap()
        .to_unsigned(CHAIN);
    let body = rpc_body("eth_sign", json!([from, "0x01"]));
    let request = call(&mut nodes, &keys, &key, &body);
    let e = session(&mut nodes, &[0, 1], &request, &key, Some(&tx.to_bytes())).unwrap_err();
    assert_eq!(e.code(), "not_what_was_asked");

    // eth_signTypedData_v4 with the typed data as a JSON string, as MetaMask-style tools send it.
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
        "domain": {"name": "Venue", "chainId": 31337},
        "message": {"market": "ETH-PERP", "size": "5"}
    });
    let body = rpc_body("eth_signTypedData_v4", json!([from, typed.to_string()]));
    let request = call(&mut nodes, &keys, &key, &body);
    let sig = session(&mut nodes, &[1, 2], &request, &key, None).unwrap();
    check(
        &group,
        &tessera_eth::typed_data_hash(&typed).unwrap().0,
        &sig,
    );
}
