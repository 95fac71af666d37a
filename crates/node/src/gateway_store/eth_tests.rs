//! Tests of the coordinator's Ethereum records.

use super::super::{Begin, RequestRow};
use super::*;

fn request(id: &str) -> RequestRow {
    RequestRow {
        request_id: id.into(),
        client: "trader".into(),
        kind: "transfer".into(),
        wallet_id: "w-1".into(),
        idempotency_key: Some(id.into()),
        body_sha256: id.into(),
        method: "POST".into(),
        path: "/v1/transfers".into(),
        body: id.as_bytes().to_vec(),
        token: "t".into(),
        status: "pending".into(),
        signature: None,
        error_code: None,
        error_message: None,
        created_at: 0,
        updated_at: 0,
    }
}

fn transfer(id: &str) -> TransferRow {
    TransferRow {
        request_id: id.into(),
        wallet_id: "w-1".into(),
        to: "0x00000000000000000000000000000000000A11CE".into(),
        asset: "ETH".into(),
        amount: "1".into(),
        status: "pending_approval".into(),
        reason: None,
        nonce: None,
        unsigned_tx: None,
        tx_hash: None,
        raw_tx: None,
        last_sent_at: None,
        block_number: None,
        block_hash: None,
        created_at: 0,
        updated_at: 0,
    }
}

fn new_transfer(s: &GatewayStore, id: &str) {
    let begun = s
        .begin_transfer(&request(id), id, 100, &transfer(id))
        .unwrap();
    assert_eq!(begun, Begin::New);
}

#[test]
fn live_transfers_never_share_a_nonce_and_failed_ones_give_theirs_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = GatewayStore::open(&dir.path().join("c.sqlite")).unwrap();
    for id in ["a", "b", "c", "d"] {
        new_transfer(&s, id);
    }
    // The node counts nothing pending: a, b and c take 0, 1, 2, each once.
    let nonce = |id: &str, chain_next: u64| {
        s.assign_nonce(id, chain_next, |n| n.to_be_bytes().to_vec())
            .unwrap()
            .nonce
            .unwrap()
    };
    assert_eq!(nonce("a", 0), 0);
    assert_eq!(nonce("b", 0), 1);
    assert_eq!(nonce("a", 0), 0, "a transfer keeps its nonce");
    assert_eq!(nonce("c", 0), 2);
    // b fails before anything signed for it: its nonce is the next one given.
    s.fail_transfer("b", "insufficient_funds", "no money", true)
        .unwrap();
    assert_eq!(nonce("d", 0), 1);
    // A failure that keeps the nonce (something signed may still be mined) holds it.
    s.fail_transfer("d", "interrupted", "held", false).unwrap();
    new_transfer(&s, "e");
    assert_eq!(nonce("e", 0), 3);
    // Nonces the node has seen used are skipped.
    new_transfer(&s, "f");
    assert_eq!(nonce("f", 7), 7);
    let b = s.transfer("b").unwrap().unwrap();
    assert_eq!(b.status, "failed");
    assert_eq!(b.reason.as_deref(), Some("insufficient_funds: no money"));
    assert_eq!(s.request("b").unwrap().unwrap().status, "failed");
    // Signed versions are kept in order and the latest counts.
    s.record_signed("a", "0x01", b"u1", b"r1").unwrap();
    let t = s.record_signed("a", "0x02", b"u2", b"r2").unwrap();
    assert_eq!(
        (t.status.as_str(), t.tx_hash.as_deref()),
        ("signed", Some("0x02"))
    );
    let v: Vec<u32> = s.versions("a").unwrap().iter().map(|v| v.version).collect();
    assert_eq!(v, [1, 2]);
    assert_eq!(s.request("a").unwrap().unwrap().status, "signed");
    // Mined as its first version, then confirmed.
    s.mark_mined("a", Some(("0x01", 5, "0xb5")), Some(("confirmed", None)))
        .unwrap();
    let t = s.transfer("a").unwrap().unwrap();
    assert_eq!(
        (t.status.as_str(), t.tx_hash.as_deref(), t.raw_tx.as_deref()),
        ("confirmed", Some("0x01"), Some(&b"r1"[..]))
    );
    assert_eq!(s.transfers_in(&OPEN).unwrap().len(), 3, "c, e and f");
}

#[test]
fn an_asset_is_registered_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = GatewayStore::open(&dir.path().join("c.sqlite")).unwrap();
    let usdc = AssetRow {
        symbol: "USDC".into(),
        chain: "ethereum".into(),
        contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
        decimals: 6,
    };
    assert_eq!(s.add_asset(&usdc).unwrap(), AssetAdded::New);
    assert_eq!(s.add_asset(&usdc).unwrap(), AssetAdded::Same);
    let other = AssetRow {
        decimals: 18,
        ..usdc.clone()
    };
    assert!(matches!(
        s.add_asset(&other),
        Err(GatewayError::AssetExists(_))
    ));
    let same_contract = AssetRow {
        symbol: "USDC2".into(),
        ..usdc.clone()
    };
    assert!(matches!(
        s.add_asset(&same_contract),
        Err(GatewayError::AssetExists(_))
    ));
    assert_eq!(s.assets().unwrap(), vec![usdc]);
}
