//! Ethereum transfers end to end against a real node (anvil): `tessera dev --ethereum-rpc`, an
//! `ecdsa-secp256k1` wallet made by DKG, ETH and ERC-20 transfers through `POST /v1/transfers`,
//! confirmations, idempotency, two concurrent transfers from one wallet, fee bumping of a stuck
//! transaction, a coordinator killed mid-flight, and a reorg. Every signed transaction is
//! recovered with k256 to the wallet's public key, and the node's balances show it moved the
//! money exactly once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::eth::{
    ETHER, balance, body, eth_wallet, mine, node, quantity, receipt_of, recovers_to_wallet, rpc,
    transfer, wait_for,
};
use common::{Dev, Manual, create_wallet};
use serde_json::json;
use tessera_eth::anvil;

const ALICE: &str = "0x00000000000000000000000000000000000A11CE";
const BOB: &str = "0x0000000000000000000000000000000000000B0B";

#[test]
fn ether_and_token_transfers_confirm_on_a_real_node() {
    let Some(node) = node(&[]) else { return };
    let url = node.url();
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(
        tmp.path(),
        &[
            "--ethereum-rpc",
            &url,
            "--confirmations",
            "2",
            "--eth-poll-ms",
            "100",
        ],
    );
    assert_eq!(dev.dev_json["chain_id"], json!(anvil::DEFAULT_CHAIN_ID));
    let w = eth_wallet(&dev, "hot-eth");
    let from = w["address"].as_str().unwrap().to_owned();
    rpc(
        &url,
        "anvil_setBalance",
        json!([from, format!("{:#x}", 10 * ETHER)]),
    );

    // Bad requests are refused before anything is recorded.
    let (status, e) = transfer(&dev, &body(&w, ALICE, "ETH", "0.1234567890123456789", "k0"));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (422, Some("too_many_decimals")),
        "{e}"
    );
    let (status, e) = transfer(&dev, &body(&w, ALICE, "DOGE", "1", "k0"));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (422, Some("unknown_asset")),
        "{e}"
    );
    let (status, _) = dev.call(
        "approver-1",
        "POST",
        "/v1/transfers",
        Some(&body(&w, ALICE, "ETH", "1", "k0")),
    );
    assert_eq!(status, 403, "an approver cannot move funds");
    let frost = create_wallet(&dev, "not-eth", "frost-ed25519");
    let (status, e) = transfer(&dev, &body(&frost, ALICE, "ETH", "1", "k0"));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (422, Some("unsupported_scheme")),
        "{e}"
    );

    // Two transfers from one wallet at the same time: distinct nonces, both confirmed.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| transfer(&dev, &body(&w, ALICE, "ETH", "0.25", "pay-alice")));
        let b = s.spawn(|| transfer(&dev, &body(&w, BOB, "ETH", "1.5", "pay-bob")));
        (a.join().unwrap(), b.join().unwrap())
    });
    for (status, t) in [&a, &b] {
        assert_eq!(*status, 200, "{t}");
        assert_eq!(t["status"], "broadcast", "{t}");
        assert!(t["reason"].is_null());
        for key in ["id", "status", "reason", "tx_hash", "raw_tx"] {
            assert!(t.get(key).is_some(), "{key} in {t}");
        }
    }
    let (a, b) = (a.1, b.1);
    let mut nonces = [a["nonce"].as_u64().unwrap(), b["nonce"].as_u64().unwrap()];
    nonces.sort_unstable();
    assert_eq!(nonces, [0, 1]);
    for t in [&a, &b] {
        let d = recovers_to_wallet(t["raw_tx"].as_str().unwrap(), &w);
        assert_eq!(
            format!("0x{}", hex::encode(d.hash)),
            t["tx_hash"].as_str().unwrap()
        );
        assert_eq!(d.unsigned.chain_id(), anvil::DEFAULT_CHAIN_ID);
    }
    // Mined at once (automine), confirmed one block later.
    mine(&url, 1);
    for t in [&a, &b] {
        let done = wait_for(&dev, t["id"].as_str().unwrap(), "confirmed", |t| {
            t["status"] == "confirmed"
        });
        assert!(done["block_number"].as_u64().is_some());
    }
    assert_eq!(balance(&url, ALICE), ETHER / 4);
    assert_eq!(balance(&url, BOB), 3 * ETHER / 2);

    // The same idempotency key and body: the same transfer, nothing sent again; another body:
    // a conflict.
    let (status, again) = transfer(&dev, &body(&w, ALICE, "ETH", "0.25", "pay-alice"));
    assert_eq!(status, 200);
    assert_eq!(
        (again["id"].clone(), again["status"].clone()),
        (a["id"].clone(), json!("confirmed"))
    );
    let (status, _) = transfer(&dev, &body(&w, ALICE, "ETH", "0.26", "pay-alice"));
    assert_eq!(status, 409);
    assert_eq!(balance(&url, ALICE), ETHER / 4);
    let nonce = quantity(&rpc(
        &url,
        "eth_getTransactionCount",
        json!([from, "latest"]),
    ));
    assert_eq!(nonce, 2);

    // An ERC-20 token: deployed by one of anvil's accounts, its whole supply minted to the
    // wallet, registered by an admin, and moved by a transfer.
    let supply = tessera_eth::U256::from(1_000_000u64) * tessera_eth::U256::from(1_000_000u64);
    let data = tessera_eth::erc20::deploy_data(
        "Test USD",
        "TUSD",
        6,
        tessera_eth::parse_address(&from).unwrap(),
        supply,
    )
    .unwrap();
    let deployer = rpc(&url, "eth_accounts", json!([]))[0].clone();
    let hash = rpc(
        &url,
        "eth_sendTransaction",
        json!([{"from": deployer, "data": format!("0x{}", hex::encode(data))}]),
    );
    let receipt = receipt_of(&url, &hash);
    let contract = receipt["contractAddress"].as_str().unwrap().to_owned();
    let asset = json!({"symbol": "TUSD", "chain": "ethereum", "contract": contract, "decimals": 6});
    let (status, a) = dev.call("admin-1", "POST", "/v1/assets", Some(&asset));
    assert_eq!(status, 201, "{a}");
    let (status, _) = dev.call("admin-1", "POST", "/v1/assets", Some(&asset));
    assert_eq!(status, 200, "the same registration again");
    let clash = json!({"symbol": "TUSD", "chain": "ethereum", "contract": contract, "decimals": 8});
    let (status, e) = dev.call("admin-1", "POST", "/v1/assets", Some(&clash));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("asset_exists")),
        "{e}"
    );
    let (status, _) = dev.call("trader", "POST", "/v1/assets", Some(&asset));
    assert_eq!(status, 403, "only admins register assets");
    let (status, e) = transfer(&dev, &body(&w, ALICE, "TUSD", "1.0000001", "tok-0"));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (422, Some("too_many_decimals")),
        "{e}"
    );
    let (status, t) = transfer(&dev, &body(&w, ALICE, "TUSD", "1234.5", "tok-1"));
    assert_eq!(status, 200, "{t}");
    let d = recovers_to_wallet(t["raw_tx"].as_str().unwrap(), &w);
    assert_eq!(
        d.unsigned.to().map(|a| tessera_eth::checksummed(&a)),
        Some(tessera_eth::checksummed(
            &tessera_eth::parse_address(&contract).unwrap()
        ))
    );
    assert_eq!(d.unsigned.value(), tessera_eth::U256::ZERO);
    mine(&url, 1);
    wait_for(&dev, t["id"].as_str().unwrap(), "confirmed", |t| {
        t["status"] == "confirmed"
    });
    let call = json!([{"to": contract, "data": format!("0x70a08231{:0>64}", ALICE.trim_start_matches("0x").to_lowercase())}, "latest"]);
    assert_eq!(quantity(&rpc(&url, "eth_call", call)), 1_234_500_000);

    // More than the wallet holds: the node refuses it, the transfer fails with a reason, and
    // its nonce goes back: the next transfer takes it.
    let (status, t) = transfer(&dev, &body(&w, ALICE, "ETH", "100", "too-much"));
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["status"], "failed", "{t}");
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .starts_with("insufficient_funds"),
        "{t}"
    );
    let (status, t) = transfer(&dev, &body(&w, BOB, "ETH", "0.001", "small"));
    assert_eq!((status, t["nonce"].as_u64()), (200, Some(3)), "{t}");
    mine(&url, 1);
    wait_for(&dev, t["id"].as_str().unwrap(), "confirmed", |t| {
        t["status"] == "confirmed"
    });
    assert!(dev.stop().success());
}

