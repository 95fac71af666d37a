//! Every change to a stored chain that verification must catch, each named at its first bad
//! entry; and the one it cannot catch alone (a cut-off tail), caught with an anchor.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

mod common;

use rusqlite::{Connection, params};
use serde_json::json;
use tessera_audit::{
    Anchor, AuditPublicKey, Body, Entry, VerifyError, head, verify, verify_with_anchors,
};

use common::{append_one, fill, key, open};

const N: u64 = 10;

fn chain() -> (tempfile::TempDir, Connection, AuditPublicKey, Vec<Entry>) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("node.sqlite"));
    let k = key(1);
    let entries = fill(&mut conn, &k, N);
    assert_eq!(verify(&conn, &k.public()).unwrap().entries, N);
    (dir, conn, k.public(), entries)
}

fn bad(result: Result<tessera_audit::Verified, VerifyError>) -> (&'static str, u64) {
    let e = result.unwrap_err();
    let b = e.bad_entry().unwrap();
    (b.what, b.seq)
}

#[test]
fn an_edited_body_is_named() {
    let (_dir, conn, public, _) = chain();
    conn.execute(
        "UPDATE audit_log SET body = ?1 WHERE seq = 4",
        params![r#"{"amount":1}"#],
    )
    .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("hash_mismatch", 4));
}

#[test]
fn an_edit_with_its_hash_recomputed_still_lacks_the_signature() {
    let (_dir, conn, public, entries) = chain();
    let mut forged = entries[6].clone();
    forged.at += 1;
    forged.hash = forged.compute_hash();
    conn.execute(
        "UPDATE audit_log SET at = ?1, hash = ?2 WHERE seq = 7",
        params![forged.at, forged.hash.as_slice()],
    )
    .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("bad_signature", 7));
}

#[test]
fn a_deleted_middle_entry_is_named() {
    let (_dir, conn, public, _) = chain();
    conn.execute("DELETE FROM audit_log WHERE seq = 5", [])
        .unwrap();
    let e = verify(&conn, &public).unwrap_err();
    assert_eq!(e.to_string(), "entry 5 is missing (the next present is 6)");
    assert_eq!(bad(Err(e)), ("missing", 5));
}

#[test]
fn a_deleted_middle_entry_renumbered_away_breaks_the_links() {
    let (_dir, conn, public, _) = chain();
    conn.execute("DELETE FROM audit_log WHERE seq = 5", [])
        .unwrap();
    conn.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 5", [])
        .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("bad_prev", 5));
}

#[test]
fn swapped_rows_are_named() {
    let (_dir, conn, public, _) = chain();
    conn.execute_batch(
        "UPDATE audit_log SET seq = -1 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = -1;",
    )
    .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("bad_prev", 3));
}

#[test]
fn a_replaced_signature_is_named() {
    let (_dir, conn, public, entries) = chain();
    // Another entry's genuine signature, then a random one.
    conn.execute(
        "UPDATE audit_log SET sig = ?1 WHERE seq = 8",
        params![entries[0].sig.as_slice()],
    )
    .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("bad_signature", 8));
    conn.execute(
        "UPDATE audit_log SET sig = ?1 WHERE seq = 8",
        params![[0x5a_u8; 64].as_slice()],
    )
    .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("bad_signature", 8));
}

#[test]
fn a_chain_signed_again_by_another_key_fails_under_the_node_key() {
    let (_dir, mut conn, public, entries) = chain();
    conn.execute("DELETE FROM audit_log", []).unwrap();
    let other = key(2);
    for e in &entries {
        append_one(
            &mut conn,
            &other,
            e.at,
            &e.kind,
            &e.body.to_value().unwrap(),
        );
    }
    assert_eq!(verify(&conn, &other.public()).unwrap().entries, N);
    assert_eq!(bad(verify(&conn, &public)), ("bad_signature", 1));
}

