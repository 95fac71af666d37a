//! A compromised coordinator: the coordinator's (or another node's) TLS identity, talking to
//! real signer processes directly with whatever requests it likes.

use std::time::Duration;

use serde_json::json;
use tessera_crypto::{Commitment, SigningPackage};
use tessera_net::rpc::RpcClient;
use tessera_net::tls::{TlsFiles, client_config};
use tessera_types::KeyId;
use tessera_wire::{Reply, Request, WireError};

use super::Manual;

/// Connections to every signer, as some node.
pub struct Rogue {
    pub signers: Vec<RpcClient>,
}

impl Rogue {
    /// Connections to every signer, as node `identity` (its certificate from the dev PKI).
    pub fn new(c: &Manual, identity: &str) -> Rogue {
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
                    super::signer_addr(&c.dir, n).to_string(),
                    format!("signer-{n}"),
                    tls.clone(),
                    Duration::from_secs(10),
                )
            })
            .collect();
        Rogue { signers }
    }

    pub async fn call(&self, n: usize, req: &Request) -> Result<Reply, WireError> {
        let bytes = self.signers[n - 1]
            .call(tessera_wire::encode_request(req))
            .await
            .unwrap();
        tessera_wire::decode_reply(&bytes)
    }

    pub async fn raw(&self, n: usize, bytes: &[u8]) -> Result<Reply, WireError> {
        let answer = self.signers[n - 1].call(bytes.to_vec()).await.unwrap();
        tessera_wire::decode_reply(&answer)
    }

    pub async fn register(
        &self,
        n: usize,
        token: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Reply, WireError> {
        self.register_under(n, token, path, body, None).await
    }

    /// Forwards a client's request as pre-checked under the policy `policy_hash` (64 hex).
    pub async fn register_under(
        &self,
        n: usize,
        token: &str,
        path: &str,
        body: &[u8],
        policy_hash: Option<&str>,
    ) -> Result<Reply, WireError> {
        self.call(
            n,
            &Request::Register {
                token: token.to_owned(),
                method: "POST".into(),
                path: path.to_owned(),
                body_hex: hex::encode(body),
                policy_hash: policy_hash.map(str::to_owned),
            },
        )
        .await
    }

    /// Forwards an approver's verdict (`POST path` with `body`) to signer `n`.
    pub async fn verdict(
        &self,
        n: usize,
        token: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Reply, WireError> {
        self.call(
            n,
            &Request::Verdict {
                token: token.to_owned(),
                method: "POST".into(),
                path: path.to_owned(),
                body_hex: hex::encode(body),
            },
        )
        .await
    }

    pub async fn commitment(&self, n: usize, key: &KeyId) -> Commitment {
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
    pub async fn try_sign(
        &self,
        request_id: &str,
        key: &KeyId,
        message: &[u8],
    ) -> Vec<Result<Reply, WireError>> {
        self.try_sign_with(&[1, 2], request_id, key, message).await
    }

    /// Asks the signers `quorum` for shares over `message` for `request_id`.
    pub async fn try_sign_with(
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

pub fn refused(answers: &[Result<Reply, WireError>], code: &str) {
    for a in answers {
        match a {
            Err(e) => assert_eq!(e.code, code, "{e:?}"),
            Ok(r) => panic!("a signer answered {r:?} where `{code}` was expected"),
        }
    }
}

pub fn sign_body(payload: &[u8], key: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"payload_hex": hex::encode(payload), "idempotency_key": key}))
        .unwrap()
}

pub fn request_id(r: &Result<Reply, WireError>) -> String {
    match r {
        Ok(Reply::Registered { request_id, .. }) => request_id.clone(),
        other => panic!("{other:?}"),
    }
}

/// The ruling a registration or a verdict answered with.
pub fn ruling(r: &Result<Reply, WireError>) -> tessera_wire::WireRuling {
    match r {
        Ok(Reply::Registered {
            ruling: Some(ruling),
            ..
        })
        | Ok(Reply::Ruled { ruling, .. }) => ruling.clone(),
        other => panic!("{other:?}"),
    }
}
