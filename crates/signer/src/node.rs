//! [`Signer`]: open, take part in DKG and refresh, hand out commitments, sign.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use rand_core::OsRng;
use sha2::{Digest, Sha256};
use tessera_crypto::protocol::{Inbox, Outbox, Session, SessionId, Step};
use tessera_crypto::{
    Commitment, Dkg, EcdsaSign, EcdsaSignature, GroupKey, KeyOutput, KeyShare, NonceId, Nonces,
    Refresh, SecretBytes, SignatureShare, SigningPackage,
};
use tessera_store::{KeyRecord, RequestKind, RoundOf, Store};
use tessera_types::{KeyId, PartyId, Scheme};
use tessera_vault::{KdfParams, Kek, PassphraseKek};

use crate::error::SignerError;

/// Most secret nonces a signer keeps in memory at once, over all keys.
pub const MAX_POOLED_NONCES: usize = 100_000;

/// Most threshold-ECDSA signing sessions a signer keeps open at once, over all keys.
pub const MAX_ECDSA_SESSIONS: usize = 256;

/// An open ECDSA signing session older than this is dropped when room is needed: its
/// coordinator has given up on it.
const ECDSA_SESSION_TTL: Duration = Duration::from_secs(60);

const META_PARTY: &str = "signer.party";
const META_VERIFIER: &str = "vault.verifier";

/// The points of a signing round, in order, reported to a [`SignObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignStep {
    /// The request is in; nothing has changed yet.
    Received,
    /// The secret nonce has left the pool: from here it can never be used again in memory.
    NonceTaken,
    /// The ledger durably says `consumed`.
    NonceConsumed,
    /// The signature share exists; the caller sends it next.
    ShareComputed,
}

impl SignStep {
    /// Every step, in order.
    pub const ALL: [SignStep; 4] = [
        SignStep::Received,
        SignStep::NonceTaken,
        SignStep::NonceConsumed,
        SignStep::ShareComputed,
    ];

    /// A stable name.
    pub fn name(self) -> &'static str {
        match self {
            SignStep::Received => "received",
            SignStep::NonceTaken => "nonce_taken",
            SignStep::NonceConsumed => "nonce_consumed",
            SignStep::ShareComputed => "share_computed",
        }
    }
}

/// Sees each step of each signing round (tracing, and fault injection in tests).
pub trait SignObserver: Send {
    /// Called as the round reaches `step`.
    fn reached(&mut self, step: SignStep);
}

struct Quiet;

impl SignObserver for Quiet {
    fn reached(&mut self, _: SignStep) {}
}

/// How a key generation or refresh step went.
#[derive(Debug)]
pub enum Progress {
    /// Send these messages to the other parties and come back with their answers.
    Send(Outbox),
    /// This party has finished: its new share is sealed and stored *pending*, and signs only
    /// after [`Signer::activate`] with this group key.
    Done(GroupKey),
}

enum Running {
    Dkg(Box<Dkg>),
    Refresh {
        machine: Box<Refresh>,
        generation: u32,
    },
}

/// How a threshold-ECDSA signing step went.
#[derive(Debug)]
pub enum EcdsaProgress {
    /// Send these messages to the other signers of the session and come back with theirs.
    Send(Outbox),
    /// The session is over: the signature, verified under the key.
    Signed(EcdsaSignature),
}

/// An open threshold-ECDSA signing session. Its secret state lives only here (ADR 0010): a
/// restart abandons it.
struct EcdsaRunning {
    key_id: KeyId,
    generation: u32,
    request_id: String,
    kind: RequestKind,
    max_rounds: u32,
    ledger_id: [u8; 32],
    hash: [u8; 32],
    machine: Box<EcdsaSign>,
    started: Instant,
}

struct Pooled {
    key_id: KeyId,
    generation: u32,
    nonces: Nonces,
}

