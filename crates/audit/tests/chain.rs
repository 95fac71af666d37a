//! Appending, reading and verifying a chain in a real SQLite file, and its JSONL export.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

mod common;

use std::io::BufReader;

use rusqlite::TransactionBehavior;
use serde_json::json;
use tessera_audit::{
    Anchor, ChainVerifier, GENESIS, MAX_PAGE, append, export_jsonl, head, page, verify,
    verify_entries, verify_jsonl,
};

use common::{append_one, fill, key, open};

#[test]
fn many_entries_round_trip_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("node.sqlite"));
    let k = key(1);
    assert_eq!(head(&conn).unwrap(), None);
    let empty = verify(&conn, &k.public()).unwrap();
    assert_eq!((empty.entries, empty.head), (0, None));

    let written = fill(&mut conn, &k, 300);
    assert_eq!(written[0].seq, 1);
    assert_eq!(written[0].prev, GENESIS);
    for pair in written.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert_eq!(pair[1].prev, pair[0].hash);
    }
    let last = written.last().unwrap();
    assert_eq!(head(&conn).unwrap(), Some((300, last.hash)));

    let v = verify(&conn, &k.public()).unwrap();
    assert_eq!((v.entries, v.head), (300, Some(last.hash)));

    // Pages give back exactly what was written, body text included.
    let mut read = Vec::new();
    let mut after = 0;
    loop {
        let p = page(&conn, after, 64).unwrap();
        let Some(e) = p.last() else { break };
        after = e.seq;
        read.extend(p);
    }
    assert_eq!(read, written);
    assert_eq!(read[3].body.to_value().unwrap()["request_id"], "req-3");
    assert_eq!(verify_entries(read, &k.public(), &[]).unwrap(), v);
}

#[test]
fn a_verifier_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("node.sqlite"));
    let k = key(1);
    fill(&mut conn, &k, 20);
    let first = verify(&conn, &k.public()).unwrap();
    let from = Anchor {
        seq: first.entries,
        hash: first.head.unwrap(),
    };
    let written = fill(&mut conn, &k, 15);

    let public = k.public();
    let mut v = ChainVerifier::resume(&public, from, &[written[3].anchor()]);
    for e in page(&conn, from.seq, 100).unwrap() {
        v.push(&e).unwrap();
    }
    let all = v.finish().unwrap();
    assert_eq!(all, verify(&conn, &k.public()).unwrap());
    assert_eq!(all.entries, 35);

    let elsewhere = Anchor {
        seq: 20,
        hash: [7; 32],
    };
    let mut v = ChainVerifier::resume(&public, elsewhere, &[]);
    let e = v.push(&page(&conn, 20, 1).unwrap()[0]).unwrap_err();
    assert_eq!((e.what, e.seq), ("bad_prev", 21));

    let nothing_new = ChainVerifier::resume(&k.public(), from, &[])
        .finish()
        .unwrap();
    assert_eq!(
        (nothing_new.entries, nothing_new.head),
        (20, Some(from.hash))
    );
}

#[test]
fn pages_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("node.sqlite"));
    let k = key(1);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    for i in 0..1005 {
        append(&tx, &k, i, "risk", &json!(i)).unwrap();
    }
    tx.commit().unwrap();
    assert_eq!(page(&conn, 0, u32::MAX).unwrap().len(), MAX_PAGE as usize);
    assert_eq!(page(&conn, 1000, 1000).unwrap().len(), 5);
    assert!(page(&conn, 1005, 10).unwrap().is_empty());
    assert!(page(&conn, 0, 0).unwrap().is_empty());
}

#[test]
fn an_entry_commits_with_its_transaction_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("node.sqlite"));
    conn.execute_batch("CREATE TABLE requests (id TEXT PRIMARY KEY)")
        .unwrap();
    let k = key(1);
    fill(&mut conn, &k, 2);

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("INSERT INTO requests (id) VALUES ('r1')", [])
        .unwrap();
    let lost = append(&tx, &k, 5, "request", &json!({"id": "r1"})).unwrap();
    assert_eq!(lost.seq, 3);
    tx.rollback().unwrap();
    assert_eq!(head(&conn).unwrap().unwrap().0, 2);
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);

    let kept = append_one(&mut conn, &k, 6, "request", &json!({"id": "r2"}));
    assert_eq!(kept.seq, 3);
    assert_eq!(verify(&conn, &k.public()).unwrap().entries, 3);
}

