//! The client requests a signer has verified and registered.
//!
//! A signer registers a request when it arrives, while the client's token is fresh; later key
//! generation and signing refer to the registered request only. Each key generation start and
//! each signature share opens a *round* on the request, and a request allows a bounded number of
//! rounds: enough to retry without a faulty signer, not enough to farm signatures. Once the
//! coordinator hands in the final signature, the request is complete and gives nothing more.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use tessera_types::{KeyId, Scheme};

use crate::ledger::consume_in;
use crate::rulings::{Decision, Ruling};
use crate::spend::SpendFacts;
use crate::{Store, StoreError, now};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A new wallet key.
    CreateWallet,
    /// A signature over bytes fixed by the request (for ECDSA: the 32-byte hash).
    Sign,
    /// An Ethereum transaction: a transfer, or a JSON-RPC `eth_signTransaction`; the
    /// transactions signed for it are bound in `eth_txs`.
    Transfer,
    /// A new entry in the asset registry; names no wallet.
    AddAsset,
}

impl RequestKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::CreateWallet => "create_wallet",
            RequestKind::Sign => "sign",
            RequestKind::Transfer => "transfer",
            RequestKind::AddAsset => "add_asset",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "create_wallet" => Ok(RequestKind::CreateWallet),
            "sign" => Ok(RequestKind::Sign),
            "transfer" => Ok(RequestKind::Transfer),
            "add_asset" => Ok(RequestKind::AddAsset),
            other => Err(StoreError::Corrupt(format!("request kind `{other}`"))),
        }
    }
}

/// A verified request, as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Its id, derived from the client and the token's `jti`.
    pub request_id: String,
    /// The client.
    pub client: String,
    /// The token's `jti`.
    pub jti: String,
    /// What it asks for.
    pub kind: RequestKind,
    /// The wallet it is about (for a new wallet: the id it will have); none for `add_asset`.
    pub key_id: Option<KeyId>,
    /// For a new wallet: its scheme.
    pub scheme: Option<Scheme>,
    /// For a signature: the exact bytes to sign.
    pub message: Option<Vec<u8>>,
    /// The HTTP method.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The exact body.
    pub body: Vec<u8>,
    /// The client's token, kept as evidence.
    pub token: String,
    /// The token's `iat`.
    pub issued_at: i64,
    /// The token's `exp`.
    pub expires_at: i64,
    /// When this signer registered it.
    pub registered_at: i64,
    /// Rounds opened so far.
    pub rounds: u32,
    /// The final signature, once complete.
    pub signature: Option<Vec<u8>>,
    /// What this signer decided about it when it registered it, and since (approvals).
    pub ruling: Ruling,
}

/// The round a signature opens on a request: which request, of which kind, and how many rounds
/// it may open in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundOf<'a> {
    /// The request.
    pub request_id: &'a str,
    /// Its kind, as the caller expects it.
    pub kind: RequestKind,
    /// Rounds it may open in all.
    pub max_rounds: u32,
}

/// What [`Store::register_request`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Newly registered.
    New,
    /// The same token was registered before; nothing changed.
    Again,
}

impl Store {
    /// Registers `req` durably, with the ruling it carries and nothing counted against limits.
    /// The same token again is a no-op ([`Registration::Again`]); any other token with the
    /// same client and `jti` is a replay and is refused.
    pub fn register_request(&mut self, req: &RequestRecord) -> Result<Registration, StoreError> {
        let ruling = req.ruling.clone();
        self.register_request_with(req, |_| Ok::<_, StoreError>((ruling, None)))
            .map(|(registration, _)| registration)
    }

