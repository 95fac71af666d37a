//! Rulings, verdicts, limits' history and pinned policies.

use std::sync::{Arc, Barrier};

use super::tests::{booted, sign_request};
use super::*;
use crate::spend::{SpendFacts, SpendScope};

fn facts(id: &str, amount: &str) -> SpendFacts {
    SpendFacts {
        request_id: id.into(),
        at: 100,
        client: "trader".into(),
        wallet: "k".into(),
        destination: Some("0xabc".into()),
        asset: Some("ETH".into()),
        amount: Some(amount.into()),
    }
}

fn pending(group: &str, needed: u32) -> Ruling {
    Ruling {
        decision: Decision::PendingApproval,
        reason: Some("rule `big` needs approvals".into()),
        policy_hash: Some([7; 32]),
        approval_group: Some(group.into()),
        approvals_needed: needed,
    }
}

fn verdict(request: &str, approver: &str, approve: bool, token: &str) -> Verdict {
    Verdict {
        request_id: request.into(),
        approver: approver.into(),
        approve,
        jti: format!("{approver}-{token}"),
        token: token.into(),
        method: "POST".into(),
        path: format!("/v1/requests/{request}/approve"),
        body: Vec::new(),
        at: 5,
    }
}

#[test]
fn a_ruling_and_what_it_counts_commit_together_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let r = sign_request("r1", "j1", "t1");
    let (reg, ruling) = s
        .register_request_with(&r, |_| {
            Ok::<_, StoreError>((Ruling::unruled(), Some(facts("r1", "5"))))
        })
        .unwrap();
    assert_eq!((reg, ruling.decision), (Registration::New, Decision::Allow));
    // The same token again: the first ruling, nothing counted twice, `decide` not called.
    let (reg, _) = s
        .register_request_with(&r, |_| -> Result<_, StoreError> { unreachable!() })
        .unwrap();
    assert_eq!(reg, Registration::Again);
    let rows = spend::rows(&s.conn, SpendScope::Wallet, "k", Some("ETH"), 0).unwrap();
    assert_eq!((rows.amounts, rows.requests), (vec!["5".to_owned()], 1));
    // A refusal inside `decide` registers nothing.
    let r2 = sign_request("r2", "j2", "t2");
    let refused = s.register_request_with(&r2, |_| {
        Err::<(Ruling, Option<SpendFacts>), _>(StoreError::Corrupt("no".into()))
    });
    assert!(refused.is_err());
    assert!(s.request("r2").unwrap().is_none());
    // A denied request is recorded with its reason and counts nothing.
    let denied = Ruling {
        decision: Decision::Deny,
        reason: Some("limit `eth-hourly`".into()),
        ..Ruling::unruled()
    };
    s.register_request_with(&r2, |_| {
        Ok::<_, StoreError>((denied.clone(), Some(facts("r2", "9"))))
    })
    .unwrap();
    assert_eq!(s.request("r2").unwrap().unwrap().ruling, denied);
    let rows = spend::rows(&s.conn, SpendScope::Client, "trader", Some("ETH"), 0).unwrap();
    assert_eq!(rows.requests, 1);
    // Only allowed requests open rounds.
    let k = KeyId::new("k").unwrap();
    let err = s.open_round("r2", RequestKind::Sign, &k, 3).unwrap_err();
    assert!(err.to_string().contains("denied"), "{err}");
    assert_eq!(s.open_round("r1", RequestKind::Sign, &k, 3).unwrap(), 1);
}

#[test]
fn concurrent_registrations_each_see_the_ones_before() {
    // Eight handles on one file register at once; each decides from what is counted inside
    // its own write transaction, so the running totals they saw are exactly 0, 1, ..., 7.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    drop(booted(&path));
    let barrier = Arc::new(Barrier::new(8));
    let seen: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                let path = path.clone();
                scope.spawn(move || {
                    let mut s = Store::open(&path).unwrap();
                    let id = format!("r{i}");
                    let r = sign_request(&id, &format!("j{i}"), &format!("t{i}"));
                    barrier.wait();
                    let mut before = 0;
                    s.register_request_with(&r, |conn| {
                        before =
                            spend::rows(conn, SpendScope::Wallet, "k", Some("ETH"), 0)?.requests;
                        Ok::<_, StoreError>((Ruling::unruled(), Some(facts(&id, "1"))))
                    })
                    .unwrap();
                    before
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = seen;
    seen.sort_unstable();
    assert_eq!(seen, (0..8).collect::<Vec<u64>>());
}

#[test]
fn approvals_allow_once_enough_are_in_and_one_rejection_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    for (id, jti) in [("r1", "j1"), ("r2", "j2")] {
        let r = sign_request(id, jti, jti);
        s.register_request_with(&r, |_| {
            Ok::<_, StoreError>((pending("ops", 2), Some(facts(id, "4"))))
        })
        .unwrap();
    }
    assert!(s.open_round("r1", RequestKind::Sign, &k, 3).is_err());
    let one = s.record_verdict(&verdict("r1", "a1", true, "x")).unwrap();
    assert_eq!(one.decision, Decision::PendingApproval);
    // The same token again is a no-op; another verdict by the same approver is refused.
    assert_eq!(
        s.record_verdict(&verdict("r1", "a1", true, "x")).unwrap(),
        one
    );
    let again = s
        .record_verdict(&verdict("r1", "a1", true, "y"))
        .unwrap_err();
    assert_eq!(again.code(), "request_closed");
    let two = s.record_verdict(&verdict("r1", "a2", true, "x")).unwrap();
    assert_eq!(two.decision, Decision::Allow);
    assert_eq!(s.open_round("r1", RequestKind::Sign, &k, 3).unwrap(), 1);
    // Too late to reject an allowed request.
    let late = s
        .record_verdict(&verdict("r1", "a3", false, "x"))
        .unwrap_err();
    assert_eq!(late.code(), "request_closed");
    // A rejection ends r2 and stops counting it.
    let rejected = s.record_verdict(&verdict("r2", "a3", false, "z")).unwrap();
    assert_eq!(rejected.decision, Decision::Rejected);
    assert!(s.open_round("r2", RequestKind::Sign, &k, 3).is_err());
    let rows = spend::rows(&s.conn, SpendScope::Wallet, "k", None, 0).unwrap();
    assert_eq!(rows.amounts, vec!["4".to_owned()]);
    assert_eq!(s.verdicts("r1").unwrap().len(), 2);
    // The ruling survives reopening the store.
    drop(s);
    let s = booted(&dir.path().join("s.sqlite"));
    assert_eq!(
        s.request("r1").unwrap().unwrap().ruling.decision,
        Decision::Allow
    );
}

#[test]
fn a_policy_is_pinned_and_never_replaced_by_an_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    assert!(s.current_policy().unwrap().is_none());
    s.pin_policy(&[1; 32], 1, "version = 1", "[]").unwrap();
    s.pin_policy(&[1; 32], 1, "version = 1", "[]").unwrap();
    s.pin_policy(&[2; 32], 3, "version = 3", "[\"a\"]").unwrap();
    for stale in [2, 3] {
        let err = s.pin_policy(&[9; 32], stale, "old", "[]").unwrap_err();
        assert_eq!(err.code(), "stale_policy");
    }
    let current = s.current_policy().unwrap().unwrap();
    assert_eq!((current.hash, current.version), ([2; 32], 3));
    assert_eq!(s.policy(&[1; 32]).unwrap().unwrap().text, "version = 1");
}
