//! The test plays a compromised coordinator: it holds the coordinator's TLS identity and talks
//! to real signer processes directly, with forged, altered, replayed and expired requests, and
//! with packages for bytes no client asked for. It never gets a signature share; with a genuine
//! request and the exact bytes it does, so the refusals are the signers' doing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::rogue::{Rogue, refused, request_id, ruling, sign_body};
use common::{Manual, create_wallet, now, sign, token, token_with};
use serde_json::json;
use tessera_types::{KeyId, Scheme};
use tessera_wire::{PartyMessage, Reply, Request, SessionSpec, WireProgress};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromised_coordinator_gets_no_share_for_what_no_client_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Manual::prepare(tmp.path(), 2, 3);
    for n in 1..=3 {
        c.start_signer(n, false);
    }
    c.start_coordinator();
    let w = tokio::task::block_in_place(|| create_wallet(&c, "ed", "frost-ed25519"));
    let wallet = KeyId::new(w["id"].as_str().unwrap()).unwrap();
    let path = format!("/v1/wallets/{wallet}/sign");
    let rogue = Rogue::new(&c, "coordinator");
    let trader = c.key("trader");

    // Forged: a token for `trader` signed with another client's key.
    let body = sign_body(b"pay mallory 100", "f-1");
    let forged = token(&c.key("admin-1"), "trader", "POST", &path, &body, now());
    for n in 1..=3 {
        assert_eq!(
            rogue
                .register(n, &forged, &path, &body)
                .await
                .unwrap_err()
                .code,
            "bad_signature"
        );
    }

    // Altered: a genuine token for one body, sent with another.
    let genuine = sign_body(b"pay bob 1", "a-1");
    let t = token(&trader, "trader", "POST", &path, &genuine, now());
    let altered = sign_body(b"pay mallory 1000", "a-1");
    assert_eq!(
        rogue
            .register(1, &t, &path, &altered)
            .await
            .unwrap_err()
            .code,
        "request_mismatch"
    );
    let other_path = "/v1/wallets/w-00000000000000000000000000000000/sign";
    assert_eq!(
        rogue
            .register(1, &t, other_path, &genuine)
            .await
            .unwrap_err()
            .code,
        "request_mismatch"
    );

    // Expired: a genuine token, two minutes old.
    let old = sign_body(b"pay bob 2", "e-1");
    let expired = token_with(
        &trader,
        "trader",
        "POST",
        &path,
        &old,
        now() - 120,
        now() - 60,
        "old-jti",
    );
    assert_eq!(
        rogue
            .register(1, &expired, &path, &old)
            .await
            .unwrap_err()
            .code,
        "token_expired"
    );

    // The wrong role: an admin's genuine token for a signature.
    let admin_body = sign_body(b"pay bob 3", "r-1");
    let admin_token = token(
        &c.key("admin-1"),
        "admin-1",
        "POST",
        &path,
        &admin_body,
        now(),
    );
    assert_eq!(
        rogue
            .register(1, &admin_token, &path, &admin_body)
            .await
            .unwrap_err()
            .code,
        "forbidden"
    );

    // Unregistered requests get nothing, whatever their id.
    refused(
        &rogue
            .try_sign("0123456789abcdef0123456789abcdef", &wallet, b"pay mallory")
            .await,
        "unknown_request",
    );

    // A genuine, registered request: shares only for exactly its bytes and wallet.
    let body = sign_body(b"pay bob 4", "g-1");
    let t = token_with(
        &trader,
        "trader",
        "POST",
        &path,
        &body,
        now(),
        now() + 60,
        "g-jti",
    );
    let id = request_id(&rogue.register(1, &t, &path, &body).await);
    assert_eq!(request_id(&rogue.register(2, &t, &path, &body).await), id);
    refused(
        &rogue.try_sign(&id, &wallet, b"pay mallory 4").await,
        "not_what_was_asked",
    );
    let other = tokio::task::block_in_place(|| create_wallet(&c, "ed2", "frost-ed25519"));
    let other_wallet = KeyId::new(other["id"].as_str().unwrap()).unwrap();
    refused(
        &rogue.try_sign(&id, &other_wallet, b"pay bob 4").await,
        "not_what_was_asked",
    );

    // Positive control: the exact bytes get shares, and they make a valid signature.
    let answers = rogue.try_sign(&id, &wallet, b"pay bob 4").await;
    assert!(
        answers.iter().all(|a| matches!(a, Ok(Reply::Share { .. }))),
        "{answers:?}"
    );

    // Replayed: the same token again registers nothing new, and another genuine token that
    // reuses its jti is refused.
    assert_eq!(request_id(&rogue.register(1, &t, &path, &body).await), id);
    let reuse_body = sign_body(b"pay bob 400", "g-9");
    let reuse = token_with(
        &trader,
        "trader",
        "POST",
        &path,
        &reuse_body,
        now(),
        now() + 60,
        "g-jti",
    );
    assert_eq!(
        rogue
            .register(1, &reuse, &path, &reuse_body)
            .await
            .unwrap_err()
            .code,
        "replayed_request"
    );
    // Rounds are bounded per signer (3: the first and two retries without failed signers). A
    // coordinator rotating quorums gets at most floor(n * 3 / t) = 4 share sets for a 2-of-3
    // request, all over the request's own bytes (ADR 0008); then no quorum gives a full set.
    assert_eq!(request_id(&rogue.register(3, &t, &path, &body).await), id);
    for quorum in [[1, 3], [2, 3], [1, 2]] {
        let answers = rogue
            .try_sign_with(&quorum, &id, &wallet, b"pay bob 4")
            .await;
        assert!(
            answers.iter().all(|a| matches!(a, Ok(Reply::Share { .. }))),
            "{quorum:?}: {answers:?}"
        );
    }
    for quorum in [[1, 2], [1, 3], [2, 3]] {
        let answers = rogue
            .try_sign_with(&quorum, &id, &wallet, b"pay bob 4")
            .await;
        assert!(
            answers
                .iter()
                .any(|a| matches!(a, Err(e) if e.code == "request_closed")),
            "{quorum:?} gave a fifth share set: {answers:?}"
        );
    }
    // And a request its signers were told is complete gives nothing at all.
    let (s, done) = tokio::task::block_in_place(|| sign(&c, &w, b"pay bob 5", "g-2"));
    assert_eq!(s, 200, "{done}");
    let done_id = done["request_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    refused(
        &rogue.try_sign(&done_id, &wallet, b"pay bob 5").await,
        "request_closed",
    );

    // Not a coordinator: a signer's own certificate is refused by the other signers.
    let sibling = Rogue::new(&c, "signer-3");
    assert_eq!(
        sibling.call(1, &Request::Status).await.unwrap_err().code,
        "unauthorized_peer"
    );

    // Key generation: the messages the coordinator relays are sealed between signers. It
    // cannot read them (the session id it chose appears in no payload, though every plaintext
    // message starts with it) and cannot pass one off as another's.
    let create = serde_json::to_vec(&json!({"name": "dkg", "scheme": "frost-ed25519"})).unwrap();
    let t = token(
        &c.key("admin-1"),
        "admin-1",
        "POST",
        "/v1/wallets",
        &create,
        now(),
    );
    let mut rid = String::new();
    for n in 1..=3 {
        rid = request_id(&rogue.register(n, &t, "/v1/wallets", &create).await);
    }
    let key = KeyId::new(&format!("w-{rid}")).unwrap();
    let session_id = [0x5a_u8; 16];
    let spec = |party: u16| SessionSpec {
        key_id: key.clone(),
        session_id_hex: hex::encode(session_id),
        scheme: Scheme::FrostEd25519,
        t: 2,
        parties: vec![1, 2, 3],
        party,
    };
    let mut outboxes = BTreeMap::new();
    for n in 1..=3u16 {
        let start = Request::DkgStart {
            request_id: rid.clone(),
            session: spec(n),
        };
        match rogue.call(usize::from(n), &start).await {
            Ok(Reply::Progress {
                progress: WireProgress::Send { outbox },
            }) => {
                outboxes.insert(n, outbox);
            }
            other => panic!("{other:?}"),
        }
    }
    for out in outboxes.values() {
        for m in out {
            let bytes = hex::decode(&m.payload_hex).unwrap();
            assert!(
                !bytes.windows(16).any(|w| w == session_id),
                "a relayed message is in clear"
            );
        }
    }
    let pick = |from: u16, to: u16| {
        outboxes[&from]
            .iter()
            .find(|m| m.party == to)
            .unwrap()
            .payload_hex
            .clone()
    };
    let swapped = vec![
        PartyMessage {
            party: 2,
            payload_hex: pick(2, 1),
        },
        PartyMessage {
            party: 3,
            payload_hex: pick(3, 2),
        },
    ];
    let e = rogue
        .call(
            1,
            &Request::DkgAdvance {
                key_id: key.clone(),
                inbox: swapped,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.culprits, vec![3], "{e:?}");
    // One key generation per request: not while it runs, and not again after it was dropped.
    let again = Request::DkgStart {
        request_id: rid.clone(),
        session: spec(2),
    };
    assert_eq!(
        rogue.call(2, &again).await.unwrap_err().code,
        "session_conflict"
    );
    let abort = Request::Abort {
        key_id: key.clone(),
    };
    assert!(matches!(rogue.call(2, &abort).await, Ok(Reply::Done)));
    assert_eq!(
        rogue.call(2, &again).await.unwrap_err().code,
        "request_closed"
    );

    // A message from another protocol version is refused as such.
    let e = rogue
        .raw(1, br#"{"v":2,"req":{"op":"sign_anything"}}"#)
        .await
        .unwrap_err();
    assert_eq!(e.code, "unsupported_wire_version");
}

/// The policy of [`a_compromised_coordinator_cannot_get_past_the_policy`]: raw signing waits for
/// two approvals from `ops` (which lists an admin: only its role keeps it from approving); the
/// wallet `frozen` (whose id the test fixes by its creation token) signs nothing.
fn policy(frozen: &str) -> String {
    format!(
        r#"
version = 1
[groups]
ops = ["approver-1", "approver-2", "admin-1"]
security = ["approver-3"]
[[rules]]
name = "frozen-wallet"
wallets = ["{frozen}"]
kinds = ["raw"]
action = "deny"
[[rules]]
name = "raw-needs-two"
clients = ["trader"]
kinds = ["raw"]
action = {{ approvals = {{ group = "ops", count = 2 }} }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromised_coordinator_cannot_get_past_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    // The frozen wallet's id follows from the token that creates it (`w-` and the request id).
    let create_jti = "frozen-wallet-create";
    let frozen = format!(
        "w-{}",
        tessera_auth::RequestId::derive(&"admin-1".parse().unwrap(), create_jti)
    );
    let file = tmp.path().join("policy.toml");
    std::fs::write(&file, policy(&frozen)).unwrap();
    let policy_hash = tessera_policy::Policy::parse(&policy(&frozen))
        .unwrap()
        .hash()
        .to_string();
    let data = tmp.path().join("dev");
    let mut c = Manual::prepare_with(&data, 2, 3, &["--policy", file.to_str().unwrap()]);
    for n in 1..=3 {
        c.start_signer(n, false);
    }
    c.start_coordinator();
    let create = serde_json::to_vec(&json!({"name": "frozen", "scheme": "frost-ed25519"})).unwrap();
    let t = token_with(
        &c.key("admin-1"),
        "admin-1",
        "POST",
        "/v1/wallets",
        &create,
        now(),
        now() + 60,
        create_jti,
    );
    let (status, w) = tokio::task::block_in_place(|| {
        common::send(&c.api, "POST", "/v1/wallets", Some(&t), &create)
    });
    assert_eq!(status, 201, "{w}");
    assert_eq!(w["id"], frozen.as_str());
    let frozen = KeyId::new(&frozen).unwrap();
    let hot = tokio::task::block_in_place(|| create_wallet(&c, "hot", "frost-ed25519"));
    let hot = KeyId::new(hot["id"].as_str().unwrap()).unwrap();
    let rogue = Rogue::new(&c, "coordinator");
    let trader = c.key("trader");
    match rogue.call(1, &Request::Policy).await {
        Ok(Reply::Policy { hash, .. }) => assert_eq!(hash, policy_hash),
        other => panic!("{other:?}"),
    }

    // (a) A request the policy denies is registered as denied, and no signer opens a round for
    // it however the coordinator asks.
    let path = format!("/v1/wallets/{frozen}/sign");
    let body = sign_body(b"drain the frozen wallet", "d-1");
    let t = token(&trader, "trader", "POST", &path, &body, now());
    let mut denied = String::new();
    for n in 1..=3 {
        let r = rogue
            .register_under(n, &t, &path, &body, Some(&policy_hash))
            .await;
        let ruling = ruling(&r);
        assert_eq!(ruling.decision, "deny", "{ruling:?}");
        assert!(ruling.reason.unwrap().contains("frozen-wallet"));
        denied = request_id(&r);
    }
    for quorum in [[1, 2], [2, 3], [1, 3]] {
        refused(
            &rogue
                .try_sign_with(&quorum, &denied, &frozen, b"drain the frozen wallet")
                .await,
            "policy_denied",
        );
    }

    // A request waiting for approvals opens no round either.
    let path = format!("/v1/wallets/{hot}/sign");
    let body = sign_body(b"pay bob 10", "p-1");
    let t = token(&trader, "trader", "POST", &path, &body, now());
    let mut pending = String::new();
    for n in 1..=3 {
        let r = rogue.register(n, &t, &path, &body).await;
        let ruling = ruling(&r);
        assert_eq!(ruling.decision, "pending_approval", "{ruling:?}");
        assert_eq!(
            (ruling.approval_group.as_deref(), ruling.approvals_needed),
            (Some("ops"), 2)
        );
        pending = request_id(&r);
    }
    refused(
        &rogue.try_sign(&pending, &hot, b"pay bob 10").await,
        "approval_required",
    );
    // Another pending request, for the replayed approval below.
    let other_body = sign_body(b"pay mallory 10", "p-2");
    let t = token(&trader, "trader", "POST", &path, &other_body, now());
    let other = request_id(&rogue.register(1, &t, &path, &other_body).await);

    // (b) Forged approvals. Each one is refused, and the request still waits.
    let approve = |id: &str| format!("/v1/requests/{id}/approve");
    let empty = b"{}".as_slice();
    // An approval "by approver-1" signed with the trader's key.
    let forged = token(
        &trader,
        "approver-1",
        "POST",
        &approve(&pending),
        empty,
        now(),
    );
    let e = rogue
        .verdict(1, &forged, &approve(&pending), empty)
        .await
        .unwrap_err();
    assert_eq!(e.code, "bad_signature", "{e:?}");
    // Genuine tokens of clients that are not approvers (`admin-1` is even listed in `ops`).
    for who in ["trader", "admin-1"] {
        let t = token(&c.key(who), who, "POST", &approve(&pending), empty, now());
        let e = rogue
            .verdict(1, &t, &approve(&pending), empty)
            .await
            .unwrap_err();
        assert_eq!(e.code, "forbidden", "{who}: {e:?}");
        assert!(e.message.contains("verdicts need `approver`"), "{e:?}");
    }
    // An approver, but not of the group the ruling named.
    let t = token(
        &c.key("approver-3"),
        "approver-3",
        "POST",
        &approve(&pending),
        empty,
        now(),
    );
    let e = rogue
        .verdict(1, &t, &approve(&pending), empty)
        .await
        .unwrap_err();
    assert_eq!(e.code, "forbidden", "{e:?}");
    assert!(e.message.contains("not a member of group `ops`"), "{e:?}");
    // A genuine approval of another request, replayed onto this one.
    let t = token_with(
        &c.key("approver-1"),
        "approver-1",
        "POST",
        &approve(&other),
        empty,
        now(),
        now() + 60,
        "approval-of-other",
    );
    let r = rogue.verdict(1, &t, &approve(&other), empty).await;
    assert_eq!(ruling(&r).approvals, 1);
    let e = rogue
        .verdict(1, &t, &approve(&pending), empty)
        .await
        .unwrap_err();
    assert_eq!(e.code, "request_mismatch", "{e:?}");
    // ... and a fresh token reusing that approval's jti.
    let reused = token_with(
        &c.key("approver-1"),
        "approver-1",
        "POST",
        &approve(&pending),
        empty,
        now(),
        now() + 60,
        "approval-of-other",
    );
    let e = rogue
        .verdict(1, &reused, &approve(&pending), empty)
        .await
        .unwrap_err();
    assert_eq!(e.code, "replayed_request", "{e:?}");
    // The same genuine approval forwarded twice counts once.
    let a1 = token(
        &c.key("approver-1"),
        "approver-1",
        "POST",
        &approve(&pending),
        empty,
        now(),
    );
    for _ in 0..2 {
        let r = rogue.verdict(1, &a1, &approve(&pending), empty).await;
        let ruling = ruling(&r);
        assert_eq!(
            (ruling.decision.as_str(), ruling.approvals),
            ("pending_approval", 1)
        );
    }
    refused(
        &rogue.try_sign(&pending, &hot, b"pay bob 10").await,
        "approval_required",
    );

    // Positive control: two genuine approvals from `ops` at both signers of the quorum open it.
    let a2 = token(
        &c.key("approver-2"),
        "approver-2",
        "POST",
        &approve(&pending),
        empty,
        now(),
    );
    for n in 1..=2 {
        if n == 2 {
            ruling(&rogue.verdict(n, &a1, &approve(&pending), empty).await);
        }
        let r = rogue.verdict(n, &a2, &approve(&pending), empty).await;
        assert_eq!(ruling(&r).decision, "allow");
    }
    let answers = rogue.try_sign(&pending, &hot, b"pay bob 10").await;
    assert!(
        answers.iter().all(|a| matches!(a, Ok(Reply::Share { .. }))),
        "{answers:?}"
    );

    // (c) A request pre-checked under another policy is refused and not registered.
    let stale =
        tessera_policy::Policy::parse(&policy(frozen.as_str()).replace("count = 2", "count = 1"))
            .unwrap()
            .hash()
            .to_string();
    let body = sign_body(b"pay bob 11", "s-1");
    let t = token_with(
        &trader,
        "trader",
        "POST",
        &path,
        &body,
        now(),
        now() + 60,
        "stale-jti",
    );
    let e = rogue
        .register_under(1, &t, &path, &body, Some(&stale))
        .await
        .unwrap_err();
    assert_eq!(e.code, "stale_policy", "{e:?}");
    let id = tessera_auth::RequestId::derive(&"trader".parse().unwrap(), "stale-jti").to_string();
    refused(
        &rogue.try_sign_with(&[1], &id, &hot, b"pay bob 11").await,
        "unknown_request",
    );
    // The same request under the policy in force is ruled as that policy says.
    let r = rogue
        .register_under(1, &t, &path, &body, Some(&policy_hash))
        .await;
    assert_eq!(request_id(&r), id);
    assert_eq!(ruling(&r).decision, "pending_approval");
}