/// One signer node. Single-threaded: wrap it in a mutex to share it.
pub struct Signer {
    store: Store,
    kek: Box<dyn Kek>,
    party: PartyId,
    pool: HashMap<NonceId, Pooled>,
    groups: HashMap<KeyId, (u32, GroupKey)>,
    running: HashMap<KeyId, Running>,
    ecdsa: HashMap<SessionId, EcdsaRunning>,
    observer: Box<dyn SignObserver>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("party", &self.party)
            .field("pooled_nonces", &self.pool.len())
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Initialises a new signer store at `path` for `party`, with a vault key derived from
    /// `passphrase`. Fails, changing nothing, if the store already belongs to a signer.
    pub fn create(
        path: &Path,
        party: PartyId,
        passphrase: &SecretBytes,
        params: KdfParams,
    ) -> Result<Self, SignerError> {
        let mut store = Store::open(path)?;
        if let Some(existing) = store.meta(META_PARTY)? {
            return Err(SignerError::AlreadyInitialised(parse_party(&existing)?));
        }
        let (kek, verifier) = PassphraseKek::create(passphrase, params)?;
        store.set_meta(META_VERIFIER, &verifier)?;
        store.set_meta(META_PARTY, &party.get().to_be_bytes())?;
        Self::start(store, Box::new(kek), party)
    }

    /// Opens an existing signer store. A wrong passphrase fails before anything is written.
    pub fn open(path: &Path, passphrase: &SecretBytes) -> Result<Self, SignerError> {
        let store = Store::open(path)?;
        let party = parse_party(&store.meta(META_PARTY)?.ok_or(SignerError::NotInitialised)?)?;
        let verifier = store
            .meta(META_VERIFIER)?
            .ok_or(SignerError::NotInitialised)?;
        let kek = PassphraseKek::unlock(passphrase, &verifier)?;
        Self::start(store, Box::new(kek), party)
    }

    fn start(mut store: Store, kek: Box<dyn Kek>, party: PartyId) -> Result<Self, SignerError> {
        store.start_boot()?;
        Ok(Self {
            store,
            kek,
            party,
            pool: HashMap::new(),
            groups: HashMap::new(),
            running: HashMap::new(),
            ecdsa: HashMap::new(),
            observer: Box::new(Quiet),
        })
    }

    /// Reports every signing step to `observer`.
    pub fn set_observer(&mut self, observer: Box<dyn SignObserver>) {
        self.observer = observer;
    }

    /// This signer's party.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// The keys this signer holds a share of.
    pub fn key_ids(&self) -> Result<Vec<KeyId>, SignerError> {
        Ok(self.store.key_ids()?)
    }

    /// The store, read-only (audits, tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Secret nonces waiting in memory.
    pub fn pooled_nonces(&self) -> usize {
        self.pool.len()
    }

    /// The group key of `key_id`.
    pub fn group_key(&mut self, key_id: &KeyId) -> Result<GroupKey, SignerError> {
        let rec = self.record(key_id)?;
        Ok(self.group(&rec)?.clone())
    }

    // ---- key generation and refresh -------------------------------------------------------

    /// Joins a DKG for a new key `key_id`.
    pub fn dkg_start(&mut self, key_id: &KeyId, session: Session) -> Result<Progress, SignerError> {
        if session.me != self.party {
            return Err(SignerError::Session(format!(
                "session is for {}, this signer is {}",
                session.me, self.party
            )));
        }
        self.ensure_idle(key_id)?;
        if self.store.key(key_id)?.is_some() {
            return Err(tessera_store::StoreError::KeyExists(key_id.clone()).into());
        }
        let step = Dkg::start(session, &mut OsRng)?;
        self.dkg_step(key_id, step)
    }

    /// Feeds the current DKG round's messages.
    pub fn dkg_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, SignerError> {
        match self.running.remove(key_id) {
            Some(Running::Dkg(machine)) => {
                let step = (*machine).advance(inbox)?;
                self.dkg_step(key_id, step)
            }
            other => {
                self.put_back(key_id, other);
                Err(SignerError::Session(format!(
                    "no key generation of `{key_id}` is running"
                )))
            }
        }
    }

    fn dkg_step(
        &mut self,
        key_id: &KeyId,
        step: Step<Dkg, KeyOutput>,
    ) -> Result<Progress, SignerError> {
        match step {
            Step::Send(machine, out) => {
                self.running
                    .insert(key_id.clone(), Running::Dkg(Box::new(machine)));
                Ok(Progress::Send(out))
            }
            Step::Done(KeyOutput { share, group }) => {
                let rec = KeyRecord {
                    key_id: key_id.clone(),
                    scheme: share.scheme(),
                    party: self.party,
                    threshold: share.threshold(),
                    generation: 0,
                    group_key: group.to_bytes()?,
                    sealed_share: self.seal(key_id, 0, &share)?,
                };
                drop(share);
                self.store.put_pending(&rec)?;
                Ok(Progress::Done(group))
            }
        }
    }

