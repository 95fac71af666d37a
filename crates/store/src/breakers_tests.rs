//! Breakers, reset quorums, risk and the burst counters, as a signer's store keeps them.

use super::breakers::{self, Asker, BreakerState, DEPLOYMENT, wallet_scope};
use super::tests::{booted, sign_request};
use super::*;
use crate::spend::SpendFacts;

fn admin<'a>(name: &'a str, jti: &'a str, at: i64) -> Asker<'a> {
    Asker {
        source: name,
        jti: Some(jti),
        at,
    }
}

#[test]
fn a_trip_survives_reopening_and_closes_only_on_a_quorum_of_distinct_admins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let scope = wallet_scope("w1");
    {
        let mut s = booted(&path);
        assert_eq!(s.breaker(&scope).unwrap().state, BreakerState::Closed);
        let b = s
            .trip(&scope, admin("admin-1", "j1", 10), "suspicious")
            .unwrap();
        assert_eq!(
            (b.state, b.reason.as_str()),
            (BreakerState::Tripped, "suspicious")
        );
        // A second trip keeps the first reason.
        let b = s.trip(&scope, admin("admin-2", "j2", 11), "again").unwrap();
        assert_eq!(b.reason, "suspicious");
    }
    let mut s = booted(&path);
    let b = s.breaker(&scope).unwrap();
    assert_eq!(
        (b.state, b.source.as_str()),
        (BreakerState::Tripped, "admin-1")
    );
    assert_eq!(s.breaker(DEPLOYMENT).unwrap().state, BreakerState::Closed);

    let b = s.vote_reset(&scope, admin("admin-1", "j3", 20), 2).unwrap();
    assert_eq!(
        (b.state, b.reset_votes.clone()),
        (BreakerState::Tripped, vec!["admin-1".to_owned()])
    );
    // The same admin again, with a new token: still one vote.
    let b = s.vote_reset(&scope, admin("admin-1", "j4", 21), 2).unwrap();
    assert_eq!((b.state, b.reset_votes.len()), (BreakerState::Tripped, 1));
    // A replayed token is refused and counts nothing.
    assert!(matches!(
        s.vote_reset(&scope, admin("admin-1", "j4", 22), 2),
        Err(StoreError::Replay(_))
    ));
    let b = s.vote_reset(&scope, admin("admin-2", "j5", 23), 2).unwrap();
    assert_eq!((b.state, b.changed_at), (BreakerState::Closed, 23));
    assert!(
        b.reason.contains("admin-1") && b.reason.contains("admin-2"),
        "{}",
        b.reason
    );

    // Tripped again: the votes before the reset no longer count.
    s.trip(
        &scope,
        Asker {
            source: "auto",
            jti: None,
            at: 30,
        },
        "denials",
    )
    .unwrap();
    let b = s.vote_reset(&scope, admin("admin-2", "j6", 31), 2).unwrap();
    assert_eq!(
        (b.state, b.reset_votes),
        (BreakerState::Tripped, vec!["admin-2".to_owned()])
    );
    assert_eq!(s.breakers().unwrap().len(), 1);
}

#[test]
fn the_risk_level_persists_and_only_known_levels_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    {
        let mut s = booted(&path);
        assert_eq!(s.risk().unwrap().level, "normal");
        s.set_risk("critical", admin("admin-1", "r1", 5), "feed")
            .unwrap();
        assert!(s.set_risk("panic", admin("admin-1", "r2", 6), "x").is_err());
        assert!(matches!(
            s.set_risk("normal", admin("admin-1", "r1", 7), "replayed"),
            Err(StoreError::Replay(_))
        ));
    }
    let s = booted(&path);
    let r = s.risk().unwrap();
    assert_eq!(
        (r.level.as_str(), r.source.as_str(), r.at),
        ("critical", "admin-1", 5)
    );
}

#[test]
fn denials_and_new_destinations_are_counted_in_their_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let deny = Ruling {
        decision: Decision::Deny,
        reason: Some("no rule".into()),
        policy_hash: Some([1; 32]),
        approval_group: None,
        approvals_needed: 0,
    };
    for (i, at) in [(1, 100), (2, 200), (3, 300)] {
        let mut r = sign_request(&format!("d{i}"), &format!("j{i}"), &format!("t{i}"));
        r.registered_at = at;
        s.register_request_with(&r, |_| Ok::<_, StoreError>((deny.clone(), None)))
            .unwrap();
    }
    let conn = &s.conn;
    assert_eq!(breakers::denials_in(conn, Some("k"), 150, 0).unwrap(), 2);
    assert_eq!(breakers::denials_in(conn, Some("other"), 0, 0).unwrap(), 0);
    assert_eq!(breakers::denials_in(conn, None, 0, 0).unwrap(), 3);

    for (id, to, at) in [
        ("a", "0x1", 100),
        ("b", "0x1", 400),
        ("c", "0x2", 450),
        ("d", "0x3", 500),
    ] {
        spend::record(
            conn,
            &SpendFacts {
                request_id: id.into(),
                at,
                client: "trader".into(),
                wallet: "k".into(),
                destination: Some(to.into()),
                asset: Some("ETH".into()),
                amount: Some("1".into()),
            },
        )
        .unwrap();
    }
    // 0x1 was paid before the window: only 0x2 and 0x3 are new in it.
    assert_eq!(breakers::new_destinations_in(conn, "k", 300, 0).unwrap(), 2);
    assert_eq!(
        breakers::outflow_in(conn, "k", "ETH", 400, 0).unwrap(),
        vec!["1", "1", "1"]
    );
    assert!(breakers::known_destination_in(conn, "k", "0x1").unwrap());
    assert!(!breakers::known_destination_in(conn, "k", "0x9").unwrap());
}

#[test]
fn a_reset_starts_the_bursts_afresh_even_within_the_same_second() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let pay = |s: &Store, id: &str, to: &str| {
        spend::record(
            &s.conn,
            &SpendFacts {
                request_id: id.into(),
                at: 100,
                client: "trader".into(),
                wallet: "k".into(),
                destination: Some(to.into()),
                asset: Some("ETH".into()),
                amount: Some("5".into()),
            },
        )
        .unwrap();
    };
    pay(&s, "a", "0x1");
    let scope = wallet_scope("k");
    let auto = Asker {
        source: "auto",
        jti: None,
        at: 100,
    };
    s.trip(&scope, auto, "burst").unwrap();
    for (who, jti) in [("admin-1", "x1"), ("admin-2", "x2")] {
        s.vote_reset(&scope, admin(who, jti, 100), 2).unwrap();
    }
    let b = s.breaker(&scope).unwrap();
    assert_eq!(b.state, BreakerState::Closed);
    // Everything so far happened in second 100, like the reset: none of it counts after it.
    assert_eq!(
        breakers::new_destinations_in(&s.conn, "k", 0, b.marks.spend).unwrap(),
        0
    );
    assert!(
        breakers::outflow_in(&s.conn, "k", "ETH", 0, b.marks.spend)
            .unwrap()
            .is_empty()
    );
    pay(&s, "b", "0x2");
    assert_eq!(
        breakers::new_destinations_in(&s.conn, "k", 0, b.marks.spend).unwrap(),
        1
    );
    assert_eq!(
        breakers::outflow_in(&s.conn, "k", "ETH", 0, b.marks.spend).unwrap(),
        vec!["5"]
    );
}