#[test]
fn an_unsigned_entry_added_at_the_end_is_named() {
    let (_dir, conn, public, entries) = chain();
    let last = entries.last().unwrap();
    let mut extra = Entry {
        seq: N + 1,
        at: last.at + 1,
        kind: "broadcast".into(),
        body: Body::from_value(&json!({"tx": "0xdead"})).unwrap(),
        prev: last.hash,
        hash: [0; 32],
        sig: last.sig,
    };
    extra.hash = extra.compute_hash();
    conn.execute(
        "INSERT INTO audit_log (seq, at, kind, body, prev, hash, sig)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            i64::try_from(extra.seq).unwrap(),
            extra.at,
            extra.kind,
            extra.body.as_str(),
            extra.prev.as_slice(),
            extra.hash.as_slice(),
            extra.sig.as_slice(),
        ],
    )
    .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("bad_signature", N + 1));
}

#[test]
fn a_row_of_the_wrong_shape_is_unparsable() {
    let (_dir, conn, public, _) = chain();
    conn.execute("UPDATE audit_log SET hash = x'00' WHERE seq = 2", [])
        .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("unparsable", 2));
    let (_dir, conn, public, _) = chain();
    conn.execute("UPDATE audit_log SET body = 'not json' WHERE seq = 3", [])
        .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("unparsable", 3));
    let (_dir, conn, public, _) = chain();
    conn.execute("UPDATE audit_log SET at = 'noon' WHERE seq = 6", [])
        .unwrap();
    assert_eq!(bad(verify(&conn, &public)), ("unparsable", 6));
}

/// The chain alone cannot see a cut-off tail: what is left is a valid chain. An anchor held
/// outside (a receipt's audit position) can.
#[test]
fn a_cut_off_tail_needs_an_anchor() {
    let (_dir, conn, public, entries) = chain();
    let receipt_anchor = entries.last().unwrap().anchor();
    let early_anchor = entries[2].anchor();
    conn.execute("DELETE FROM audit_log WHERE seq >= 9", [])
        .unwrap();

    let alone = verify(&conn, &public).unwrap();
    assert_eq!((alone.entries, alone.head), (8, Some(entries[7].hash)));
    assert_eq!(head(&conn).unwrap(), Some((8, entries[7].hash)));

    assert!(verify_with_anchors(&conn, &public, &[early_anchor]).is_ok());
    let e = verify_with_anchors(&conn, &public, &[early_anchor, receipt_anchor]).unwrap_err();
    assert_eq!(bad(Err(e)), ("truncated", 9));
}

/// The key holder can rewrite its own tail with valid signatures; an anchor from before shows
/// the rewrite.
#[test]
fn a_rewritten_tail_differs_from_its_anchor() {
    let (_dir, mut conn, public, entries) = chain();
    let anchor = entries[8].anchor();
    conn.execute("DELETE FROM audit_log WHERE seq >= 9", [])
        .unwrap();
    append_one(
        &mut conn,
        &key(1),
        0,
        "decision",
        &json!({"decision": "deny"}),
    );
    append_one(
        &mut conn,
        &key(1),
        0,
        "decision",
        &json!({"decision": "deny"}),
    );
    assert_eq!(verify(&conn, &public).unwrap().entries, N);
    assert_eq!(
        bad(verify_with_anchors(&conn, &public, &[anchor])),
        ("anchor_mismatch", 9)
    );
}

#[test]
fn an_empty_chain_is_position_zero() {
    let dir = tempfile::tempdir().unwrap();
    let conn = open(&dir.path().join("node.sqlite"));
    let public = key(1).public();
    let genesis = Anchor {
        seq: 0,
        hash: tessera_audit::GENESIS,
    };
    assert!(verify_with_anchors(&conn, &public, &[genesis]).is_ok());
    let other = Anchor {
        seq: 0,
        hash: [1; 32],
    };
    assert_eq!(
        bad(verify_with_anchors(&conn, &public, &[other])),
        ("anchor_mismatch", 0)
    );
}
