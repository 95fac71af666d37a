//! The coordinator store: tokens, idempotency, durability and migrations.

use super::*;

fn row(id: &str, key: &str, body: &str) -> RequestRow {
    RequestRow {
        request_id: id.into(),
        client: "trader".into(),
        kind: "sign".into(),
        wallet_id: "w-1".into(),
        idempotency_key: Some(key.into()),
        body_sha256: body.into(),
        method: "POST".into(),
        path: "/v1/wallets/w-1/sign".into(),
        body: body.as_bytes().to_vec(),
        token: "t".into(),
        status: "pending".into(),
        signature: None,
        error_code: None,
        error_message: None,
        created_at: 0,
        updated_at: 0,
    }
}

#[test]
fn tokens_are_single_use_and_idempotency_keys_bind_their_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let s = GatewayStore::open(&path).unwrap();
    assert_eq!(
        s.begin(&row("r1", "k", "a"), "j1", 100).unwrap(),
        Begin::New
    );
    assert!(matches!(
        s.begin(&row("r2", "k2", "a"), "j1", 100),
        Err(GatewayError::Replay(_))
    ));
    assert!(matches!(
        s.use_token("trader", "j1", 100),
        Err(GatewayError::Replay(_))
    ));
    // Same key and body: the earlier request; another body: a conflict, and nothing stored.
    let Begin::Existing(earlier) = s.begin(&row("r3", "k", "a"), "j3", 100).unwrap() else {
        panic!("expected the earlier request");
    };
    assert_eq!(earlier.request_id, "r1");
    assert!(matches!(
        s.begin(&row("r4", "k", "b"), "j4", 100),
        Err(GatewayError::Conflict(_))
    ));
    assert!(s.request("r4").unwrap().is_none());
    s.signed("r1", b"sig").unwrap();
    drop(s);
    // Durable across reopening; the file is private.
    let s = GatewayStore::open(&path).unwrap();
    assert_eq!(
        s.request("r1").unwrap().unwrap().signature.as_deref(),
        Some(&b"sig"[..])
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Expired token ids are forgotten; fresh ones stay.
    s.use_token("trader", "fresh", 1_000).unwrap();
    assert_eq!(
        s.prune_tokens(500).unwrap(),
        2,
        "j1 and j3 expired at 100; j4 was never stored"
    );
    assert!(matches!(
        s.use_token("trader", "fresh", 1_000),
        Err(GatewayError::Replay(_))
    ));
}

#[test]
fn a_store_from_before_the_policy_migrates_and_keeps_its_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    {
        let old = SCHEMA.replace(
            "'failed',\n                                                 'denied', 'pending_approval', 'rejected')",
            "'failed')",
        );
        assert_ne!(old, SCHEMA, "the old CHECK is rebuilt from the current one");
        let c = Connection::open(&path).unwrap();
        c.execute_batch(&old).unwrap();
        c.execute(
            "INSERT INTO requests (request_id, client, kind, wallet_id, idempotency_key,
                 body_sha256, method, path, body, token, status, created_at, updated_at)
             VALUES ('r1', 'trader', 'sign', 'w-1', 'k', 'a', 'POST', '/v1/wallets/w-1/sign', x'7b7d', 't',
                 'pending', 1, 1)",
            [],
        )
        .unwrap();
        assert!(
            c.execute("UPDATE requests SET status = 'denied'", [])
                .is_err()
        );
    }
    let s = GatewayStore::open(&path).unwrap();
    s.ruled("r1", "denied", "policy_denied", "rule `no` denies")
        .unwrap();
    let r = s.request("r1").unwrap().unwrap();
    assert_eq!(
        (r.status.as_str(), r.idempotency_key.as_deref()),
        ("denied", Some("k"))
    );
    // The unique idempotency key survived the rebuild.
    assert!(matches!(
        s.begin(&row("r2", "k", "a"), "j2", 100).unwrap(),
        Begin::Existing(_)
    ));
    drop(s);
    GatewayStore::open(&path).unwrap();
}

#[test]
fn the_coordinator_chain_records_in_the_same_transactions_and_keeps_receipts() {
    use tessera_audit::{Anchor, AuditKey, Receipt, ReceiptFields};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let key = AuditKey::from_bytes(&[4; 32]);
    let public = key.public();
    let mut s = GatewayStore::open(&path).unwrap();
    s.set_audit_key(key);
    assert_eq!(
        s.begin(&row("r1", "k", "a"), "j1", 100).unwrap(),
        Begin::New
    );
    // A replayed token records nothing, in the chain either.
    assert!(s.begin(&row("r2", "k2", "a"), "j1", 100).is_err());
    // The same idempotency key: the earlier request, no new entry.
    s.begin(&row("r3", "k", "a"), "j3", 100).unwrap();
    s.audit_event("precheck", &serde_json::json!({"request_id": "r1"}))
        .unwrap();
    s.signed("r1", b"sig").unwrap();
    let kinds: Vec<String> = s
        .audit_page(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["request", "precheck", "signature"]);
    let first = &s.audit_page(0, 1).unwrap()[0];
    let body = first.body.to_value().unwrap();
    assert_eq!(body["request_id"], "r1");
    assert_eq!(
        body["request_hash"],
        hex::encode(tessera_audit::request_hash(
            "t",
            "POST",
            "/v1/wallets/w-1/sign",
            b"a"
        ))
    );
    assert_eq!(s.audit_head().unwrap().map(|a| a.seq), Some(3));
    drop(s);
    let c = Connection::open(&path).unwrap();
    assert_eq!(tessera_audit::verify(&c, &public).unwrap().entries, 3);
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    drop(c);

    // Receipts: the latest of each node, by node.
    let s = GatewayStore::open(&path).unwrap();
    let signer = AuditKey::from_bytes(&[6; 32]);
    let receipt = |node: &str, seq: u64, decision: &str| {
        Receipt::sign(
            &signer,
            ReceiptFields {
                node: node.into(),
                request_id: "r1".into(),
                request_hash: [1; 32],
                decision: decision.into(),
                policy_hash: "ab".repeat(32),
                audit: Anchor { seq, hash: [2; 32] },
            },
        )
        .unwrap()
    };
    s.add_receipts(&[
        receipt("signer-2", 4, "pending_approval"),
        receipt("signer-1", 3, "pending_approval"),
    ])
    .unwrap();
    s.add_receipts(&[receipt("signer-1", 9, "allow")]).unwrap();
    s.add_receipts(&[receipt("signer-1", 9, "allow")]).unwrap();
    let kept: Vec<(String, String)> = s
        .receipts("r1")
        .unwrap()
        .into_iter()
        .map(|r| (r.node, r.decision))
        .collect();
    assert_eq!(
        kept,
        [
            ("signer-1".to_owned(), "allow".to_owned()),
            ("signer-2".to_owned(), "pending_approval".to_owned())
        ]
    );
    assert!(s.receipts("other").unwrap().is_empty());
    // Without a key nothing is appended.
    s.signed("r1", b"sig").unwrap();
    assert_eq!(s.audit_head().unwrap().map(|a| a.seq), Some(3));
}