#[test]
fn appending_needs_a_transaction_and_a_valid_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("node.sqlite"));
    let k = key(1);
    let e = append(&conn, &k, 1, "request", &json!({})).unwrap_err();
    assert_eq!(e.code(), "audit_outside_transaction");
    let tx = conn.transaction().unwrap();
    let e = append(&tx, &k, 1, "Request", &json!({})).unwrap_err();
    assert_eq!(e.code(), "bad_audit_kind");
    assert_eq!(
        e.to_string(),
        "audit entry kind `Request` is not 1 to 32 characters of `a-z` and `_`"
    );
    drop(tx);
    assert_eq!(head(&conn).unwrap(), None);
}

#[test]
fn concurrent_appenders_keep_the_chain_dense() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    drop(open(&path));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut conn = open(&path);
                let k = key(1);
                for i in 0..25 {
                    append_one(&mut conn, &k, i, "signature", &json!({"thread": t, "i": i}));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let conn = open(&path);
    assert_eq!(verify(&conn, &key(1).public()).unwrap().entries, 100);
}

#[test]
fn the_jsonl_export_verifies_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("node.sqlite"));
    let k = key(1);
    fill(&mut conn, &k, 40);
    let mut out = Vec::new();
    assert_eq!(export_jsonl(&conn, &mut out).unwrap(), 40);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 40);
    assert!(text.ends_with('\n'));

    let v = verify_jsonl(BufReader::new(text.as_bytes()), &k.public(), &[]).unwrap();
    assert_eq!(v, verify(&conn, &k.public()).unwrap());
    let wrong = verify_jsonl(text.as_bytes(), &key(2).public(), &[]).unwrap_err();
    assert_eq!(
        (wrong.code(), wrong.bad_entry().unwrap().seq),
        ("bad_signature", 1)
    );

    // The same JSON value written differently is a different body: the hash covers the text.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[9] = lines[9].replace("\"amount\":9000", "\"amount\":9000.0");
    let bad = verify_jsonl(lines.join("\n").as_bytes(), &k.public(), &[]).unwrap_err();
    assert_eq!(
        (bad.code(), bad.bad_entry().unwrap().seq),
        ("hash_mismatch", 10)
    );

    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[20] = lines[20].replace("req-20", "req-99");
    let bad = verify_jsonl(lines.join("\n").as_bytes(), &k.public(), &[]).unwrap_err();
    assert_eq!(
        (bad.code(), bad.bad_entry().unwrap().seq),
        ("hash_mismatch", 21)
    );

    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[30].truncate(25);
    let bad = verify_jsonl(lines.join("\n").as_bytes(), &k.public(), &[]).unwrap_err();
    assert_eq!(
        (bad.code(), bad.bad_entry().unwrap().seq),
        ("unparsable", 31)
    );

    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.remove(5);
    let bad = verify_jsonl(lines.join("\n").as_bytes(), &k.public(), &[]).unwrap_err();
    assert_eq!((bad.code(), bad.bad_entry().unwrap().seq), ("missing", 6));

    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.swap(11, 12);
    let bad = verify_jsonl(lines.join("\n").as_bytes(), &k.public(), &[]).unwrap_err();
    assert_eq!((bad.code(), bad.bad_entry().unwrap().seq), ("missing", 12));

    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let again = lines[14].clone();
    lines.insert(15, again);
    let bad = verify_jsonl(lines.join("\n").as_bytes(), &k.public(), &[]).unwrap_err();
    assert_eq!(
        (bad.code(), bad.bad_entry().unwrap().seq),
        ("out_of_order", 15)
    );
}
