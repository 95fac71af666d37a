//! Messages between the coordinator and the signers, version 1.
//!
//! Every message is a JSON object `{"v": 1, "req": {...}}`, and every answer `{"v": 1, "ok":
//! {...}}` or `{"v": 1, "err": {"code", "message", "culprits"}}`. Binary values travel as
//! lower-case hex; their own formats are versioned by the crypto layer. A message of another
//! version is refused with `unsupported_wire_version` before anything else is read, so a node
//! never half-understands a peer from another release.

use serde::{Deserialize, Serialize};
use tessera_types::{KeyId, Scheme};

/// The version this build speaks.
pub const WIRE_VERSION: u16 = 1;

/// What the coordinator asks of a signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The signer's party, boot and keys.
    Status,
    /// A client's signed request, exactly as the API received it. The signer verifies it and
    /// records it durably before anything else can refer to it.
    Register {
        /// The client's token (compact JWS).
        token: String,
        /// The HTTP method.
        method: String,
        /// The path and query, as sent.
        path: String,
        /// The exact body bytes, hex.
        body_hex: String,
        /// The hash of the policy the coordinator pre-checked the request under: a signer
        /// enforcing another policy refuses the request (`stale_policy`) rather than answer for
        /// a decision the coordinator did not expect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy_hash: Option<String>,
    },
    /// An approver's signed verdict (`POST /v1/requests/{id}/approve` or `/reject`), exactly as
    /// the API received it: the signer verifies it and records it against the request.
    Verdict {
        /// The approver's token (compact JWS).
        token: String,
        /// The HTTP method.
        method: String,
        /// The path, as sent.
        path: String,
        /// The exact body bytes, hex.
        body_hex: String,
    },
    /// The policy this signer enforces.
    Policy,
    /// An admin's signed breaker or risk command (`POST /v1/breaker/trip`, `/v1/breaker/reset`,
    /// `POST /v1/risk`), exactly as the API received it: the signer verifies it and applies it.
    Guard {
        /// The admin's token (compact JWS).
        token: String,
        /// The HTTP method.
        method: String,
        /// The path, as sent.
        path: String,
        /// The exact body bytes, hex.
        body_hex: String,
    },
    /// A breaker trip on a signal the coordinator saw: a signer named as misbehaving, or a
    /// wallet whose balance on chain disagrees with the ledger. A trip only ever refuses more,
    /// so it needs no admin's signature.
    Signal {
        /// The wallet whose breaker trips; the deployment's when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wallet: Option<KeyId>,
        /// `misbehaving_signer` or `balance_mismatch`.
        signal: String,
        /// What was seen.
        reason: String,
    },
    /// A wallet's hot balance of an asset as the coordinator read it from the chain: what the
    /// outflow share is measured against.
    HotBalance {
        /// The wallet.
        wallet: KeyId,
        /// The asset's symbol.
        asset: String,
        /// The balance in base units, decimal digits.
        base_units: String,
        /// For the chain's native asset: how many transactions the wallet has sent on chain
        /// (its account nonce), which the signer checks against the transactions it signed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chain_nonce: Option<u64>,
    },
    /// The breakers and the risk level at this signer.
    Breakers,
    /// An admin's signed step in changing the policy (`POST /v1/policy/proposals`,
    /// `.../{hash}/approve`, `.../{hash}/apply`), exactly as the API received it.
    PolicyChange {
        /// The admin's token (compact JWS).
        token: String,
        /// The HTTP method.
        method: String,
        /// The path, as sent.
        path: String,
        /// The exact body bytes, hex.
        body_hex: String,
    },
    /// Join the key generation that registered request `request_id` asks for.
    DkgStart {
        /// The registered create-wallet request.
        request_id: String,
        /// The session.
        session: SessionSpec,
    },
    /// One round of key generation.
    DkgAdvance {
        /// The key.
        key_id: KeyId,
        /// Messages from the other parties.
        inbox: Vec<PartyMessage>,
    },
    /// Activate a finished key generation.
    Activate {
        /// The key.
        key_id: KeyId,
        /// The group key every party finished with, hex.
        group_key_hex: String,
    },
    /// Drop an unfinished or unactivated key generation.
    Abort {
        /// The key.
        key_id: KeyId,
    },
    /// Fresh nonce commitments.
    Commit {
        /// The key.
        key_id: KeyId,
        /// How many.
        count: u32,
    },
    /// A signature share for registered request `request_id`.
    Sign {
        /// The registered sign request.
        request_id: String,
        /// The key.
        key_id: KeyId,
        /// The signing package, hex.
        package_hex: String,
    },
    /// The final signature of a request: the signer checks it and then gives no more shares for
    /// the request.
    Complete {
        /// The request.
        request_id: String,
        /// The aggregated signature, hex.
        signature_hex: String,
    },
    /// The group key of a key this signer holds.
    GroupKey {
        /// The key.
        key_id: KeyId,
    },
    /// Join a threshold-ECDSA signing session for registered request `request_id`: a signing
    /// request (the signer signs the hash it registered) or a transfer (the signer decodes
    /// `unsigned_tx_hex` and checks it against the request before anything else).
    EcdsaStart {
        /// The registered request.
        request_id: String,
        /// The key.
        key_id: KeyId,
        /// The session id, 16 bytes hex.
        session_id_hex: String,
        /// The signing quorum, this signer included.
        signers: Vec<u16>,
        /// For a transfer: the unsigned EIP-1559 transaction, hex of its EIP-2718 encoding.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unsigned_tx_hex: Option<String>,
    },
    /// One round of a threshold-ECDSA signing session.
    EcdsaAdvance {
        /// The key.
        key_id: KeyId,
        /// The session id, 16 bytes hex.
        session_id_hex: String,
        /// Messages from the other signers of the session.
        inbox: Vec<PartyMessage>,
    },
    /// Up to `limit` entries of the signer's audit chain after position `after`.
    AuditPage {
        /// The position to read after (0: from the start).
        after: u64,
        /// How many at most (the signer caps it).
        limit: u32,
    },
}