#[test]
fn stuck_transactions_are_bumped_survive_a_coordinator_crash_and_a_reorg() {
    // No automine: transactions wait in the pool until the test mines.
    let Some(node) = node(&["--no-mining"]) else {
        return;
    };
    let url = node.url();
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Manual::prepare_with(
        tmp.path(),
        2,
        3,
        &[
            "--ethereum-rpc",
            &url,
            "--confirmations",
            "2",
            "--eth-poll-ms",
            "100",
            "--bump-after-secs",
            "1",
        ],
    );
    for n in 1..=3 {
        c.start_signer(n, false);
    }
    c.start_coordinator();
    let w = eth_wallet(&c, "hot-eth");
    let from = w["address"].as_str().unwrap().to_owned();
    rpc(
        &url,
        "anvil_setBalance",
        json!([from, format!("{:#x}", 10 * ETHER)]),
    );

    let (status, first) = transfer(&c, &body(&w, ALICE, "ETH", "0.5", "stuck"));
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "broadcast");
    let first_fee = recovers_to_wallet(first["raw_tx"].as_str().unwrap(), &w)
        .unsigned
        .fees()
        .max_fee_per_gas;
    let id = first["id"].as_str().unwrap().to_owned();
    // Not mined, so its fees are bumped: a new version at the same nonce, signed again.
    let bumped = wait_for(&c, &id, "bumped", |t| t["tx_hash"] != first["tx_hash"]);
    let d = recovers_to_wallet(bumped["raw_tx"].as_str().unwrap(), &w);
    assert_eq!(d.unsigned.nonce(), 0);
    assert!(d.unsigned.fees().max_fee_per_gas * 100 >= first_fee * 110);

    // The coordinator dies with the transfer in flight; a new one carries on.
    c.kill_coordinator();
    c.start_coordinator();
    let snapshot = rpc(&url, "evm_snapshot", json!([]));
    mine(&url, 1);
    let mined = wait_for(&c, &id, "mined", |t| t["block_number"].is_u64());
    assert_eq!(mined["status"], "broadcast", "one block of two: {mined}");
    let in_block = mined["tx_hash"].as_str().unwrap().to_owned();
    recovers_to_wallet(mined["raw_tx"].as_str().unwrap(), &w);

    // A reorg drops the block and, with it, the transaction: it is sent again and confirmed.
    assert_eq!(rpc(&url, "evm_revert", json!([snapshot])), json!(true));
    let resent = wait_for(&c, &id, "seen as undone", |t| t["block_number"].is_null());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = rpc(&url, "eth_getTransactionCount", json!([from, "pending"]));
        if quantity(&pending) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never sent again: {resent}");
        std::thread::sleep(Duration::from_millis(100));
    }
    mine(&url, 2);
    let done = wait_for(&c, &id, "confirmed", |t| t["status"] == "confirmed");
    recovers_to_wallet(done["raw_tx"].as_str().unwrap(), &w);
    assert_eq!(balance(&url, ALICE), ETHER / 2, "moved exactly once");
    let nonce = quantity(&rpc(
        &url,
        "eth_getTransactionCount",
        json!([from, "latest"]),
    ));
    assert_eq!(nonce, 1);
    let _ = in_block;
}