    /// Joins a refresh of `key_id`: all of the key's parties must take part.
    pub fn refresh_start(
        &mut self,
        key_id: &KeyId,
        session_id: SessionId,
    ) -> Result<Progress, SignerError> {
        self.ensure_idle(key_id)?;
        let rec = self.record(key_id)?;
        let group = self.group(&rec)?.clone();
        let share = self.open_share(&rec)?;
        let session = Session::new(
            session_id,
            rec.scheme,
            rec.threshold,
            group.parties().clone(),
            self.party,
        )?;
        let step = Refresh::start(session, share, &group, &mut OsRng)?;
        self.refresh_step(key_id, rec.generation, step)
    }

    /// Feeds the current refresh round's messages.
    pub fn refresh_advance(
        &mut self,
        key_id: &KeyId,
        inbox: &Inbox,
    ) -> Result<Progress, SignerError> {
        match self.running.remove(key_id) {
            Some(Running::Refresh {
                machine,
                generation,
            }) => {
                let step = (*machine).advance(inbox)?;
                self.refresh_step(key_id, generation, step)
            }
            other => {
                self.put_back(key_id, other);
                Err(SignerError::Session(format!(
                    "no refresh of `{key_id}` is running"
                )))
            }
        }
    }

    fn refresh_step(
        &mut self,
        key_id: &KeyId,
        generation: u32,
        step: Step<Refresh, KeyOutput>,
    ) -> Result<Progress, SignerError> {
        match step {
            Step::Send(machine, out) => {
                self.running.insert(
                    key_id.clone(),
                    Running::Refresh {
                        machine: Box::new(machine),
                        generation,
                    },
                );
                Ok(Progress::Send(out))
            }
            Step::Done(KeyOutput { share, group }) => {
                let next = generation
                    .checked_add(1)
                    .ok_or_else(|| SignerError::Session("generation overflow".into()))?;
                let rec = KeyRecord {
                    key_id: key_id.clone(),
                    scheme: share.scheme(),
                    party: self.party,
                    threshold: share.threshold(),
                    generation: next,
                    group_key: group.to_bytes()?,
                    sealed_share: self.seal(key_id, next, &share)?,
                };
                drop(share);
                self.store.put_pending(&rec)?;
                Ok(Progress::Done(group))
            }
        }
    }

    /// Makes the result of a finished key generation or refresh of `key_id` the active share.
    /// `group` must be the group key the coordinator saw every party finish with; this party's
    /// own result must be exactly that. A refresh's new share replaces the old one, whose
    /// nonces are discarded.
    pub fn activate(&mut self, key_id: &KeyId, group: &GroupKey) -> Result<(), SignerError> {
        self.store.activate(key_id, &group.to_bytes()?)?;
        self.pool.retain(|_, p| p.key_id != *key_id);
        self.groups.remove(key_id);
        Ok(())
    }

    /// Abandons a key generation or refresh of `key_id`: a running one is dropped (its round
    /// secrets wiped) and a finished one waiting for activation is deleted. The active share,
    /// if any, stays. Returns whether there was anything to abandon.
    pub fn abort_session(&mut self, key_id: &KeyId) -> Result<bool, SignerError> {
        let running = self.running.remove(key_id).is_some();
        let pending = self.store.discard_pending(key_id)?;
        Ok(running || pending)
    }

    /// Fails if a key generation or refresh of `key_id` is running or waits for activation.
    pub fn ensure_idle(&self, key_id: &KeyId) -> Result<(), SignerError> {
        if self.running.contains_key(key_id) {
            return Err(SignerError::Session(format!(
                "a key generation or refresh of `{key_id}` is already running"
            )));
        }
        if self.store.pending(key_id)?.is_some() {
            return Err(tessera_store::StoreError::PendingExists(key_id.clone()).into());
        }
        Ok(())
    }

    fn put_back(&mut self, key_id: &KeyId, running: Option<Running>) {
        if let Some(r) = running {
            self.running.insert(key_id.clone(), r);
        }
    }

    // ---- signing --------------------------------------------------------------------------

