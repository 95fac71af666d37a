//! Helpers shared by the integration tests.

#![allow(
    dead_code,
    reason = "each test binary uses its own subset of the helpers"
)]

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};
use serde_json::json;
use tessera_audit::{AuditKey, Entry, append, create_table};

/// A store opened the way the signer store opens its own: WAL, `synchronous=FULL`.
pub fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    create_table(&conn).unwrap();
    conn
}

pub fn key(byte: u8) -> AuditKey {
    AuditKey::from_bytes(&[byte; 32])
}

/// Appends one entry in its own IMMEDIATE transaction.
pub fn append_one(
    conn: &mut Connection,
    key: &AuditKey,
    at: i64,
    kind: &str,
    body: &serde_json::Value,
) -> Entry {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let entry = append(&tx, key, at, kind, body).unwrap();
    tx.commit().unwrap();
    entry
}

/// Appends `n` entries of assorted kinds and bodies.
pub fn fill(conn: &mut Connection, key: &AuditKey, n: u64) -> Vec<Entry> {
    const KINDS: [&str; 5] = ["request", "decision", "approval", "signature", "broadcast"];
    (0..n)
        .map(|i| {
            let kind = KINDS[usize::try_from(i).unwrap() % KINDS.len()];
            let body = json!({
                "request_id": format!("req-{i}"),
                "amount": i * 1000,
                "ratio": 0.1 + i as f64,
                "note": "naïve \"quoted\" \n line",
            });
            append_one(conn, key, 1_700_000_000 + i as i64, kind, &body)
        })
        .collect()
}
