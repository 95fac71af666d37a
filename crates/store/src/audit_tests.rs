//! The audit chain written inside the store's own transactions.

use tessera_audit::{AuditKey, verify};
use tessera_types::KeyId;

use super::tests::{booted, sign_request};
use super::*;

fn audited(path: &Path) -> (Store, tessera_audit::AuditPublicKey) {
    let mut s = booted(path);
    let key = AuditKey::from_bytes(&[5; 32]);
    let public = key.public();
    s.set_audit_key(key);
    (s, public)
}

fn kinds(s: &Store) -> Vec<String> {
    s.audit_page(0, 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn an_entry_commits_with_its_registration_and_not_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, public) = audited(&dir.path().join("s.sqlite"));
    let r = sign_request("r1", "j1", "t1");
    s.register_request(&r).unwrap();
    let entries = s.audit_page(0, 10).unwrap();
    assert_eq!(entries.len(), 1);
    let body = entries[0].body.to_value().unwrap();
    assert_eq!(entries[0].kind, "request");
    assert_eq!(body["request_id"], "r1");
    assert_eq!(body["decision"], "allow");
    assert_eq!(body["wallet"], "k");
    assert_eq!(
        body["request_hash"],
        hex(&tessera_audit::request_hash(
            "t1",
            "POST",
            "/v1/wallets/k/sign",
            b"{}"
        ))
    );

    // The same token again registers nothing and appends nothing.
    s.register_request(&r).unwrap();
    // A registration refused inside its transaction leaves no entry behind.
    let refused = s.register_request_with(&sign_request("r2", "j2", "t2"), |_| {
        Err::<(Ruling, Option<spend::SpendFacts>), _>(StoreError::Corrupt("no".into()))
    });
    assert!(refused.is_err());
    // A replayed jti with another token: refused, nothing appended.
    assert!(
        s.register_request(&sign_request("r1", "j1", "other"))
            .is_err()
    );
    assert_eq!(kinds(&s), ["request"]);

    // An entry that cannot be appended aborts the registration it records.
    s.conn
        .execute(
            "CREATE TRIGGER no_more BEFORE INSERT ON audit_log
             BEGIN SELECT RAISE(ABORT, 'audit log read-only'); END",
            [],
        )
        .unwrap();
    let e = s
        .register_request(&sign_request("r3", "j3", "t3"))
        .unwrap_err();
    assert_eq!(e.code(), "store_error", "{e}");
    assert!(s.request("r3").unwrap().is_none());
    s.conn.execute("DROP TRIGGER no_more", []).unwrap();

    assert_eq!(verify(&s.conn, &public).unwrap().entries, 1);
    let anchor = s.decision_entry("r1").unwrap().unwrap();
    assert_eq!(anchor.seq, 1);
    assert!(s.decision_entry("r2").unwrap().is_none());
}

#[test]
fn without_a_key_nothing_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    s.register_request(&sign_request("r1", "j1", "t1")).unwrap();
    s.pin_policy(&[1; 32], 1, "version = 1", "[]").unwrap();
    assert!(s.audit_head().unwrap().is_none());
    assert!(s.audit_key().is_none());
}

#[test]
fn verdicts_policies_shares_and_signatures_are_chained() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, public) = audited(&dir.path().join("s.sqlite"));
    s.pin_policy(&[1; 32], 1, "version = 1", "[]").unwrap();
    // Pinning the same policy again changes nothing and appends nothing.
    s.pin_policy(&[1; 32], 1, "version = 1", "[]").unwrap();
    let mut r = sign_request("r1", "j1", "t1");
    r.ruling = Ruling {
        decision: Decision::PendingApproval,
        reason: Some("rule `big`".into()),
        policy_hash: Some([1; 32]),
        approval_group: Some("ops".into()),
        approvals_needed: 1,
    };
    s.register_request(&r).unwrap();
    let verdict = Verdict {
        request_id: "r1".into(),
        approver: "approver-1".into(),
        approve: true,
        jti: "v1".into(),
        token: "vt".into(),
        method: "POST".into(),
        path: "/v1/requests/r1/approve".into(),
        body: b"{}".to_vec(),
        at: 3,
    };
    s.record_verdict(&verdict).unwrap();
    // The same verdict again appends nothing.
    s.record_verdict(&verdict).unwrap();

    let k = KeyId::new("k").unwrap();
    s.insert_key(&KeyRecord {
        key_id: k.clone(),
        scheme: tessera_types::Scheme::FrostEd25519,
        party: tessera_types::PartyId::new(1).unwrap(),
        threshold: tessera_types::Threshold::new(2, 3).unwrap(),
        generation: 0,
        group_key: vec![1],
        sealed_share: vec![2],
    })
    .unwrap();
    s.record_issued(&k, 0, &[[1; 32]]).unwrap();
    let round = RoundOf {
        request_id: "r1",
        kind: RequestKind::Sign,
        max_rounds: 3,
    };
    s.consume_for_request(round, &k, 0, &[1; 32], &[2; 32])
        .unwrap();
    s.complete_request("r1", b"sig").unwrap();
    s.complete_request("r1", b"sig").unwrap();
    assert_eq!(
        kinds(&s),
        ["policy_pin", "request", "verdict", "share", "signature"]
    );

    let verdict_entry = s.decision_entry("r1").unwrap().unwrap();
    assert_eq!(verdict_entry.seq, 3);
    let body = verdict_entry.body.to_value().unwrap();
    assert_eq!(body["decision"], "allow");
    assert_eq!(body["approvals"], 1);
    assert_eq!(body["policy_hash"], hex(&[1; 32]));
    assert_eq!(
        body["request_hash"],
        hex(&tessera_audit::request_hash(
            "t1",
            "POST",
            "/v1/wallets/k/sign",
            b"{}"
        )),
        "a verdict names the request it is about"
    );
    let share = &s.audit_page(3, 1).unwrap()[0];
    assert_eq!(share.body.to_value().unwrap()["round"], 1);

    let v = verify(&s.conn, &public).unwrap();
    assert_eq!(v.entries, 5);
    assert_eq!(s.audit_head().unwrap().map(|a| a.seq), Some(5));
    let mut out = Vec::new();
    assert_eq!(s.audit_export(&mut out).unwrap(), 5);
    let verified = tessera_audit::verify_jsonl(&out[..], &public, &[]).unwrap();
    assert_eq!(verified.entries, 5);
}

#[test]
fn an_unruled_request_names_the_policy_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = audited(&dir.path().join("s.sqlite"));
    s.pin_policy(&[9; 32], 4, "version = 4", "[]").unwrap();
    s.register_request(&sign_request("r1", "j1", "t1")).unwrap();
    let body = s
        .decision_entry("r1")
        .unwrap()
        .unwrap()
        .body
        .to_value()
        .unwrap();
    assert_eq!(body["ruled"], false);
    assert_eq!(body["policy_hash"], hex(&[9; 32]));
}
