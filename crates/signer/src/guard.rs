//! The signer node as the network sees it: nothing happens unless a client asked for it.
//!
//! The coordinator forwards each client's original signed request; [`SignerNode::register`]
//! verifies it here (the client's key as this signer knows it, method, path, body hash, expiry,
//! role), decodes what it asks for, and records it durably with its single-use token id. Key
//! generation and signing then name a registered request, and this node checks that the session
//! or the bytes to sign are exactly what that request asked for. A compromised coordinator
//! therefore gets from this node only what some client asked for, and never twice for one
//! token.

use std::collections::{BTreeMap, BTreeSet};

use tessera_auth::{ClientId, ClientRegistry, RequestId, Role, TokenPolicy};
use tessera_crypto::protocol::{Inbox, Outbox, Session, SessionId};
use tessera_crypto::{Commitment, GroupKey, SignatureShare, SigningPackage};
use tessera_policy::Policy;
use tessera_store::{AssetRecord, Registration, RequestKind, RequestRecord, RoundOf, Ruling};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};
use tessera_wire::{Chain, Intent};

use crate::eth::EthereumRules;
use crate::peer::PeerKeys;
use crate::{EcdsaProgress, Progress, Signer, SignerError};

/// What this node accepts, from its own configuration (never from the coordinator).
#[derive(Debug, Clone)]
pub struct Rules {
    /// The clients and their public keys.
    pub clients: ClientRegistry,
    /// The threshold of every new wallet key.
    pub threshold: Threshold,
    /// The parties of every new wallet key.
    pub parties: BTreeSet<PartyId>,
    /// Token lifetime and clock skew.
    pub tokens: TokenPolicy,
    /// Signing rounds one request may open: the first, and retries without a faulty signer.
    pub max_sign_rounds: u32,
    /// This signer's peer key and the other signers' public peer keys: key-generation messages
    /// are sealed between signers, so the coordinator that relays them cannot read or forge them.
    pub peers: PeerKeys,
    /// The Ethereum chain this signer signs transactions for; none: it signs no transfers.
    pub ethereum: Option<EthereumRules>,
    /// The policy of a new deployment: pinned at the first start, after which only the policy
    /// pinned in the store counts. A signer with neither refuses to start.
    pub bootstrap_policy: Option<Policy>,
}

/// A registered request, as [`SignerNode::register`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The request's id.
    pub request_id: String,
    /// What it asks for.
    pub intent: Intent,
    /// Whether it was already registered (the same token, forwarded again).
    pub again: bool,
    /// This signer's ruling on it under its policy.
    pub ruling: Ruling,
    /// Approvals recorded so far.
    pub approvals: u32,
}

/// A [`Signer`] that acts only on registered client requests.
#[derive(Debug)]
pub struct SignerNode {
    pub(crate) signer: Signer,
    pub(crate) rules: Rules,
    pub(crate) policy: Policy,
}

impl SignerNode {
    /// Wraps `signer` with `rules`, and loads the policy pinned in its store (pinning
    /// `rules.bootstrap_policy` on a new signer).
    pub fn new(mut signer: Signer, rules: Rules) -> Result<Self, SignerError> {
        let policy = Self::load_policy(signer.store_mut(), rules.bootstrap_policy.as_ref())?;
        Ok(Self {
            signer,
            rules,
            policy,
        })
    }

    /// The signer inside, for reopening it under other rules.
    pub fn into_signer(self) -> Signer {
        self.signer
    }

    /// The signer inside (read-only).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// This node's party.
    pub fn party(&self) -> PartyId {
        self.signer.party()
    }

    /// The keys this node holds.
    pub fn key_ids(&self) -> Result<Vec<KeyId>, SignerError> {
        self.signer.key_ids()
    }

    /// The current boot number.
    pub fn boot(&self) -> i64 {
        self.signer.store().boot().unwrap_or(0)
    }

