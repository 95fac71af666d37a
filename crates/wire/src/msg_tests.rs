//! Round trips of the coordinator-signer messages.

use super::*;

#[test]
fn requests_round_trip() {
    let req = Request::Sign {
        request_id: "ab".into(),
        key_id: KeyId::new("w-1").unwrap(),
        package_hex: "00".into(),
    };
    let bytes = encode_request(&req);
    assert_eq!(decode_request(&bytes).unwrap(), req);
    assert_eq!(
        decode_request(&encode_request(&Request::Status)).unwrap(),
        Request::Status
    );
}

#[test]
fn replies_and_errors_round_trip() {
    let ok = Reply::Share {
        share_hex: "0102".into(),
    };
    assert_eq!(decode_reply(&encode_reply(&Ok(ok.clone()))).unwrap(), ok);
    let mut err = WireError::new("nonce_unavailable", "gone");
    err.culprits = vec![2];
    assert_eq!(
        decode_reply(&encode_reply(&Err(err.clone()))).unwrap_err(),
        err
    );
}

#[test]
fn key_generation_messages_round_trip_inside_tagged_enums() {
    let msgs = vec![PartyMessage {
        party: 2,
        payload_hex: "ab".into(),
    }];
    let reply = Reply::Progress {
        progress: WireProgress::Send {
            outbox: msgs.clone(),
        },
    };
    assert_eq!(
        decode_reply(&encode_reply(&Ok(reply.clone()))).unwrap(),
        reply
    );
    let req = Request::DkgAdvance {
        key_id: KeyId::new("w-1").unwrap(),
        inbox: msgs,
    };
    assert_eq!(decode_request(&encode_request(&req)).unwrap(), req);
}

#[test]
fn ecdsa_sessions_round_trip() {
    let req = Request::EcdsaStart {
        request_id: "ab".into(),
        key_id: KeyId::new("w-1").unwrap(),
        session_id_hex: "00".repeat(16),
        signers: vec![1, 3],
        unsigned_tx_hex: Some("02c0".into()),
    };
    assert_eq!(decode_request(&encode_request(&req)).unwrap(), req);
    let reply = Reply::Progress {
        progress: WireProgress::Signed {
            signature_hex: "11".repeat(65),
        },
    };
    assert_eq!(
        decode_reply(&encode_reply(&Ok(reply.clone()))).unwrap(),
        reply
    );
    let asset = Reply::Registered {
        request_id: "r".into(),
        kind: "add_asset".into(),
        wallet: None,
        ruling: None,
        receipt: None,
    };
    let ruled = Reply::Ruled {
        request_id: "r".into(),
        ruling: WireRuling {
            decision: "pending_approval".into(),
            reason: Some("rule `big` needs 2 approvals from `ops`".into()),
            policy_hash: Some("ab".repeat(32)),
            approval_group: Some("ops".into()),
            approvals_needed: 2,
            approvals: 1,
        },
        receipt: None,
    };
    let policy = Reply::Policy {
        version: 3,
        hash: "cd".repeat(32),
        text: Some("version = 3\n".into()),
    };
    for reply in [asset, ruled, policy] {
        assert_eq!(
            decode_reply(&encode_reply(&Ok(reply.clone()))).unwrap(),
            reply
        );
    }
    for req in [
        Request::Verdict {
            token: "t".into(),
            method: "POST".into(),
            path: "/v1/requests/x/approve".into(),
            body_hex: String::new(),
        },
        Request::Policy,
        Request::Register {
            token: "t".into(),
            method: "POST".into(),
            path: "/v1/transfers".into(),
            body_hex: "7b7d".into(),
            policy_hash: Some("ef".repeat(32)),
        },
    ] {
        assert_eq!(decode_request(&encode_request(&req)).unwrap(), req);
    }
}

#[test]
fn other_versions_are_refused_by_version() {
    let e = decode_request(br#"{"v":2,"req":{"op":"whatever_v2_has"}}"#).unwrap_err();
    assert_eq!(e.code, "unsupported_wire_version");
    let e = decode_reply(br#"{"v":0,"ok":{"reply":"done"}}"#).unwrap_err();
    assert_eq!(e.code, "unsupported_wire_version");
    let e = decode_request(br#"{"req":{"op":"status"}}"#).unwrap_err();
    assert_eq!(e.code, "malformed_message");
}

#[test]
fn unknown_fields_and_ops_are_refused() {
    for bad in [
        &br#"{"v":1,"req":{"op":"status"},"extra":1}"#[..],
        br#"{"v":1,"req":{"op":"sign_anything"}}"#,
        br#"{"v":1,"req":{"op":"abort","key_id":"w-1","force":true}}"#,
        br#"{"v":1,"req":{"op":"abort","key_id":"W!"}}"#,
        b"not json",
    ] {
        assert_eq!(decode_request(bad).unwrap_err().code, "malformed_message");
    }
    let e = decode_reply(br#"{"v":1,"ok":{"reply":"done"},"err":{"code":"x","message":"y"}}"#)
        .unwrap_err();
    assert_eq!(e.code, "malformed_message");
}

#[test]
fn breaker_messages_round_trip() {
    for req in [
        Request::Guard {
            token: "t".into(),
            method: "POST".into(),
            path: "/v1/breaker/trip".into(),
            body_hex: String::new(),
        },
        Request::Signal {
            wallet: Some(KeyId::new("w-1").unwrap()),
            signal: "balance_mismatch".into(),
            reason: "nonce 7 on chain, 5 signed".into(),
        },
        Request::HotBalance {
            wallet: KeyId::new("w-1").unwrap(),
            asset: "ETH".into(),
            base_units: "1000".into(),
            chain_nonce: Some(3),
        },
        Request::Breakers,
    ] {
        assert_eq!(decode_request(&encode_request(&req)).unwrap(), req);
    }
    let reply = Reply::Breakers {
        breakers: vec![crate::WireBreaker {
            scope: "deployment".into(),
            state: "tripped".into(),
            reason: "by hand".into(),
            source: "admin-1".into(),
            changed_at: 5,
            reset_votes: vec!["admin-2".into()],
        }],
        risk: crate::WireRisk {
            level: "elevated".into(),
            source: "admin-1".into(),
            reason: "feed".into(),
            at: 4,
        },
        reset_quorum: 2,
    };
    assert_eq!(
        decode_reply(&encode_reply(&Ok(reply.clone()))).unwrap(),
        reply
    );
}