    /// Registers `req` durably with the ruling `decide` makes, reading this store inside the
    /// same write transaction: what it reads (the limits' history) cannot change before the
    /// request and what it counts against the limits (`spend`, unless denied) are committed
    /// together. Concurrent registrations are therefore counted exactly, each once. The same
    /// token again changes nothing and returns the ruling made the first time.
    pub fn register_request_with<E>(
        &mut self,
        req: &RequestRecord,
        decide: impl FnOnce(&rusqlite::Connection) -> Result<(Ruling, Option<SpendFacts>), E>,
    ) -> Result<(Registration, Ruling), E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT token FROM requests WHERE client = ?1 AND jti = ?2",
                params![req.client, req.jti],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::from)?;
        if let Some(token) = existing {
            if token != req.token {
                return Err(StoreError::Replay(req.jti.clone()).into());
            }
            let ruling = request_in(&tx, &req.request_id)?
                .ok_or_else(|| StoreError::Replay(req.jti.clone()))?
                .ruling;
            return Ok((Registration::Again, ruling));
        }
        let events_before = crate::breakers::last_event_in(&tx)?;
        let (ruling, spend) = decide(&tx)?;
        let registered = RequestRecord {
            ruling: ruling.clone(),
            ..req.clone()
        };
        insert_in(&tx, &registered)?;
        if let Some(facts) = spend.as_ref().filter(|_| ruling.decision != Decision::Deny) {
            crate::spend::record(&tx, facts)?;
        }
        let in_force = crate::rulings::current_in(&tx)?.map(|p| p.hash);
        let body = crate::audit::request_body(&registered, in_force);
        crate::audit::append_in(&tx, self.audit.as_ref(), "request", &body)?;
        // A breaker the ruling tripped is in the chain right after the request that tripped it.
        crate::breakers::audit_events_in(&tx, self.audit.as_ref(), events_before)?;
        tx.commit().map_err(StoreError::from)?;
        Ok((Registration::New, ruling))
    }

    /// A registered request.
    pub fn request(&self, request_id: &str) -> Result<Option<RequestRecord>, StoreError> {
        request_in(&self.conn, request_id)
    }

    /// Opens a round on a registered, incomplete request of `kind` about `key_id`, durably.
    /// Returns the number of rounds opened so far, this one included.
    pub fn open_round(
        &mut self,
        request_id: &str,
        kind: RequestKind,
        key_id: &KeyId,
        max_rounds: u32,
    ) -> Result<u32, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rounds = open_round_in(&tx, request_id, kind, key_id, max_rounds)?;
        tx.commit()?;
        Ok(rounds)
    }

    /// Opens a signing round on request `request_id` and consumes the nonce it signs with, in one
    /// durable transaction: either both happen or neither does.
    pub fn consume_for_request(
        &mut self,
        round: RoundOf<'_>,
        key_id: &KeyId,
        generation: u32,
        nonce_id: &[u8; 32],
        signed_digest: &[u8; 32],
    ) -> Result<u32, StoreError> {
        let boot = self.require_boot()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rounds = open_round_in(&tx, round.request_id, round.kind, key_id, round.max_rounds)?;
        consume_in(&tx, boot, key_id, generation, nonce_id, signed_digest)?;
        let body = crate::audit::share_body(
            Some((round.request_id, rounds)),
            key_id,
            generation,
            nonce_id,
            signed_digest,
        );
        crate::audit::append_in(&tx, self.audit.as_ref(), "share", &body)?;
        tx.commit()?;
        Ok(rounds)
    }

    /// Marks a request complete with its final signature. The first signature recorded stays.
    pub fn complete_request(
        &mut self,
        request_id: &str,
        signature: &[u8],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE requests SET signature = ?2, completed_at = ?3
             WHERE request_id = ?1 AND signature IS NULL",
            params![request_id, signature, now()],
        )?;
        if changed == 0 {
            if request_in(&tx, request_id)?.is_none() {
                return Err(StoreError::NoSuchRequest(request_id.to_owned()));
            }
            return Ok(());
        }
        let body = serde_json::json!({
            "request_id": request_id,
            "signature": crate::audit::hex_of(signature),
        });
        crate::audit::append_in(&tx, self.audit.as_ref(), "signature", &body)?;
        tx.commit()?;
        Ok(())
    }
}

fn insert_in(tx: &rusqlite::Connection, req: &RequestRecord) -> Result<(), StoreError> {
    let r = &req.ruling;
    tx.execute(
        "INSERT INTO requests (request_id, client, jti, kind, key_id, scheme, message, method,
                               path, body, token, issued_at, expires_at, registered_at,
                               decision, decision_reason, policy_hash, approval_group,
                               approvals_needed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19)",
        params![
            req.request_id,
            req.client,
            req.jti,
            req.kind.as_str(),
            req.key_id.as_ref().map(KeyId::as_str),
            req.scheme.map(Scheme::name),
            req.message,
            req.method,
            req.path,
            req.body,
            req.token,
            req.issued_at,
            req.expires_at,
            req.registered_at,
            r.decision.as_str(),
            r.reason,
            r.policy_hash.as_ref().map(|h| h.as_slice()),
            r.approval_group,
            r.approvals_needed,
        ],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Replay(req.jti.clone())
        }
        other => other.into(),
    })?;
    Ok(())
}

