//! Golden files pin the formats: the entry hash and signature, the JSONL export, the receipt
//! and the key file. A change that stops old chains or receipts from verifying fails here.
//! Regenerate only on purpose, with `TESSERA_BLESS=1` (and a new format version), one test at a
//! time: `TESSERA_BLESS=1 cargo test -p tessera-audit --test golden -- --test-threads=1`.
//!
//! `golden/audit.key` is the secret of a throwaway test key, in the clear on purpose.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::fs;
use std::path::PathBuf;

use rusqlite::{Connection, TransactionBehavior};
use serde_json::json;
use tessera_audit::{
    AuditKey, AuditPublicKey, Receipt, ReceiptFields, append, create_table, export_jsonl,
    verify_jsonl,
};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name)
}

fn fixed_key() -> AuditKey {
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap();
    }
    AuditKey::from_bytes(&secret)
}

/// The fixed chain's export and a receipt for its second entry.
fn fixed_data(key: &AuditKey) -> (String, String) {
    let mut conn = Connection::open_in_memory().unwrap();
    create_table(&conn).unwrap();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let bodies = [
        (
            "request",
            json!({"request_id": "req-1", "chain": "ethereum", "to": "0x00000000000000000000000000000000000000aa", "amount": "1500000000000000000"}),
        ),
        (
            "decision",
            json!({"request_id": "req-1", "decision": "allow", "reasons": ["under daily limit"]}),
        ),
        (
            "signature",
            json!({"request_id": "req-1", "digest": "ff", "ratio": 0.25, "note": "é \"q\""}),
        ),
        ("policy_change", json!(null)),
    ];
    let mut entries = Vec::new();
    for (i, (kind, body)) in bodies.iter().enumerate() {
        let at = 1_767_225_600 + i64::try_from(i).unwrap();
        entries.push(append(&tx, key, at, kind, body).unwrap());
    }
    tx.commit().unwrap();
    let mut jsonl = Vec::new();
    export_jsonl(&conn, &mut jsonl).unwrap();
    let receipt = Receipt::sign(
        key,
        ReceiptFields {
            node: "signer-1".into(),
            request_id: "req-1".into(),
            request_hash: [0x42; 32],
            decision: "allow".into(),
            policy_hash: "0123456789abcdef".repeat(4),
            audit: entries[1].anchor(),
        },
    )
    .unwrap();
    let receipt = serde_json::to_string_pretty(&receipt).unwrap() + "\n";
    (String::from_utf8(jsonl).unwrap(), receipt)
}

#[test]
fn the_formats_are_pinned() {
    let key = fixed_key();
    let public = format!("{}\n", key.public());
    let (jsonl, receipt) = fixed_data(&key);
    if std::env::var_os("TESSERA_BLESS").is_some() {
        fs::create_dir_all(path("")).unwrap();
        for name in ["audit.key", "audit.pub", "chain.jsonl", "receipt.json"] {
            let _ = fs::remove_file(path(name));
        }
        key.write_to(path("audit.key")).unwrap();
        fs::write(path("audit.pub"), &public).unwrap();
        fs::write(path("chain.jsonl"), &jsonl).unwrap();
        fs::write(path("receipt.json"), &receipt).unwrap();
    }
    assert_eq!(fs::read_to_string(path("audit.pub")).unwrap(), public);
    assert_eq!(fs::read_to_string(path("chain.jsonl")).unwrap(), jsonl);
    assert_eq!(fs::read_to_string(path("receipt.json")).unwrap(), receipt);
}

#[test]
fn the_checked_in_data_still_verifies() {
    let public: AuditPublicKey = fs::read_to_string(path("audit.pub"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let key = AuditKey::read_from(path("audit.key")).unwrap();
    assert_eq!(key.public(), public);

    let receipt: Receipt =
        serde_json::from_str(&fs::read_to_string(path("receipt.json")).unwrap()).unwrap();
    receipt.verify(&public).unwrap();

    let jsonl = fs::read(path("chain.jsonl")).unwrap();
    let v = verify_jsonl(jsonl.as_slice(), &public, &[receipt.anchor()]).unwrap();
    assert_eq!(v.entries, 4);
}
