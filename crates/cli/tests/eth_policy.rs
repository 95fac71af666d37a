//! The policy over Ethereum transfers, against a real node (anvil): a transfer to a blocked
//! destination is denied naming its rule and nothing reaches the chain; a large one waits for
//! two approvals through `POST /v1/requests/{id}/approve`, then is signed, broadcast and
//! confirmed; a rejected one never leaves (the transfer shows `denied`, its request
//! `rejected`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::Dev;
use common::eth::{
    ETHER, balance, body, eth_wallet, get_transfer, node, quantity, receipt_of, recovers_to_wallet,
    rpc, transfer, wait_for,
};
use serde_json::{Value, json};

const ALICE: &str = "0x00000000000000000000000000000000000A11CE";
const BOB: &str = "0x0000000000000000000000000000000000000B0B";
const MALLORY: &str = "0x000000000000000000000000000000000000bad0";

/// Up to 1 ETH moves at once; more waits for two of `ops`; `blocked` receives nothing.
const POLICY: &str = r#"
version = 1
[address_books]
blocked = ["0x000000000000000000000000000000000000bad0"]
[groups]
ops = ["approver-1", "approver-2", "approver-3"]
[[rules]]
name = "blocked-destinations"
kinds = ["transfer"]
to = "blocked"
action = "deny"
[[rules]]
name = "small-eth"
clients = ["trader"]
kinds = ["transfer"]
assets = ["ETH"]
max_amount = "1"
action = "allow"
[[rules]]
name = "large-eth-needs-two"
clients = ["trader"]
kinds = ["transfer"]
assets = ["ETH"]
action = { approvals = { group = "ops", count = 2 } }
"#;

/// The wallet's transaction count, mined and pending.
fn nonces(url: &str, who: &str) -> (u128, u128) {
    (
        quantity(&rpc(url, "eth_getTransactionCount", json!([who, "latest"]))),
        quantity(&rpc(
            url,
            "eth_getTransactionCount",
            json!([who, "pending"]),
        )),
    )
}

fn verdict(dev: &Dev, who: &str, id: &str, what: &str) -> (u16, Value) {
    dev.call(
        who,
        "POST",
        &format!("/v1/requests/{id}/{what}"),
        Some(&json!({})),
    )
}

/// Nothing about the transfer reached the chain.
fn never_sent(t: &Value) {
    for key in ["tx_hash", "raw_tx", "nonce", "block_number"] {
        assert!(t[key].is_null(), "{key} in {t}");
    }
}

#[test]
fn denied_and_rejected_transfers_never_leave_and_approved_ones_confirm() {
    let Some(node) = node(&[]) else { return };
    let url = node.url();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let data = tmp.path().join("dev");
    let dev = Dev::start(
        &data,
        &[
            "--ethereum-rpc",
            &url,
            "--eth-poll-ms",
            "100",
            "--policy",
            file.to_str().unwrap(),
        ],
    );
    let w = eth_wallet(&dev, "hot-eth");
    let from = w["address"].as_str().unwrap().to_owned();
    rpc(
        &url,
        "anvil_setBalance",
        json!([from, format!("{:#x}", 10 * ETHER)]),
    );

    // Denied: a blocked destination, however small. Nothing is signed or sent.
    let (status, denied) = transfer(&dev, &body(&w, MALLORY, "ETH", "0.1", "to-mallory"));
    assert_eq!(status, 200, "{denied}");
    assert_eq!(denied["status"], "denied", "{denied}");
    let reason = denied["reason"].as_str().unwrap();
    assert!(reason.contains("blocked-destinations"), "{denied}");
    never_sent(&denied);
    assert_eq!(nonces(&url, &from), (0, 0));
    assert_eq!(balance(&url, MALLORY), 0);
    // Asking again with the same idempotency key changes nothing.
    let (_, again) = transfer(&dev, &body(&w, MALLORY, "ETH", "0.1", "to-mallory"));
    assert_eq!(
        (&again["id"], &again["status"]),
        (&denied["id"], &denied["status"])
    );

    // Above 1 ETH: waits for two approvals from `ops`; nothing is sent meanwhile.
    let (status, large) = transfer(&dev, &body(&w, BOB, "ETH", "2.5", "to-bob"));
    assert_eq!(status, 200, "{large}");
    assert_eq!(large["status"], "pending_approval", "{large}");
    assert!(
        large["reason"]
            .as_str()
            .unwrap()
            .contains("large-eth-needs-two"),
        "{large}"
    );
    never_sent(&large);
    let (status, rejected) = transfer(&dev, &body(&w, ALICE, "ETH", "3", "to-alice"));
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "pending_approval", "{rejected}");
    assert_eq!(nonces(&url, &from), (0, 0));

    // One rejection ends the second: never signed, never sent, and no approval revives it.
    let rejected_id = rejected["id"].as_str().unwrap();
    let (status, v) = verdict(&dev, "approver-3", rejected_id, "reject");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "rejected", "{v}");
    let (status, e) = verdict(&dev, "approver-1", rejected_id, "approve");
    assert_eq!(status, 409, "{e}");
    let t = get_transfer(&dev, rejected_id);
    assert_eq!(t["status"], "denied", "{t}");
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("rejected by `approver-3`"),
        "{t}"
    );
    never_sent(&t);
    let (_, r) = dev.call(
        "trader",
        "GET",
        &format!("/v1/requests/{rejected_id}"),
        None,
    );
    assert_eq!(r["status"], "rejected", "{r}");

    // Two approvals release the first: signed by the signers, broadcast and confirmed.
    let large_id = large["id"].as_str().unwrap();
    let (status, v) = verdict(&dev, "approver-1", large_id, "approve");
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["approvals"].as_u64()),
        (Some("pending_approval"), Some(1)),
        "{v}"
    );
    let t = get_transfer(&dev, large_id);
    assert_eq!(t["status"], "pending_approval", "{t}");
    assert!(
        t["reason"].as_str().unwrap().contains("1 of 2 approvals"),
        "{t}"
    );
    assert_eq!(nonces(&url, &from), (0, 0));
    let (status, v) = verdict(&dev, "approver-2", large_id, "approve");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    let done = wait_for(&dev, large_id, "confirmed", |t| t["status"] == "confirmed");
    assert_eq!(done["nonce"], 0, "{done}");
    let d = recovers_to_wallet(done["raw_tx"].as_str().unwrap(), &w);
    assert_eq!(format!("0x{}", hex::encode(d.hash)), done["tx_hash"]);
    let receipt = receipt_of(&url, &done["tx_hash"]);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(balance(&url, BOB), 5 * ETHER / 2);

    // In the end one transaction left the wallet: the approved one.
    assert_eq!(nonces(&url, &from), (1, 1));
    assert_eq!(balance(&url, ALICE), 0);
    assert_eq!(balance(&url, MALLORY), 0);
    for id in [denied["id"].as_str().unwrap(), rejected_id] {
        let t = get_transfer(&dev, id);
        assert_eq!(t["status"], "denied", "{t}");
        never_sent(&t);
    }
}