    /// Makes `count` fresh nonce pairs for `key_id`, records them as issued (durably) and
    /// returns their commitments. The secrets stay in this process only.
    pub fn commit(&mut self, key_id: &KeyId, count: usize) -> Result<Vec<Commitment>, SignerError> {
        if self.pool.len().saturating_add(count) > MAX_POOLED_NONCES {
            return Err(SignerError::PoolFull(self.pool.len()));
        }
        let rec = self.record(key_id)?;
        if !rec.scheme.uses_nonce_pool() {
            return Err(SignerError::Unsupported(format!(
                "`{key_id}` is a {} key: it signs in interactive sessions, without nonce commitments",
                rec.scheme
            )));
        }
        let share = self.open_share(&rec)?;
        let mut fresh = Vec::with_capacity(count);
        for _ in 0..count {
            let nonces = tessera_crypto::commit(&share, &mut OsRng);
            let id = nonces.commitment().id()?;
            fresh.push((id, nonces));
        }
        drop(share);
        let ids: Vec<[u8; 32]> = fresh.iter().map(|(id, _)| id.0).collect();
        self.store.record_issued(key_id, rec.generation, &ids)?;
        let mut commitments = Vec::with_capacity(count);
        for (id, nonces) in fresh {
            commitments.push(nonces.commitment().clone());
            self.pool.insert(
                id,
                Pooled {
                    key_id: key_id.clone(),
                    generation: rec.generation,
                    nonces,
                },
            );
        }
        Ok(commitments)
    }

    /// Signs `package` with this signer's share of `key_id`.
    ///
    /// First the package must fit the key (scheme, signers, at least `t` of them), before any
    /// nonce is touched. Then, each step reported to the observer: take the secret nonce out of
    /// the pool (it is gone from memory whatever follows); durably mark it consumed, with the
    /// digest of the package, which fails unless it was issued in this boot and never used; only
    /// then decrypt the share and compute the signature share.
    pub fn sign(
        &mut self,
        key_id: &KeyId,
        package: &SigningPackage,
    ) -> Result<SignatureShare, SignerError> {
        self.sign_with(key_id, package, None)
    }

    /// Signs like [`Signer::sign`], for registered request `request_id`: the request's round and
    /// the nonce are consumed in one durable transaction, which fails if the request is not a
    /// registered, incomplete signing request for `key_id` with a round left of `max_rounds`.
    /// Checking that `package` signs the request's message is the caller's job
    /// ([`crate::SignerNode::sign`]).
    pub fn sign_for_request(
        &mut self,
        request_id: &str,
        max_rounds: u32,
        key_id: &KeyId,
        package: &SigningPackage,
    ) -> Result<SignatureShare, SignerError> {
        self.sign_with(key_id, package, Some((request_id, max_rounds)))
    }

    fn sign_with(
        &mut self,
        key_id: &KeyId,
        package: &SigningPackage,
        request: Option<(&str, u32)>,
    ) -> Result<SignatureShare, SignerError> {
        self.observer.reached(SignStep::Received);
        let rec = self.record(key_id)?;
        let group = self.group(&rec)?;
        if package.scheme() != rec.scheme {
            return Err(SignerError::BadPackage(format!(
                "package for scheme {}, key `{key_id}` is {}",
                package.scheme(),
                rec.scheme
            )));
        }
        let outsiders: Vec<String> = package
            .signers()
            .difference(group.parties())
            .map(ToString::to_string)
            .collect();
        if !outsiders.is_empty() {
            return Err(SignerError::BadPackage(format!(
                "signers outside the key: {}",
                outsiders.join(", ")
            )));
        }
        if package.signer_count() < usize::from(rec.threshold.t()) {
            return Err(SignerError::BadPackage(format!(
                "{} signers for a {} key",
                package.signer_count(),
                rec.threshold
            )));
        }
        let mine = package
            .commitment(self.party)
            .ok_or(SignerError::NotASigner)?;
        let id = mine.id()?;
        let pooled = self.pool.remove(&id).ok_or_else(|| {
            SignerError::NonceUnavailable(format!(
                "nonce {id} is not in this signer's pool: never issued, already used, or issued before a restart"
            ))
        })?;
        self.observer.reached(SignStep::NonceTaken);
        if pooled.key_id != *key_id || pooled.generation != rec.generation {
            return Err(SignerError::NonceUnavailable(format!(
                "nonce {id} was issued for another key or key generation"
            )));
        }
        let digest = package_digest(key_id, package)?;
        match request {
            None => self.store.consume(key_id, rec.generation, &id.0, &digest)?,
            Some((request_id, max_rounds)) => {
                self.store.consume_for_request(
                    tessera_store::RoundOf {
                        request_id,
                        kind: tessera_store::RequestKind::Sign,
                        max_rounds,
                    },
                    key_id,
                    rec.generation,
                    &id.0,
                    &digest,
                )?;
            }
        }
        self.observer.reached(SignStep::NonceConsumed);
        let share = self.open_share(&rec)?;
        let result = tessera_crypto::sign(&share, pooled.nonces, package);
        drop(share);
        let sig = result?;
        self.observer.reached(SignStep::ShareComputed);
        Ok(sig)
    }

