//! Signed decision receipts, and the quorum check a client runs over them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::collections::BTreeMap;

use tessera_audit::{
    Anchor, AuditKey, AuditPublicKey, Receipt, ReceiptError, ReceiptFields, check_quorum,
};

const POLICY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_POLICY: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const REQUEST: [u8; 32] = [0xab; 32];

fn fields(node: &str, policy: &str) -> ReceiptFields {
    ReceiptFields {
        node: node.into(),
        request_id: "req-42".into(),
        request_hash: REQUEST,
        decision: "allow".into(),
        policy_hash: policy.into(),
        audit: Anchor {
            seq: 17,
            hash: [0xcd; 32],
        },
    }
}

fn nodes() -> (Vec<AuditKey>, BTreeMap<String, AuditPublicKey>) {
    let keys: Vec<AuditKey> = (1..=3).map(|b| AuditKey::from_bytes(&[b; 32])).collect();
    let map = ["a", "b", "c"]
        .iter()
        .zip(&keys)
        .map(|(n, k)| ((*n).to_owned(), k.public()))
        .collect();
    (keys, map)
}

#[test]
fn a_receipt_verifies_under_its_node_key_only() {
    let (keys, _) = nodes();
    let r = Receipt::sign(&keys[0], fields("a", POLICY)).unwrap();
    r.verify(&keys[0].public()).unwrap();
    assert_eq!(
        r.anchor(),
        Anchor {
            seq: 17,
            hash: [0xcd; 32]
        }
    );
    assert_eq!(
        r.verify(&keys[1].public()).unwrap_err(),
        ReceiptError::BadSignature("a".into())
    );

    // Every field is signed.
    let tweaks: [fn(&mut Receipt); 7] = [
        |r| r.node = "b".into(),
        |r| r.request_id = "req-43".into(),
        |r| r.request_hash[0] ^= 1,
        |r| r.decision = "deny".into(),
        |r| r.policy_hash = OTHER_POLICY.into(),
        |r| r.audit_seq += 1,
        |r| r.audit_hash[31] ^= 1,
    ];
    for tweak in tweaks {
        let mut t = r.clone();
        tweak(&mut t);
        assert_eq!(
            t.verify(&keys[0].public()).unwrap_err().code(),
            "bad_signature"
        );
    }

    // JSON round trip.
    let text = serde_json::to_string(&r).unwrap();
    let back: Receipt = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    back.verify(&keys[0].public()).unwrap();
}

#[test]
fn malformed_fields_are_refused() {
    let (keys, _) = nodes();
    let mut f = fields("a", "ABCD");
    let e = Receipt::sign(&keys[0], f.clone()).unwrap_err();
    assert_eq!(e.code(), "malformed_receipt");
    assert_eq!(
        e.to_string(),
        "receipt field `policy_hash` is not 64 lowercase hex characters"
    );
    f.policy_hash = POLICY.into();
    f.decision = "Allow".into();
    assert_eq!(
        Receipt::sign(&keys[0], f.clone()).unwrap_err().code(),
        "malformed_receipt"
    );
    f.decision = "allow".into();
    f.audit.seq = 0;
    assert_eq!(
        Receipt::sign(&keys[0], f.clone()).unwrap_err().code(),
        "malformed_receipt"
    );
    f.audit.seq = 1;
    f.node = String::new();
    assert_eq!(
        Receipt::sign(&keys[0], f).unwrap_err().code(),
        "malformed_receipt"
    );
}