    /// Verifies a client's signed request, rules on it under this signer's policy and registers
    /// it durably with its ruling. `now` is Unix seconds.
    pub fn register(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Registered, SignerError> {
        self.register_checked(token, method, path, body, now, None)
    }

    /// [`SignerNode::register`], refusing (`stale_policy`, nothing registered) when
    /// `policy_hash`, the policy the coordinator pre-checked the request under, is not the one
    /// in force here.
    pub fn register_checked(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
        policy_hash: Option<&str>,
    ) -> Result<Registered, SignerError> {
        if let Some(again) = self.registered_again(token, method, path, body)? {
            return Ok(again);
        }
        self.check_policy_hash(policy_hash)?;
        let verified = tessera_auth::verify(
            token,
            &self.rules.clients,
            method,
            path,
            body,
            now,
            &self.rules.tokens,
        )?;
        let request_id = verified.request_id.to_string();
        let intent = Intent::parse(method, path, body, &verified.request_id)?;
        let (kind, role, scheme, message) = match &intent {
            Intent::CreateWallet { wallet, scheme, .. } => {
                if self.signer.store().key(wallet)?.is_some() {
                    return Err(tessera_store::StoreError::KeyExists(wallet.clone()).into());
                }
                (RequestKind::CreateWallet, Role::Admin, Some(*scheme), None)
            }
            Intent::Sign { wallet, .. }
            | Intent::SignTypedData { wallet, .. }
            | Intent::SignMessage { wallet, .. } => {
                let rec = self
                    .signer
                    .store()
                    .key(wallet)?
                    .ok_or_else(|| SignerError::NoSuchKey(wallet.clone()))?;
                let message = intent.message_for(rec.scheme)?;
                if let Some(account) = intent.account() {
                    let key = crate::eth::key_address(&self.signer.group_key(wallet)?)?;
                    crate::eth::check_account(&key, account)?;
                }
                (RequestKind::Sign, Role::Trader, None, Some(message))
            }
            Intent::Transfer { wallet, .. } => {
                self.ethereum_wallet(wallet)?;
                // Refused now rather than at signing: an unknown asset or an amount finer than
                // the asset's decimals.
                crate::eth::requested_transfer(self.signer.store(), &self.ethereum()?, &intent)?;
                (RequestKind::Transfer, Role::Trader, None, None)
            }
            Intent::SignTransaction { wallet, from, tx } => {
                // A transaction request like a transfer: what it signs is bound in `eth_txs`.
                self.ethereum_wallet(wallet)?;
                let rules = self.ethereum()?;
                if let Some(asked) = tx.chain_id.filter(|c| *c != rules.chain_id) {
                    return Err(SignerError::Transaction {
                        code: "unsupported_chain",
                        message: format!(
                            "this signer signs for chain {}, not {asked}",
                            rules.chain_id
                        ),
                    });
                }
                let key = crate::eth::key_address(&self.signer.group_key(wallet)?)?;
                crate::eth::check_account(&key, from)?;
                (RequestKind::Transfer, Role::Trader, None, None)
            }
            Intent::AddAsset { .. } => (RequestKind::AddAsset, Role::Admin, None, None),
        };
        if verified.client.role != role {
            return Err(SignerError::Forbidden(format!(
                "client `{}` has role `{}`; `{}` requests need `{role}`",
                verified.client.id,
                verified.client.role,
                intent.kind()
            )));
        }
        let record = RequestRecord {
            request_id: request_id.clone(),
            client: verified.client.id.to_string(),
            jti: verified.claims.jti.clone(),
            kind,
            key_id: intent.wallet().cloned(),
            scheme,
            message,
            method: method.to_owned(),
            path: path.to_owned(),
            body: body.to_vec(),
            token: token.to_owned(),
            issued_at: verified.claims.iat,
            expires_at: verified.claims.exp,
            registered_at: now,
            rounds: 0,
            signature: None,
            ruling: Ruling::unruled(),
        };
        let facts = self.facts(verified.client.id.as_str(), &intent, now)?;
        let (registration, ruling) = self.register_ruled(&record, facts)?;
        self.apply(&request_id, &intent)?;
        let approvals = self.approvals(&request_id)?;
        Ok(Registered {
            request_id,
            intent,
            again: registration == Registration::Again,
            ruling,
            approvals,
        })
    }

    /// What a registered request changes by itself, without a key: a new asset. Idempotent,
    /// so a request forwarded again after a crash between registering and applying completes.
    fn apply(&mut self, request_id: &str, intent: &Intent) -> Result<(), SignerError> {
        if let Intent::AddAsset {
            symbol,
            chain,
            contract,
            decimals,
        } = intent
        {
            self.signer.store_mut().add_asset(
                &AssetRecord {
                    chain: chain.name().to_owned(),
                    symbol: symbol.clone(),
                    contract: tessera_eth::checksummed(contract).to_lowercase(),
                    decimals: *decimals,
                },
                request_id,
            )?;
        }
        Ok(())
    }

    /// `wallet` is held here and is an `ecdsa-secp256k1` wallet: one that signs transactions.
    fn ethereum_wallet(&self, wallet: &KeyId) -> Result<(), SignerError> {
        let rec = self
            .signer
            .store()
            .key(wallet)?
            .ok_or_else(|| SignerError::NoSuchKey(wallet.clone()))?;
        if rec.scheme != Scheme::EcdsaSecp256k1 {
            return Err(SignerError::Unsupported(format!(
                "`{wallet}` is a {} wallet; transactions leave `{}` wallets",
                rec.scheme,
                Scheme::EcdsaSecp256k1
            )));
        }
        Ok(())
    }

    pub(crate) fn ethereum(&self) -> Result<EthereumRules, SignerError> {
        self.rules.ethereum.ok_or_else(|| SignerError::Transaction {
            code: "chain_not_configured",
            message: format!(
                "this signer is not configured for {}",
                Chain::Ethereum.name()
            ),
        })
    }

    /// The same signed request forwarded again (a coordinator retrying, or resuming after a
    /// restart): it was verified when it was registered, and its token may have expired since,
    /// as a request may wait. Nothing is registered twice.
    fn registered_again(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Option<Registered>, SignerError> {
        let Ok((client, claims)) = tessera_auth::verify_signature_only(token, &self.rules.clients)
        else {
            return Ok(None);
        };
        let id = RequestId::derive(&client.id, &claims.jti);
        let Some(rec) = self.signer.store().request(&id.to_string())? else {
            return Ok(None);
        };
        if rec.token != token || rec.method != method || rec.path != path || rec.body != body {
            return Err(tessera_store::StoreError::Replay(claims.jti).into());
        }
        let intent = Intent::parse(method, path, body, &id)?;
        self.apply(&rec.request_id, &intent)?;
        let approvals = self.approvals(&rec.request_id)?;
        Ok(Some(Registered {
            request_id: rec.request_id,
            intent,
            again: true,
            ruling: rec.ruling,
            approvals,
        }))
    }

    /// Joins the key generation that registered request `request_id` asks for. The session must
    /// be for the wallet id, scheme, threshold and parties the request and this node's rules
    /// fix; a request starts at most one key generation.
    pub fn dkg_start(
        &mut self,
        request_id: &str,
        session: Session,
        key_id: &KeyId,
    ) -> Result<Progress, SignerError> {
        let req = self.request(request_id)?;
        let refuse = |what: String| Err(SignerError::NotAsked(what));
        if req.kind != RequestKind::CreateWallet || req.key_id.as_ref() != Some(key_id) {
            return refuse(format!(
                "request `{request_id}` does not create wallet `{key_id}`"
            ));
        }
        if req.scheme != Some(session.scheme) {
            return refuse(format!(
                "request `{request_id}` asks for another scheme than {}",
                session.scheme
            ));
        }
        if session.threshold != self.rules.threshold || session.parties != self.rules.parties {
            return refuse(format!(
                "this signer makes {} keys among parties {:?}, not {} among {:?}",
                self.rules.threshold, self.rules.parties, session.threshold, session.parties
            ));
        }
        self.check_client(&req, Role::Admin)?;
        // Everything that could refuse the session is checked before its one round is used.
        if session.me != self.party() {
            return refuse(format!(
                "the session is for {}, this signer is {}",
                session.me,
                self.party()
            ));
        }
        self.signer.ensure_idle(key_id)?;
        if self.signer.store().key(key_id)?.is_some() {
            return Err(tessera_store::StoreError::KeyExists(key_id.clone()).into());
        }
        self.signer
            .store_mut()
            .open_round(request_id, RequestKind::CreateWallet, key_id, 1)?;
        let progress = self.signer.dkg_start(key_id, session)?;
        self.seal(key_id, progress)
    }

    /// Feeds a key generation round: every message must open as sealed by its sender for this
    /// signer, or the round fails naming the sender.
    pub fn dkg_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, SignerError> {
        let mut opened = BTreeMap::new();
        for (from, sealed) in &inbox.0 {
            opened.insert(*from, self.rules.peers.open(key_id, *from, sealed)?);
        }
        let progress = match self.signer.dkg_advance(key_id, &Inbox(opened)) {
            Ok(p) => p,
            Err(e) => {
                // A round that fails ends the session here; the coordinator aborts the others.
                let _ = self.signer.abort_session(key_id);
                return Err(e);
            }
        };
        self.seal(key_id, progress)
    }

    fn seal(&self, key_id: &KeyId, progress: Progress) -> Result<Progress, SignerError> {
        match progress {
            Progress::Send(out) => Ok(Progress::Send(self.seal_outbox(key_id, out)?)),
            done @ Progress::Done(_) => Ok(done),
        }
    }

    /// Activates a finished key generation.
    pub fn activate(&mut self, key_id: &KeyId, group: &GroupKey) -> Result<(), SignerError> {
        self.signer.activate(key_id, group)
    }

    /// Drops an unfinished or unactivated key generation.
    pub fn abort(&mut self, key_id: &KeyId) -> Result<bool, SignerError> {
        self.signer.abort_session(key_id)
    }

    /// Fresh nonce commitments.
    pub fn commit(&mut self, key_id: &KeyId, count: usize) -> Result<Vec<Commitment>, SignerError> {
        self.signer.commit(key_id, count)
    }

    /// The group key of `key_id`.
    pub fn group_key(&mut self, key_id: &KeyId) -> Result<GroupKey, SignerError> {
        self.signer.group_key(key_id)
    }

    /// A signature share for registered request `request_id`: only over exactly the bytes it
    /// asked to sign, with the wallet it named, while it is incomplete and has rounds left.
    pub fn sign(
        &mut self,
        request_id: &str,
        key_id: &KeyId,
        package: &SigningPackage,
    ) -> Result<SignatureShare, SignerError> {
        let req = self.request(request_id)?;
        if req.kind != RequestKind::Sign || req.key_id.as_ref() != Some(key_id) {
            return Err(SignerError::NotAsked(format!(
                "request `{request_id}` does not sign with wallet `{key_id}`"
            )));
        }
        if req.message.as_deref() != Some(package.message()) {
            return Err(SignerError::NotAsked(format!(
                "the bytes to sign are not those request `{request_id}` asked for"
            )));
        }
        self.check_client(&req, Role::Trader)?;
        self.check_allowed(&req)?;
        // Checked here before the nonce leaves the pool, and again, atomically, with it.
        let closed = |reason: String| {
            Err(tessera_store::StoreError::RequestClosed {
                id: request_id.to_owned(),
                reason,
            }
            .into())
        };
        if req.signature.is_some() {
            return closed("it is complete".into());
        }
        if req.rounds >= self.rules.max_sign_rounds {
            return closed(format!(
                "it has used all {} rounds",
                self.rules.max_sign_rounds
            ));
        }
        self.signer
            .sign_for_request(request_id, self.rules.max_sign_rounds, key_id, package)
    }

    /// Records the final signature of `request_id`, after checking it verifies under the wallet's
    /// key over the request's bytes. The request then gives no more shares.
    pub fn complete(&mut self, request_id: &str, signature: &[u8]) -> Result<(), SignerError> {
        let req = self.request(request_id)?;
        let message = match (&req.kind, &req.message) {
            (RequestKind::Sign, Some(m)) => m.clone(),
            _ => {
                return Err(SignerError::NotAsked(format!(
                    "request `{request_id}` is not a signing request"
                )));
            }
        };
        let key_id = req.key_id.ok_or_else(|| {
            SignerError::NotAsked(format!("request `{request_id}` names no wallet"))
        })?;
        let group = self.signer.group_key(&key_id)?;
        tessera_crypto::verify(group.scheme(), &group.public_key(), &message, signature)?;
        self.signer
            .store_mut()
            .complete_request(request_id, signature)?;
        Ok(())
    }

    /// Joins a threshold-ECDSA signing session for registered request `request_id` and returns
    /// the round-1 messages, sealed for each other signer. For a signing request the hash is
    /// the one this signer registered from the client's bytes; for a transfer, `unsigned_tx`
    /// must decode to exactly the transfer the client asked for (see [`crate::eth`]), and the
    /// hash is its signing hash; for an `eth_signTransaction`, it must be exactly the
    /// transaction the client spelled out, from this wallet's address, on this signer's chain.
    /// Everything is checked before the share is opened.
    pub fn ecdsa_start(
        &mut self,
        request_id: &str,
        key_id: &KeyId,
        session_id: SessionId,
        signers: BTreeSet<PartyId>,
        unsigned_tx: Option<&[u8]>,
    ) -> Result<Outbox, SignerError> {
        let req = self.request(request_id)?;
        if req.key_id.as_ref() != Some(key_id) {
            return Err(SignerError::NotAsked(format!(
                "request `{request_id}` does not sign with wallet `{key_id}`"
            )));
        }
        self.check_client(&req, Role::Trader)?;
        self.check_allowed(&req)?;
        let (hash, max_rounds) = match (req.kind, unsigned_tx) {
            (RequestKind::Sign, None) => {
                let hash: [u8; 32] = req
                    .message
                    .as_deref()
                    .and_then(|m| m.try_into().ok())
                    .ok_or_else(|| {
                        SignerError::Unsupported(format!(
                            "request `{request_id}` did not register a 32-byte hash to sign"
                        ))
                    })?;
                if req.signature.is_some() {
                    return Err(tessera_store::StoreError::RequestClosed {
                        id: request_id.to_owned(),
                        reason: "it is complete".into(),
                    }
                    .into());
                }
                (hash, self.rules.max_sign_rounds)
            }
            (RequestKind::Transfer, Some(unsigned)) => {
                let rules = self.ethereum()?;
                let id = RequestId::derive(
                    &req.client.parse().map_err(|_| {
                        tessera_store::StoreError::Corrupt(format!("client `{}`", req.client))
                    })?,
                    &req.jti,
                );
                let intent = Intent::parse(&req.method, &req.path, &req.body, &id)?;
                let key = crate::eth::key_address(&self.signer.group_key(key_id)?)?;
                let (bound, versions) = crate::eth::check_and_bind_any(
                    self.signer.store_mut(),
                    &rules,
                    &req,
                    key_id,
                    &key,
                    &intent,
                    unsigned,
                )?;
                let versions = u32::try_from(versions).unwrap_or(u32::MAX);
                (
                    bound.signing_hash,
                    self.rules.max_sign_rounds.saturating_mul(versions),
                )
            }
            (RequestKind::Transfer, None) => {
                return Err(SignerError::NotAsked(format!(
                    "request `{request_id}` asks for a transaction: the transaction to sign is missing"
                )));
            }
            (RequestKind::Sign, Some(_)) => {
                return Err(SignerError::NotAsked(format!(
                    "request `{request_id}` signs the bytes it named, not a transaction"
                )));
            }
            (other, _) => {
                return Err(SignerError::NotAsked(format!(
                    "request `{request_id}` is a `{}` request",
                    other.as_str()
                )));
            }
        };
        if req.rounds >= max_rounds {
            return Err(tessera_store::StoreError::RequestClosed {
                id: request_id.to_owned(),
                reason: format!("it has used all {max_rounds} rounds"),
            }
            .into());
        }
        let out = self.signer.ecdsa_start(
            RoundOf {
                request_id,
                kind: req.kind,
                max_rounds,
            },
            key_id,
            session_id,
            signers,
            hash,
        )?;
        self.seal_outbox(key_id, out)
    }

    /// Feeds a round of an ECDSA signing session: every message must open as sealed by its
    /// sender for this signer. When the session ends, the signature is recorded against its
    /// request (or its transaction) here, by this signer.
    pub fn ecdsa_advance(
        &mut self,
        key_id: &KeyId,
        session_id: &SessionId,
        inbox: &Inbox,
    ) -> Result<EcdsaProgress, SignerError> {
        let mut opened = BTreeMap::new();
        for (from, sealed) in &inbox.0 {
            opened.insert(*from, self.rules.peers.open(key_id, *from, sealed)?);
        }
        match self
            .signer
            .ecdsa_advance(key_id, session_id, &Inbox(opened))?
        {
            EcdsaProgress::Send(out) => Ok(EcdsaProgress::Send(self.seal_outbox(key_id, out)?)),
            EcdsaProgress::Signed(sig) => Ok(EcdsaProgress::Signed(sig)),
        }
    }

    fn seal_outbox(&self, key_id: &KeyId, Outbox(out): Outbox) -> Result<Outbox, SignerError> {
        let mut sealed = BTreeMap::new();
        for (to, payload) in out {
            sealed.insert(to, self.rules.peers.seal(key_id, to, &payload)?);
        }
        Ok(Outbox(sealed))
    }

    /// The client of a registered request must still be configured here, with `role`: removing
    /// a client stops its pending requests too.
    fn check_client(&self, req: &RequestRecord, role: Role) -> Result<(), SignerError> {
        let id: ClientId = req
            .client
            .parse()
            .map_err(|_| tessera_store::StoreError::Corrupt(format!("client `{}`", req.client)))?;
        match self.rules.clients.get(&id) {
            Some(c) if c.role == role => Ok(()),
            _ => Err(SignerError::Forbidden(format!(
                "client `{id}` is no longer configured as `{role}` on this signer"
            ))),
        }
    }

    /// A registered request.
    pub fn request(&self, request_id: &str) -> Result<RequestRecord, SignerError> {
        self.signer
            .store()
            .request(request_id)?
            .ok_or_else(|| tessera_store::StoreError::NoSuchRequest(request_id.to_owned()).into())
    }
}