    // ---- threshold ECDSA ------------------------------------------------------------------

    /// Opens a threshold-ECDSA signing session of `key_id` over `hash`, for the request that
    /// `round` names, among `signers`, and returns the round-1 messages. The session is
    /// recorded durably as issued before any message leaves; its secret state stays in memory.
    /// Checking that `hash` is what the request asks to sign is the caller's job
    /// ([`crate::SignerNode::ecdsa_start`]).
    pub fn ecdsa_start(
        &mut self,
        round: RoundOf<'_>,
        key_id: &KeyId,
        session_id: SessionId,
        signers: BTreeSet<PartyId>,
        hash: [u8; 32],
    ) -> Result<Outbox, SignerError> {
        let rec = self.record(key_id)?;
        if rec.scheme != Scheme::EcdsaSecp256k1 {
            return Err(SignerError::Unsupported(format!(
                "`{key_id}` is a {} key, not {}",
                rec.scheme,
                Scheme::EcdsaSecp256k1
            )));
        }
        if self.ecdsa.contains_key(&session_id) {
            return Err(SignerError::Session(
                "a signing session with this id is already open".into(),
            ));
        }
        self.ecdsa
            .retain(|_, r| r.started.elapsed() < ECDSA_SESSION_TTL);
        if self.ecdsa.len() >= MAX_ECDSA_SESSIONS {
            return Err(SignerError::Session(format!(
                "{MAX_ECDSA_SESSIONS} signing sessions are open already"
            )));
        }
        let session =
            Session::for_signing(session_id, rec.scheme, rec.threshold, signers, self.party)?;
        let outsiders: Vec<String> = session
            .parties
            .difference(self.group(&rec)?.parties())
            .map(ToString::to_string)
            .collect();
        if !outsiders.is_empty() {
            return Err(SignerError::BadPackage(format!(
                "signers outside the key: {}",
                outsiders.join(", ")
            )));
        }
        let share = self.open_share(&rec)?;
        let started = EcdsaSign::start(&share, session, hash);
        drop(share);
        let (machine, out) = started?;
        let ledger_id = ecdsa_ledger_id(key_id, &session_id, self.party);
        self.store
            .record_issued(key_id, rec.generation, &[ledger_id])?;
        self.ecdsa.insert(
            session_id,
            EcdsaRunning {
                key_id: key_id.clone(),
                generation: rec.generation,
                request_id: round.request_id.to_owned(),
                kind: round.kind,
                max_rounds: round.max_rounds,
                ledger_id,
                hash,
                machine: Box::new(machine),
                started: Instant::now(),
            },
        );
        Ok(out)
    }

    /// Feeds the current round of ECDSA signing session `session_id`. Before the round-2
    /// messages (computed from this signer's nonce share) exist, the session's ledger row is
    /// consumed together with a round of its request, in one durable transaction. Any failure
    /// ends the session here.
    pub fn ecdsa_advance(
        &mut self,
        key_id: &KeyId,
        session_id: &SessionId,
        inbox: &Inbox,
    ) -> Result<EcdsaProgress, SignerError> {
        let run = self.ecdsa.remove(session_id).ok_or_else(|| {
            SignerError::Session(
                "no such signing session is open here (finished, failed, expired or from before a restart)"
                    .into(),
            )
        })?;
        if run.key_id != *key_id {
            return Err(SignerError::Session(format!(
                "the session signs with `{}`, not `{key_id}`",
                run.key_id
            )));
        }
        if run.machine.round() == 1 {
            self.store.consume_for_request(
                RoundOf {
                    request_id: &run.request_id,
                    kind: run.kind,
                    max_rounds: run.max_rounds,
                },
                &run.key_id,
                run.generation,
                &run.ledger_id,
                &run.hash,
            )?;
        }
        let EcdsaRunning {
            key_id,
            generation,
            request_id,
            kind,
            max_rounds,
            ledger_id,
            hash,
            machine,
            started,
        } = run;
        match (*machine).advance(inbox)? {
            Step::Send(next, out) => {
                self.ecdsa.insert(
                    *session_id,
                    EcdsaRunning {
                        key_id,
                        generation,
                        request_id,
                        kind,
                        max_rounds,
                        ledger_id,
                        hash,
                        machine: Box::new(next),
                        started,
                    },
                );
                Ok(EcdsaProgress::Send(out))
            }
            Step::Done(signature) => {
                // Every signer of the session ends with the signature (verified under the key
                // by the crypto layer) and records it itself: a signing request is complete, a
                // transfer's transaction is signed.
                let bytes = signature.to_bytes();
                match kind {
                    RequestKind::Transfer => self.store.sign_eth_tx(&hash, &bytes)?,
                    _ => self.store.complete_request(&request_id, &bytes)?,
                }
                Ok(EcdsaProgress::Signed(signature))
            }
        }
    }