#[test]
fn two_good_receipts_of_three_nodes_are_a_quorum() {
    let (keys, map) = nodes();
    let receipts = vec![
        Receipt::sign(&keys[0], fields("a", POLICY)).unwrap(),
        Receipt::sign(&keys[2], fields("c", POLICY)).unwrap(),
    ];
    let report = check_quorum(&receipts, &map, 2, &REQUEST, POLICY, "allow").unwrap();
    assert_eq!(report.nodes, ["a", "c"]);
    assert!(report.rejected.is_empty());
    let e = check_quorum(&receipts, &map, 3, &REQUEST, POLICY, "allow").unwrap_err();
    assert_eq!(e.code(), "no_quorum");
    assert_eq!(e.to_string(), "no quorum: 2 of 3 needed receipts agree");
    assert_eq!(
        check_quorum(&receipts, &map, 0, &REQUEST, POLICY, "allow")
            .unwrap_err()
            .code(),
        "bad_threshold"
    );
}

#[test]
fn forged_foreign_and_repeated_receipts_do_not_count() {
    let (keys, map) = nodes();
    let stranger = AuditKey::from_bytes(&[9; 32]);
    let good = Receipt::sign(&keys[0], fields("a", POLICY)).unwrap();
    // Node b's name, someone else's key.
    let forged = Receipt::sign(&stranger, fields("b", POLICY)).unwrap();
    let other_policy = Receipt::sign(&keys[2], fields("c", OTHER_POLICY)).unwrap();
    let unknown = Receipt::sign(&stranger, fields("d", POLICY)).unwrap();
    let mut other_request = fields("b", POLICY);
    other_request.request_hash = [0; 32];
    let other_request = Receipt::sign(&keys[1], other_request).unwrap();
    let mut denied = fields("b", POLICY);
    denied.decision = "deny".into();
    let denied = Receipt::sign(&keys[1], denied).unwrap();
    let receipts = vec![
        good.clone(),
        forged,
        other_policy,
        good,
        unknown,
        other_request,
        denied,
    ];

    let e = check_quorum(&receipts, &map, 2, &REQUEST, POLICY, "allow").unwrap_err();
    let ReceiptError::NoQuorum {
        threshold,
        counted,
        rejected,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(
        (*threshold, counted.as_slice()),
        (2, ["a".to_owned()].as_slice())
    );
    let why: Vec<(usize, &str, &str)> = rejected
        .iter()
        .map(|r| (r.index, r.node.as_str(), r.code))
        .collect();
    assert_eq!(
        why,
        [
            (1, "b", "bad_signature"),
            (2, "c", "other_policy"),
            (3, "a", "duplicate_node"),
            (4, "d", "unknown_node"),
            (5, "b", "other_request"),
            (6, "b", "other_decision"),
        ]
    );
    assert_eq!(
        e.to_string(),
        "no quorum: 1 of 2 needed receipts agree; not counted: #1 from `b` (bad_signature), \
         #2 from `c` (other_policy), #3 from `a` (duplicate_node), #4 from `d` (unknown_node), \
         #5 from `b` (other_request), #6 from `b` (other_decision)"
    );

    // One more good receipt makes the quorum; the rejects are still reported.
    let mut more = receipts;
    more.push(Receipt::sign(&keys[1], fields("b", POLICY)).unwrap());
    let report = check_quorum(&more, &map, 2, &REQUEST, POLICY, "allow").unwrap();
    assert_eq!(report.nodes, ["a", "b"]);
    assert_eq!(report.rejected.len(), 6);
}

#[test]
fn the_request_hash_follows_its_documented_layout() {
    use sha2::{Digest, Sha256};
    let mut pre = b"tessera/request/v1\0".to_vec();
    for part in [&b"tok"[..], b"POST", b"/v1/x", b"{}"] {
        pre.extend_from_slice(&(part.len() as u64).to_be_bytes());
        pre.extend_from_slice(part);
    }
    let expected: [u8; 32] = Sha256::digest(&pre).into();
    assert_eq!(
        tessera_audit::request_hash("tok", "POST", "/v1/x", b"{}"),
        expected
    );
    // Moving a byte from one part to the next changes the hash.
    assert_ne!(
        tessera_audit::request_hash("tokP", "OST", "/v1/x", b"{}"),
        expected
    );
}