impl Request {
    /// The operation's name, for logs and metrics.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Register { .. } => "register",
            Request::Verdict { .. } => "verdict",
            Request::Policy => "policy",
            Request::Guard { .. } => "guard",
            Request::Signal { .. } => "signal",
            Request::HotBalance { .. } => "hot_balance",
            Request::Breakers => "breakers",
            Request::PolicyChange { .. } => "policy_change",
            Request::DkgStart { .. } => "dkg_start",
            Request::DkgAdvance { .. } => "dkg_advance",
            Request::Activate { .. } => "activate",
            Request::Abort { .. } => "abort",
            Request::Commit { .. } => "commit",
            Request::Sign { .. } => "sign",
            Request::Complete { .. } => "complete",
            Request::GroupKey { .. } => "group_key",
            Request::EcdsaStart { .. } => "ecdsa_start",
            Request::EcdsaAdvance { .. } => "ecdsa_advance",
            Request::AuditPage { .. } => "audit_page",
        }
    }
}

/// A key generation session as the coordinator proposes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// The key to generate.
    pub key_id: KeyId,
    /// The session id, 16 bytes hex.
    pub session_id_hex: String,
    /// The scheme.
    pub scheme: Scheme,
    /// The threshold.
    pub t: u16,
    /// Every party of the key.
    pub parties: Vec<u16>,
    /// The party receiving this message.
    pub party: u16,
}

/// A protocol message to or from one party. (A list rather than a map keyed by party: JSON
/// object keys are strings, and tagged enums cannot read them back as numbers.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyMessage {
    /// The sender (in an inbox) or the recipient (in an outbox).
    pub party: u16,
    /// The payload, hex.
    pub payload_hex: String,
}

/// How a key generation step went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum WireProgress {
    /// Relay these messages, by recipient, hex.
    Send {
        /// The messages, one per recipient.
        outbox: Vec<PartyMessage>,
    },
    /// Finished with this group key (stored pending), hex.
    Done {
        /// The group key.
        group_key_hex: String,
    },
    /// A signing session finished with this signature (ECDSA: `r || s || recovery id`), hex.
    Signed {
        /// The signature.
        signature_hex: String,
    },
}

/// A signer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// Answer to [`Request::Status`].
    Status {
        /// The signer's party.
        party: u16,
        /// The signer process's boot number: it changes at every start, and nonce commitments
        /// from an earlier boot can no longer be used.
        boot: i64,
        /// The keys it holds.
        keys: Vec<KeyId>,
    },
    /// The request is registered.
    Registered {
        /// Its id.
        request_id: String,
        /// What it asks for (`create_wallet`, `sign`, `sign_typed_data`, `sign_message`,
        /// `sign_transaction`, `transfer`, `add_asset`).
        kind: String,
        /// The wallet it is about; none for `add_asset`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wallet: Option<KeyId>,
        /// The signer's ruling under its policy (`allow`, `deny`, `pending_approval`,
        /// `rejected`); absent means `allow` (requests no rule governs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ruling: Option<WireRuling>,
        /// The signer's receipt for its decision (ADR 0013); absent from older signers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<tessera_audit::Receipt>,
    },
    /// Where a request stands after an approver's verdict.
    Ruled {
        /// The request.
        request_id: String,
        /// The ruling.
        ruling: WireRuling,
        /// The signer's receipt for where the request stands now; absent from older signers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<tessera_audit::Receipt>,
    },
    /// The policy in force at this signer.
    Policy {
        /// Its version.
        version: u64,
        /// Its hash, 64 lower-case hex.
        hash: String,
        /// Its exact text, so that the coordinator pre-checks under the same policy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// A policy proposal as a signer holds it after an admin's step.
    Proposal {
        /// The proposal.
        proposal: crate::proposal::WireProposal,
    },
    /// The breakers and the risk level at a signer.
    Breakers {
        /// Every breaker that ever moved (the deployment's first); a missing one is closed.
        breakers: Vec<crate::breaker::WireBreaker>,
        /// The risk level set by hand or by a signal.
        risk: crate::breaker::WireRisk,
        /// Distinct admins whose reset requests close a tripped breaker.
        reset_quorum: u32,
    },
    /// A key generation step.
    Progress {
        /// The step.
        progress: WireProgress,
    },
    /// Done; nothing to return.
    Done,
    /// Nonce commitments, hex, with the boot they belong to.
    Commitments {
        /// The signer's boot.
        boot: i64,
        /// The commitments.
        commitments_hex: Vec<String>,
    },
    /// A signature share, hex.
    Share {
        /// The share.
        share_hex: String,
    },
    /// A group key, hex.
    GroupKey {
        /// The group key.
        group_key_hex: String,
    },
    /// A page of the signer's audit chain.
    AuditPage(crate::AuditPage),
}