    /// Open ECDSA signing sessions.
    pub fn open_ecdsa_sessions(&self) -> usize {
        self.ecdsa.len()
    }

    // ---- helpers --------------------------------------------------------------------------

    fn record(&self, key_id: &KeyId) -> Result<KeyRecord, SignerError> {
        self.store
            .key(key_id)?
            .ok_or_else(|| SignerError::NoSuchKey(key_id.clone()))
    }

    fn group(&mut self, rec: &KeyRecord) -> Result<&GroupKey, SignerError> {
        let fresh = matches!(self.groups.get(&rec.key_id), Some((g, _)) if *g == rec.generation);
        if !fresh {
            let group = GroupKey::from_bytes(&rec.group_key)?;
            self.groups
                .insert(rec.key_id.clone(), (rec.generation, group));
        }
        self.groups
            .get(&rec.key_id)
            .map(|(_, g)| g)
            .ok_or_else(|| SignerError::NoSuchKey(rec.key_id.clone()))
    }

    fn seal(
        &self,
        key_id: &KeyId,
        generation: u32,
        share: &KeyShare,
    ) -> Result<Vec<u8>, SignerError> {
        let plain = share.to_secret_bytes()?;
        Ok(self.kek.seal(
            &share_context(key_id, self.party, generation),
            plain.expose(),
        )?)
    }

    /// Decrypts the share for one operation. Checks it is this signer's and matches the group
    /// key on record.
    fn open_share(&mut self, rec: &KeyRecord) -> Result<KeyShare, SignerError> {
        let plain = self.kek.open(
            &share_context(&rec.key_id, self.party, rec.generation),
            &rec.sealed_share,
        )?;
        let share = KeyShare::from_secret_bytes(plain.expose())?;
        drop(plain);
        let party = self.party;
        let group = self.group(rec)?;
        if share.party() != party || !share.belongs_to(group) {
            return Err(SignerError::ShareMismatch(rec.key_id.clone()));
        }
        Ok(share)
    }
}

/// What a sealed share is bound to: opening it under any other key, party or generation fails.
fn share_context(key_id: &KeyId, party: PartyId, generation: u32) -> Vec<u8> {
    format!("tessera/share/v1|{key_id}|{}|{generation}", party.get()).into_bytes()
}

/// The ledger id of an ECDSA signing session at one signer: a session id can be used once.
fn ecdsa_ledger_id(key_id: &KeyId, session_id: &SessionId, party: PartyId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera/ecdsa-session/v1");
    h.update((key_id.as_str().len() as u64).to_be_bytes());
    h.update(key_id.as_str());
    h.update(session_id.0);
    h.update(party.get().to_be_bytes());
    h.finalize().into()
}

/// SHA-256 over the key id and the encoded signing package: what the ledger records as signed
/// (auditors recompute it to match ledger rows with signatures).
pub fn package_digest(key_id: &KeyId, package: &SigningPackage) -> Result<[u8; 32], SignerError> {
    let mut h = Sha256::new();
    h.update(b"tessera/signed/v1");
    h.update((key_id.as_str().len() as u64).to_be_bytes());
    h.update(key_id.as_str());
    h.update(package.to_bytes()?);
    Ok(h.finalize().into())
}

fn parse_party(bytes: &[u8]) -> Result<PartyId, SignerError> {
    let arr: [u8; 2] = bytes.try_into().map_err(|_| {
        SignerError::Store(tessera_store::StoreError::Corrupt(
            "party id is not 2 bytes".into(),
        ))
    })?;
    PartyId::new(u16::from_be_bytes(arr))
        .map_err(|e| SignerError::Store(tessera_store::StoreError::Corrupt(e.to_string())))
}