fn open_round_in(
    tx: &rusqlite::Connection,
    request_id: &str,
    kind: RequestKind,
    key_id: &KeyId,
    max_rounds: u32,
) -> Result<u32, StoreError> {
    let req =
        request_in(tx, request_id)?.ok_or_else(|| StoreError::NoSuchRequest(request_id.into()))?;
    let closed = |reason: String| StoreError::RequestClosed {
        id: request_id.to_owned(),
        reason,
    };
    if req.kind != kind {
        return Err(closed(format!("it is a `{}` request", req.kind.as_str())));
    }
    if req.key_id.as_ref() != Some(key_id) {
        return Err(closed(match &req.key_id {
            Some(k) => format!("it is about wallet `{k}`"),
            None => "it is about no wallet".into(),
        }));
    }
    if req.signature.is_some() {
        return Err(closed("it is complete".into()));
    }
    if let Some(why) = req.ruling.refusal() {
        return Err(closed(why));
    }
    if req.rounds >= max_rounds {
        return Err(closed(format!("it has used all {max_rounds} rounds")));
    }
    let rounds = req.rounds.saturating_add(1);
    tx.execute(
        "UPDATE requests SET rounds = ?2 WHERE request_id = ?1",
        params![request_id, rounds],
    )?;
    Ok(rounds)
}

pub(crate) fn request_in(
    conn: &rusqlite::Connection,
    request_id: &str,
) -> Result<Option<RequestRecord>, StoreError> {
    let row = conn
        .query_row(
            "SELECT request_id, client, jti, kind, key_id, scheme, message, method, path, body,
                    token, issued_at, expires_at, registered_at, rounds, signature, decision,
                    decision_reason, policy_hash, approval_group, approvals_needed
             FROM requests WHERE request_id = ?1",
            params![request_id],
            |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<Vec<u8>>>(6)?,
                        r.get::<_, String>(7)?,
                    ),
                    (
                        r.get::<_, String>(8)?,
                        r.get::<_, Vec<u8>>(9)?,
                        r.get::<_, String>(10)?,
                        r.get::<_, i64>(11)?,
                        r.get::<_, i64>(12)?,
                        r.get::<_, i64>(13)?,
                        r.get::<_, u32>(14)?,
                        r.get::<_, Option<Vec<u8>>>(15)?,
                    ),
                    (
                        r.get::<_, String>(16)?,
                        r.get::<_, Option<String>>(17)?,
                        r.get::<_, Option<Vec<u8>>>(18)?,
                        r.get::<_, Option<String>>(19)?,
                        r.get::<_, u32>(20)?,
                    ),
                ))
            },
        )
        .optional()?;
    let Some((a, b, c)) = row else {
        return Ok(None);
    };
    let corrupt = |e: String| StoreError::Corrupt(e);
    Ok(Some(RequestRecord {
        request_id: a.0,
        client: a.1,
        jti: a.2,
        kind: RequestKind::parse(&a.3)?,
        key_id: a
            .4
            .map(|k| KeyId::new(&k))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        scheme: a
            .5
            .map(|s| s.parse::<Scheme>())
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        message: a.6,
        method: a.7,
        path: b.0,
        body: b.1,
        token: b.2,
        issued_at: b.3,
        expires_at: b.4,
        registered_at: b.5,
        rounds: b.6,
        signature: b.7,
        ruling: Ruling {
            decision: Decision::parse(&c.0)?,
            reason: c.1,
            policy_hash: c
                .2
                .map(|h| {
                    <[u8; 32]>::try_from(h.as_slice())
                        .map_err(|_| corrupt("policy hash is not 32 bytes".into()))
                })
                .transpose()?,
            approval_group: c.3,
            approvals_needed: c.4,
        },
    }))
}