/// A signer's ruling on a request, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireRuling {
    /// `allow`, `deny`, `pending_approval` or `rejected`.
    pub decision: String,
    /// Why, naming the rule or limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The policy it was ruled under, 64 hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_hash: Option<String>,
    /// The group whose approvals it needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_group: Option<String>,
    /// Approvals needed.
    #[serde(default)]
    pub approvals_needed: u32,
    /// Approvals recorded.
    #[serde(default)]
    pub approvals: u32,
}

/// A refusal or failure, from a signer or from decoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{message} ({code})")]
pub struct WireError {
    /// Stable code.
    pub code: String,
    /// What happened.
    pub message: String,
    /// Parties blamed, if any.
    #[serde(default)]
    pub culprits: Vec<u16>,
}

impl WireError {
    /// An error with no culprits.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            culprits: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct OutRequest<'a> {
    v: u16,
    req: &'a Request,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum OutReply<'a> {
    Ok(&'a Reply),
    Err(&'a WireError),
}

#[derive(Serialize)]
struct OutReplyEnvelope<'a> {
    v: u16,
    #[serde(flatten)]
    body: OutReply<'a>,
}

/// Only the version is read first: a peer from another release is refused by version, not by
/// whatever its other fields happen to look like.
#[derive(Deserialize)]
struct Version {
    v: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InRequest {
    #[serde(rename = "v")]
    _v: u16,
    req: Request,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InReply {
    #[serde(rename = "v")]
    _v: u16,
    #[serde(default)]
    ok: Option<Reply>,
    #[serde(default)]
    err: Option<WireError>,
}

fn check_version(bytes: &[u8]) -> Result<(), WireError> {
    let v: Version = serde_json::from_slice(bytes)
        .map_err(|e| WireError::new("malformed_message", format!("no message version: {e}")))?;
    if v.v != WIRE_VERSION {
        return Err(WireError::new(
            "unsupported_wire_version",
            format!(
                "message version {} is not supported; this node speaks version {WIRE_VERSION}",
                v.v
            ),
        ));
    }
    Ok(())
}

/// Encodes a request.
pub fn encode_request(req: &Request) -> Vec<u8> {
    serde_json::to_vec(&OutRequest {
        v: WIRE_VERSION,
        req,
    })
    .unwrap_or_default()
}

/// Decodes a request, refusing other versions.
pub fn decode_request(bytes: &[u8]) -> Result<Request, WireError> {
    check_version(bytes)?;
    let m: InRequest = serde_json::from_slice(bytes)
        .map_err(|e| WireError::new("malformed_message", format!("bad request: {e}")))?;
    Ok(m.req)
}

/// Encodes an answer.
pub fn encode_reply(reply: &Result<Reply, WireError>) -> Vec<u8> {
    let body = match reply {
        Ok(r) => OutReply::Ok(r),
        Err(e) => OutReply::Err(e),
    };
    serde_json::to_vec(&OutReplyEnvelope {
        v: WIRE_VERSION,
        body,
    })
    .unwrap_or_default()
}

/// Decodes an answer: the signer's reply, or its error, or a decoding error.
pub fn decode_reply(bytes: &[u8]) -> Result<Reply, WireError> {
    check_version(bytes)?;
    let m: InReply = serde_json::from_slice(bytes)
        .map_err(|e| WireError::new("malformed_message", format!("bad reply: {e}")))?;
    match (m.ok, m.err) {
        (Some(r), None) => Ok(r),
        (None, Some(e)) => Err(e),
        _ => Err(WireError::new(
            "malformed_message",
            "a reply must hold exactly one of `ok` and `err`",
        )),
    }
}

#[cfg(test)]
#[path = "msg_tests.rs"]
mod tests;
