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

use common::{Manual, create_wallet, now, sign, token, token_with};
use serde_json::json;
use tessera_crypto::{Commitment, SigningPackage};
use tessera_net::rpc::RpcClient;
use tessera_net::tls::{TlsFiles, client_config};
use tessera_types::{KeyId, Scheme};
use tessera_wire::{PartyMessage, Reply, Request, SessionSpec, WireError, WireProgress};

struct Rogue {
    signers: Vec<RpcClient>,
}

impl Rogue {
    /// Connections to every signer, as node `identity` (its certificate from the dev PKI).
    fn new(c: &Manual, identity: &str) -> Rogue {
        let pki = c.dir.join("pki");
        let tls = client_config(&TlsFiles {
            ca: pki.join("ca.pem"),
            cert: pki.join(format!("{identity}.pem")),
            key: pki.join(format!("{identity}.key")),
        })
        .unwrap();
        let signers = (1..=3)
            .map(|n| {
                RpcClient::new(
                    common::signer_addr(&c.dir, n).to_string(),
                    format!("signer-{n}"),
                    tls.clone(),
                    Duration::from_secs(10),
                )
            })
            .collect();
        Rogue { signers }
    }

    async fn call(&self, n: usize, req: &Request) -> Result<Reply, WireError> {
        let bytes = self.signers[n - 1]
            .call(tessera_wire::encode_request(req))
            .await
            .unwrap();
        tessera_wire::decode_reply(&bytes)
    }

    async fn raw(&self, n: usize, bytes: &[u8]) -> Result<Reply, WireError> {
        let answer = self.signers[n - 1].call(bytes.to_vec()).await.unwrap();
        tessera_wire::decode_reply(&answer)
    }

    async fn register(
        &self,
        n: usize,
        token: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Reply, WireError> {
        self.call(
            n,
            &Request::Register {
                token: token.to_owned(),
                method: "POST".into(),
                path: path.to_owned(),
                body_hex: hex::encode(body),
                policy_hash: None,
            },
        )
        .await
    }

    async fn commitment(&self, n: usize, key: &KeyId) -> Commitment {
        match self
            .call(
                n,
                &Request::Commit {
                    key_id: key.clone(),
                    count: 1,
                },
            )
            .await
        {
            Ok(Reply::Commitments {
                commitments_hex, ..
            }) => Commitment::from_bytes(&hex::decode(&commitments_hex[0]).unwrap()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// Asks signers 1 and 2 for shares over `message` for `request_id`; returns their answers.
    async fn try_sign(
        &self,
        request_id: &str,
        key: &KeyId,
        message: &[u8],
    ) -> Vec<Result<Reply, WireError>> {
        self.try_sign_with(&[1, 2], request_id, key, message).await
    }

    /// Asks the signers `quorum` for shares over `message` for `request_id`.
    async fn try_sign_with(
        &self,
        quorum: &[usize],
        request_id: &str,
        key: &KeyId,
        message: &[u8],
    ) -> Vec<Result<Reply, WireError>> {
        let mut commitments = Vec::new();
        for n in quorum {
            commitments.push(self.commitment(*n, key).await);
        }
        let package = SigningPackage::new(message, commitments).unwrap();
        let req = Request::Sign {
            request_id: request_id.to_owned(),
            key_id: key.clone(),
            package_hex: hex::encode(package.to_bytes().unwrap()),
        };
        let mut answers = Vec::new();
        for n in quorum {
            answers.push(self.call(*n, &req).await);
        }
        answers
    }
}

fn refused(answers: &[Result<Reply, WireError>], code: &str) {
    for a in answers {
        match a {
            Err(e) => assert_eq!(e.code, code, "{e:?}"),
            Ok(r) => panic!("a signer answered {r:?} where `{code}` was expected"),
        }
    }
}

fn sign_body(payload: &[u8], key: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"payload_hex": hex::encode(payload), "idempotency_key": key}))
        .unwrap()
}

fn request_id(r: &Result<Reply, WireError>) -> String {
    match r {
        Ok(Reply::Registered { request_id, .. }) => request_id.clone(),
        other => panic!("{other:?}"),
    }
}

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
