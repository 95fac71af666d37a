//! The coordinator's view of its signers: forwarding client requests, key generation, signing
//! with a healthy quorum, retries without failed or lying signers, and nonce commitment pools
//! kept full in the background.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand_core::{OsRng, RngCore};
use tessera_coordinator::{LinkError, SessionError, SignerLink, generate_key};
use tessera_crypto::{Commitment, GroupKey, Signature, SigningPackage};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};
use tessera_wire::{PartyMessage, Reply, Request, WireProgress, WireRuling};

use crate::metrics::Metrics;
use crate::remote::{KeygenLink, RemoteSigner, UNREACHABLE};

/// Signing attempts per request: the first, and retries with another quorum. Each signer gives
/// shares in at most `max_sign_rounds` (default 3) rounds of one request, over all attempts and
/// coordinator restarts.
pub const MAX_ATTEMPTS: usize = 3;

/// How long a signer that failed is tried last.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// A client's request, exactly as the API received it.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The bearer token.
    pub token: String,
    /// The HTTP method.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The body.
    pub body: Vec<u8>,
    /// The policy the coordinator pre-checked it under, if it did.
    pub policy_hash: Option<String>,
}

impl From<&crate::gateway_store::RequestRow> for ClientRequest {
    /// The request as the coordinator stored it when it arrived.
    fn from(row: &crate::gateway_store::RequestRow) -> Self {
        ClientRequest {
            token: row.token.clone(),
            method: row.method.clone(),
            path: row.path.clone(),
            body: row.body.clone(),
            policy_hash: None,
        }
    }
}

/// The signers' answers to a message that returns a ruling, sorted.
struct Answers {
    rulings: Vec<(PartyId, Option<WireRuling>)>,
    refusal: Option<(String, String)>,
    down: usize,
}

impl Answers {
    /// Fewer than `need` of `total` signers `did` it: the first refusal, else unavailable.
    fn too_few(self, did: &str, need: usize, total: usize) -> ClusterError {
        match self.refusal {
            Some((code, message)) => ClusterError::Refused { code, message },
            None => ClusterError::Unavailable(format!(
                "{} of {total} signers {did} ({} unreachable); {need} are needed",
                self.rulings.len(),
                self.down
            )),
        }
    }
}

/// The signers' rulings on a request, summed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ruled {
    /// At least the needed number allow it: these parties.
    Allowed(Vec<PartyId>),
    /// Held back: the ruling that explains why.
    Not(WireRuling),
}

impl Ruled {
    /// Sums up the rulings of the signers that registered a request. A signer's ruling absent
    /// means allowed (an older signer, or a request no rule governs).
    fn sum(rulings: Vec<(PartyId, Option<WireRuling>)>, need: usize) -> Ruled {
        let decision = |r: &Option<WireRuling>| {
            r.as_ref()
                .map_or("allow", |r| r.decision.as_str())
                .to_owned()
        };
        let allowed: Vec<PartyId> = rulings
            .iter()
            .filter(|(_, r)| decision(r) == "allow")
            .map(|(p, _)| *p)
            .collect();
        if allowed.len() >= need {
            return Ruled::Allowed(allowed);
        }
        let held = |what: &str| {
            rulings
                .iter()
                .filter_map(|(_, r)| r.clone())
                .filter(|r| r.decision == what)
                .collect::<Vec<_>>()
        };
        let waiting = held("pending_approval");
        if allowed.len().saturating_add(waiting.len()) >= need
            && let Some(first) = waiting.into_iter().next()
        {
            return Ruled::Not(first);
        }
        let refused = ["deny", "rejected"]
            .into_iter()
            .flat_map(|d| held(d).into_iter())
            .next();
        Ruled::Not(refused.unwrap_or_else(|| WireRuling {
            decision: "deny".into(),
            reason: Some(format!(
                "only {} of the signers allow the request; {need} are needed",
                allowed.len()
            )),
            policy_hash: None,
            approval_group: None,
            approvals_needed: 0,
            approvals: 0,
        }))
    }
}

/// Why the cluster could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// Signers refused the client's request itself (token, role, body): the client's fault.
    #[error("{message}")]
    Refused {
        /// The signers' code.
        code: String,
        /// Their message.
        message: String,
    },
    /// Not enough signers answered.
    #[error("{0}")]
    Unavailable(String),
    /// The signers' policy holds the request back: denied, rejected, or waiting for approvals.
    #[error("{}", .0.reason.as_deref().unwrap_or("the policy holds the request back"))]
    Ruled(WireRuling),
    /// Signing or key generation failed; `culprits` names the signers to blame.
    #[error("{message}")]
    Failed {
        /// Stable code.
        code: String,
        /// What happened.
        message: String,
        /// Signers blamed.
        culprits: Vec<PartyId>,
    },
}

#[derive(Debug, Default)]
struct Pool {
    boot: i64,
    ready: VecDeque<Commitment>,
}

/// The signers and what the coordinator knows of them.
#[derive(Debug)]
pub struct Cluster {
    signers: BTreeMap<PartyId, RemoteSigner>,
    threshold: Threshold,
    pool_target: usize,
    pools: Mutex<HashMap<(KeyId, PartyId), Pool>>,
    down: Mutex<HashMap<PartyId, Instant>>,
    wallets: Mutex<BTreeSet<KeyId>>,
    metrics: Arc<Metrics>,
    /// Where the signers' receipts are kept, once set ([`crate::audit`]).
    pub(crate) receipts: std::sync::OnceLock<Arc<crate::gateway_store::GatewayStore>>,
}

/// Whether `e` says the signer could not be reached (rather than that it refused).
pub(crate) fn is_transport(e: &LinkError) -> bool {
    e.code == UNREACHABLE || e.code == "signer_timeout"
}

impl Cluster {
    /// A cluster of `signers` making `threshold` keys.
    pub fn new(
        signers: Vec<RemoteSigner>,
        threshold: Threshold,
        pool_target: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            signers: signers.into_iter().map(|s| (s.party(), s)).collect(),
            threshold,
            pool_target,
            pools: Mutex::new(HashMap::new()),
            down: Mutex::new(HashMap::new()),
            wallets: Mutex::new(BTreeSet::new()),
            metrics,
            receipts: std::sync::OnceLock::new(),
        }
    }

    /// How many signers the cluster has.
    pub fn signer_count(&self) -> usize {
        self.signers.len()
    }

    /// The threshold of new keys.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// Keeps commitment pools for `wallet` full from now on.
    pub fn watch(&self, wallet: KeyId) {
        if let Ok(mut w) = self.wallets.lock() {
            w.insert(wallet);
        }
    }

    fn note(&self, e: &LinkError) {
        self.metrics.signer_error(e.party, &e.code);
        if is_transport(e) {
            if let Ok(mut d) = self.down.lock() {
                d.insert(e.party, Instant::now());
            }
            self.metrics.set_up(e.party, false);
        }
        tracing::warn!(party = %e.party, code = %e.code, message = %e.message, "signer call failed");
    }

    fn note_ok(&self, party: PartyId) {
        if let Ok(mut d) = self.down.lock() {
            d.remove(&party);
        }
        self.metrics.set_up(party, true);
    }

    /// Names a signer whose share was bad: in the log, the metrics, and by trying it last for a
    /// while.
    fn blame(&self, party: PartyId, request_id: &str) {
        tracing::warn!(%party, request_id, "signer sent a bad signature share");
        self.metrics.bad_share(party);
        if let Ok(mut d) = self.down.lock() {
            d.insert(party, Instant::now());
        }
    }

    fn recently_down(&self, party: PartyId) -> bool {
        self.down
            .lock()
            .map(|d| d.get(&party).is_some_and(|t| t.elapsed() < DOWN_FOR))
            .unwrap_or(false)
    }

    /// Forwards a client's request to every signer and returns the parties whose ruling allows
    /// it; fails unless at least `need` do. Fewer than `need` allowing is
    /// [`ClusterError::Ruled`]: denied, rejected, or waiting for approvals.
    pub async fn register(
        &self,
        req: &ClientRequest,
        need: usize,
    ) -> Result<Vec<PartyId>, ClusterError> {
        match self.rule(req, need).await? {
            Ruled::Allowed(parties) => Ok(parties),
            Ruled::Not(ruling) => Err(ClusterError::Ruled(ruling)),
        }
    }

    /// Forwards a client's request to every signer, and sums up their rulings: allowed by at
    /// least `need` signers (the parties that allow it), or else the ruling that holds it back
    /// (waiting for approvals when enough signers wait, else denied or rejected). Fails unless
    /// at least `need` signers registered it.
    pub async fn rule(&self, req: &ClientRequest, need: usize) -> Result<Ruled, ClusterError> {
        let msg = Request::Register {
            token: req.token.clone(),
            method: req.method.clone(),
            path: req.path.clone(),
            body_hex: hex::encode(&req.body),
            policy_hash: req.policy_hash.clone(),
        };
        let calls = self.signers.values().map(|s| {
            let msg = &msg;
            async move { (s.party(), s.call(msg).await) }
        });
        let mut results = join_all(calls).await;
        // Too few registered because some could not be reached: those get two more tries, a
        // little apart, so that a restarting signer or a dropped connection does not fail the
        // request. Registering is idempotent: a retry never registers twice.
        for pause in [100, 400] {
            let registered = results
                .iter()
                .filter(|(_, r)| matches!(r, Ok(Reply::Registered { .. })))
                .count();
            if registered >= need {
                break;
            }
            tokio::time::sleep(Duration::from_millis(pause)).await;
            for (party, result) in results.iter_mut() {
                if matches!(result, Err(e) if is_transport(e))
                    && let Some(s) = self.signers.get(party)
                {
                    *result = s.call(&msg).await;
                }
            }
        }
        let answers = self.rulings_of(results, |reply| match reply {
            Reply::Registered { ruling, .. } => Some(ruling.clone()),
            _ => None,
        });
        if answers.rulings.len() >= need {
            return Ok(Ruled::sum(answers.rulings, need));
        }
        Err(answers.too_few("registered the request", need, self.signers.len()))
    }

    /// Sorts the signers' answers: the rulings `pick` finds in them (noting each signer up),
    /// the first refusal, and how many were unreachable (noting each signer's failure).
    fn rulings_of(
        &self,
        results: Vec<(PartyId, Result<Reply, LinkError>)>,
        pick: impl Fn(&Reply) -> Option<Option<WireRuling>>,
    ) -> Answers {
        let mut answers = Answers {
            rulings: Vec::new(),
            refusal: None,
            down: 0,
        };
        for (party, result) in results {
            let refusal = match result {
                Ok(reply) => match pick(&reply) {
                    Some(ruling) => {
                        self.keep_receipt(party, &reply);
                        self.note_ok(party);
                        answers.rulings.push((party, ruling));
                        continue;
                    }
                    None => (
                        "protocol_error".to_owned(),
                        format!("{party} answered {reply:?}"),
                    ),
                },
                Err(e) => {
                    self.note(&e);
                    if is_transport(&e) {
                        answers.down += 1;
                        continue;
                    }
                    (e.code, e.message)
                }
            };
            answers.refusal.get_or_insert(refusal);
        }
        answers
    }

    /// Forwards an approver's verdict to every signer and sums up the rulings it leads to:
    /// `allow` once at least `need` signers allow the request. Fails unless `need` signers
    /// recorded it.
    pub async fn verdict(&self, msg: &Request, need: usize) -> Result<WireRuling, ClusterError> {
        let calls = self
            .signers
            .values()
            .map(|s| async move { (s.party(), s.call(msg).await) });
        let answers = self.rulings_of(join_all(calls).await, |reply| match reply {
            Reply::Ruled { ruling, .. } => Some(Some(ruling.clone())),
            _ => None,
        });
        if answers.rulings.len() < need {
            return Err(answers.too_few("recorded the verdict", need, self.signers.len()));
        }
        let rulings = answers.rulings;
        let approvals = rulings
            .iter()
            .filter_map(|(_, r)| r.as_ref().map(|r| r.approvals))
            .max()
            .unwrap_or(0);
        Ok(match Ruled::sum(rulings.clone(), need) {
            Ruled::Allowed(_) => {
                let mut first = rulings
                    .into_iter()
                    .find_map(|(_, r)| r.filter(|r| r.decision == "allow"))
                    .unwrap_or_else(|| WireRuling {
                        decision: "allow".into(),
                        reason: None,
                        policy_hash: None,
                        approval_group: None,
                        approvals_needed: 0,
                        approvals: 0,
                    });
                first.approvals = approvals;
                first
            }
            Ruled::Not(mut r) => {
                r.approvals = approvals;
                r
            }
        })
    }

    /// Sends `msg` to every signer at once and returns each one's answer, by party.
    pub async fn each(
        &self,
        msg: &Request,
    ) -> Vec<(u16, Result<Reply, tessera_coordinator::LinkError>)> {
        let calls = self
            .signers
            .values()
            .map(|s| async move { (s.party().get(), s.call(msg).await) });
        join_all(calls).await
    }

    /// The policy each reachable signer enforces: `(party, version, hash, text)`.
    pub async fn policies(&self) -> Vec<(u16, u64, String, Option<String>)> {
        let calls = self
            .signers
            .values()
            .map(|s| async move { (s.party(), s.call(&Request::Policy).await) });
        join_all(calls)
            .await
            .into_iter()
            .filter_map(|(party, r)| match r {
                Ok(Reply::Policy {
                    version,
                    hash,
                    text,
                }) => Some((party.get(), version, hash, text)),
                _ => None,
            })
            .collect()
    }

    /// Generates wallet `key_id` for registered request `request_id` with every signer.
    pub async fn create_wallet(
        &self,
        request_id: &str,
        key_id: &KeyId,
        scheme: Scheme,
    ) -> Result<GroupKey, ClusterError> {
        let runtime = tokio::runtime::Handle::current();
        let links: Vec<KeygenLink> = self
            .signers
            .values()
            .map(|s| KeygenLink::new(s.clone(), request_id.to_owned(), runtime.clone()))
            .collect();
        let key = key_id.clone();
        let threshold = self.threshold;
        let result = tokio::task::spawn_blocking(move || {
            let mut links = links;
            let mut refs: Vec<&mut dyn SignerLink> =
                links.iter_mut().map(|l| l as &mut dyn SignerLink).collect();
            generate_key(&mut refs, &key, scheme, threshold, None)
        })
        .await
        .map_err(|e| ClusterError::Unavailable(format!("key generation task: {e}")))?;
        match result {
            Ok(group) => {
                if scheme.uses_nonce_pool() {
                    self.watch(key_id.clone());
                }
                Ok(group)
            }
            Err(e) => Err(session_error(e)),
        }
    }

    async fn commitment(&self, key_id: &KeyId, party: PartyId) -> Result<Commitment, LinkError> {
        let pooled = self.pools.lock().ok().and_then(|mut p| {
            p.get_mut(&(key_id.clone(), party))
                .and_then(|pool| pool.ready.pop_front())
        });
        if let Some(c) = pooled {
            return Ok(c);
        }
        let signer = self.signer(party)?;
        let (_, mut fresh) = signer.commit(key_id, 1).await?;
        fresh.pop().ok_or_else(|| LinkError {
            party,
            code: "protocol_error".into(),
            message: "no commitment returned".into(),
            culprits: vec![party],
        })
    }

    pub(crate) fn signer(&self, party: PartyId) -> Result<&RemoteSigner, LinkError> {
        self.signers.get(&party).ok_or_else(|| LinkError {
            party,
            code: "unknown_signer".into(),
            message: format!("{party} is not configured"),
            culprits: Vec::new(),
        })
    }

    fn forget_pool(&self, party: PartyId) {
        if let Ok(mut p) = self.pools.lock() {
            p.retain(|(_, q), _| *q != party);
        }
    }

    /// Signs `message` for registered request `request_id` with a quorum of `candidates`,
    /// retrying without any signer that failed or sent a bad share. Returns the signature and
    /// the signers blamed along the way.
    pub async fn sign(
        &self,
        request_id: &str,
        key_id: &KeyId,
        group: &GroupKey,
        message: &[u8],
        candidates: &[PartyId],
    ) -> Result<(Signature, Vec<PartyId>), ClusterError> {
        let t = usize::from(group.threshold().t());
        let mut excluded: BTreeSet<PartyId> = BTreeSet::new();
        let mut culprits: Vec<PartyId> = Vec::new();
        let mut last: Option<String> = None;
        for _ in 0..MAX_ATTEMPTS {
            let mut avail: Vec<PartyId> = candidates
                .iter()
                .copied()
                .filter(|p| !excluded.contains(p))
                .collect();
            // Healthy signers first, in random order, so that load spreads and a lying signer
            // cannot hide behind a fixed choice.
            avail.sort_by_key(|p| (self.recently_down(*p), OsRng.next_u64()));
            if avail.len() < t {
                break;
            }
            let quorum: Vec<PartyId> = avail.into_iter().take(t).collect();
            let got = join_all(quorum.iter().map(|p| self.commitment(key_id, *p))).await;
            let mut commitments = Vec::with_capacity(t);
            let mut failed = false;
            for r in got {
                match r {
                    Ok(c) => commitments.push(c),
                    Err(e) => {
                        self.note(&e);
                        excluded.insert(e.party);
                        last = Some(e.to_string());
                        failed = true;
                    }
                }
            }
            if failed {
                continue;
            }
            let package =
                SigningPackage::new(message, commitments).map_err(|e| ClusterError::Failed {
                    code: e.kind.code().to_owned(),
                    message: e.to_string(),
                    culprits: Vec::new(),
                })?;
            let calls = quorum.iter().map(|p| {
                let package = &package;
                async move {
                    let s = self.signer(*p)?;
                    s.sign(request_id, key_id, package).await
                }
            });
            let mut shares = Vec::with_capacity(t);
            for r in join_all(calls).await {
                match r {
                    Ok(s) => shares.push(s),
                    Err(e) => {
                        self.note(&e);
                        if e.code == "nonce_unavailable" {
                            // It restarted: its pooled commitments died with its old process.
                            self.forget_pool(e.party);
                        } else {
                            excluded.insert(e.party);
                        }
                        if e.culprits.contains(&e.party) {
                            // It answered with something that is not a share at all.
                            self.blame(e.party, request_id);
                            culprits.push(e.party);
                        }
                        last = Some(e.to_string());
                        failed = true;
                    }
                }
            }
            if failed {
                continue;
            }
            match tessera_crypto::aggregate(group, &package, &shares) {
                Ok(sig) => {
                    for p in &quorum {
                        self.note_ok(*p);
                    }
                    self.metrics.signature();
                    return Ok((sig, culprits));
                }
                Err(e) => {
                    for p in &e.culprits {
                        self.blame(*p, request_id);
                        excluded.insert(*p);
                        culprits.push(*p);
                    }
                    last = Some(e.to_string());
                }
            }
        }
        Err(no_quorum(
            request_id,
            t,
            culprits,
            last.as_deref(),
            "bad signature shares from",
        ))
    }

    /// Signs with threshold ECDSA for registered request `request_id`: a quorum of `candidates`
    /// runs one interactive session (three rounds, every message sealed between signers and
    /// relayed here), retried with another quorum and a new session without any signer that
    /// failed or was blamed. For a transfer, `unsigned_tx` is the transaction every signer
    /// decodes and checks before it joins, and `hash` its signing hash (for a signing request:
    /// the hash the request names). Returns the signature (`r || s || recovery id`), verified
    /// under `group` over `hash`, and the signers blamed along the way.
    pub async fn ecdsa_sign(
        &self,
        request_id: &str,
        key_id: &KeyId,
        group: &GroupKey,
        hash: &[u8; 32],
        unsigned_tx: Option<&[u8]>,
        candidates: &[PartyId],
    ) -> Result<([u8; 65], Vec<PartyId>), ClusterError> {
        let t = usize::from(group.threshold().t());
        let mut excluded: BTreeSet<PartyId> = BTreeSet::new();
        let mut culprits: Vec<PartyId> = Vec::new();
        let mut last: Option<String> = None;
        for _ in 0..MAX_ATTEMPTS {
            let mut avail: Vec<PartyId> = candidates
                .iter()
                .copied()
                .filter(|p| !excluded.contains(p))
                .collect();
            avail.sort_by_key(|p| (self.recently_down(*p), OsRng.next_u64()));
            if avail.len() < t {
                break;
            }
            let quorum: Vec<PartyId> = avail.into_iter().take(t).collect();
            let mut session = [0u8; 16];
            OsRng.fill_bytes(&mut session);
            match self
                .ecdsa_session(request_id, key_id, &session, &quorum, unsigned_tx)
                .await
            {
                Ok(signature) => {
                    let checked = tessera_crypto::verify(
                        group.scheme(),
                        &group.public_key(),
                        hash,
                        &signature,
                    );
                    if checked.is_ok() {
                        for p in &quorum {
                            self.note_ok(*p);
                        }
                        self.metrics.signature();
                        return Ok((signature, culprits));
                    }
                    last = Some("the session's signature does not verify".into());
                }
                Err(SessionFailure::Refused(e)) => {
                    // The signers refused what was asked (not the client's request, a bad
                    // transaction, rounds used up): another quorum would refuse it too.
                    self.note(&e);
                    return Err(ClusterError::Refused {
                        code: e.code,
                        message: e.message,
                    });
                }
                Err(SessionFailure::Failed(errors)) => {
                    for e in errors {
                        self.note(&e);
                        if is_transport(&e) || e.culprits.is_empty() {
                            excluded.insert(e.party);
                        }
                        for c in &e.culprits {
                            if !culprits.contains(c) {
                                self.blame(*c, request_id);
                                culprits.push(*c);
                            }
                            excluded.insert(*c);
                        }
                        last = Some(e.to_string());
                    }
                }
            }
        }
        Err(no_quorum(
            request_id,
            t,
            culprits,
            last.as_deref(),
            "signers blamed:",
        ))
    }

    /// One ECDSA signing session with `quorum`; the messages each signer sends are relayed to
    /// their recipients, sealed as they came.
    async fn ecdsa_session(
        &self,
        request_id: &str,
        key_id: &KeyId,
        session: &[u8; 16],
        quorum: &[PartyId],
        unsigned_tx: Option<&[u8]>,
    ) -> Result<[u8; 65], SessionFailure> {
        let session_id_hex = hex::encode(session);
        let start = Request::EcdsaStart {
            request_id: request_id.to_owned(),
            key_id: key_id.clone(),
            session_id_hex: session_id_hex.clone(),
            signers: quorum.iter().map(|p| p.get()).collect(),
            unsigned_tx_hex: unsigned_tx.map(hex::encode),
        };
        let mut outboxes = self.ecdsa_round(quorum, |_| start.clone(), true).await?;
        loop {
            let requests: BTreeMap<PartyId, Request> = quorum
                .iter()
                .map(|to| {
                    let inbox = outboxes
                        .iter()
                        .filter_map(|(from, out)| match out {
                            RoundOut::Send(msgs) => {
                                msgs.iter()
                                    .find(|m| m.party == to.get())
                                    .map(|m| PartyMessage {
                                        party: from.get(),
                                        payload_hex: m.payload_hex.clone(),
                                    })
                            }
                            RoundOut::Signed(_) => None,
                        })
                        .collect();
                    (
                        *to,
                        Request::EcdsaAdvance {
                            key_id: key_id.clone(),
                            session_id_hex: session_id_hex.clone(),
                            inbox,
                        },
                    )
                })
                .collect();
            outboxes = self
                .ecdsa_round(
                    quorum,
                    |p| requests.get(&p).cloned().unwrap_or(Request::Status),
                    false,
                )
                .await?;
            let signed: Vec<&[u8; 65]> = outboxes
                .values()
                .filter_map(|o| match o {
                    RoundOut::Signed(s) => Some(s),
                    RoundOut::Send(_) => None,
                })
                .collect();
            if signed.is_empty() {
                continue;
            }
            // Every signer of the session ends with the signature; they must agree.
            if let Some(first) = signed.first()
                && signed.len() == quorum.len()
                && signed.iter().all(|s| s == first)
            {
                return Ok(**first);
            }
            return Err(SessionFailure::Failed(
                quorum
                    .iter()
                    .map(|p| LinkError {
                        party: *p,
                        code: "inconsistent_signatures".into(),
                        message: "the signers of the session ended with different results".into(),
                        culprits: Vec::new(),
                    })
                    .collect(),
            ));
        }
    }

    /// One round of a session: the same kind of call to every signer of `quorum`, in parallel.
    async fn ecdsa_round(
        &self,
        quorum: &[PartyId],
        request_for: impl Fn(PartyId) -> Request,
        first: bool,
    ) -> Result<BTreeMap<PartyId, RoundOut>, SessionFailure> {
        let calls = quorum.iter().map(|p| {
            let req = request_for(*p);
            async move {
                let s = self.signer(*p)?;
                s.call(&req).await
            }
        });
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        for (party, result) in quorum.iter().zip(join_all(calls).await) {
            match result {
                Ok(Reply::Progress {
                    progress: WireProgress::Send { outbox },
                }) => {
                    out.insert(*party, RoundOut::Send(outbox));
                }
                Ok(Reply::Progress {
                    progress: WireProgress::Signed { signature_hex },
                }) if !first => {
                    let sig: Option<[u8; 65]> = hex::decode(&signature_hex)
                        .ok()
                        .and_then(|b| b.try_into().ok());
                    match sig {
                        Some(sig) => {
                            out.insert(*party, RoundOut::Signed(sig));
                        }
                        None => errors.push(protocol_error(*party, "a malformed signature")),
                    }
                }
                Ok(other) => {
                    errors.push(protocol_error(*party, &format!("{other:?}")));
                }
                Err(e) if first && refused_request(&e.code) => {
                    return Err(SessionFailure::Refused(e));
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(SessionFailure::Failed(errors))
        }
    }

    /// Tells the signers a request is complete, so they give no more shares for it.
    pub async fn complete(&self, request_id: &str, signature: &Signature) {
        let msg = Request::Complete {
            request_id: request_id.to_owned(),
            signature_hex: hex::encode(signature.to_bytes()),
        };
        let calls = self.signers.values().map(|s| s.call(&msg));
        for r in join_all(calls).await {
            if let Err(e) = r
                && e.code != "unknown_request"
            {
                self.note(&e);
            }
        }
    }

    /// What each signer holds of `key_id`: its active group key, or why not.
    pub async fn key_everywhere(&self, key_id: &KeyId) -> Vec<Result<GroupKey, LinkError>> {
        join_all(self.signers.values().map(|s| s.group_key(key_id))).await
    }

    /// Activates `group` for `key_id` at every signer that holds it pending (a key generation
    /// whose activation a coordinator crash cut short). True when every signer now holds it
    /// active.
    pub async fn activate_everywhere(&self, key_id: &KeyId, group: &GroupKey) -> bool {
        let Ok(bytes) = group.to_bytes() else {
            return false;
        };
        let msg = Request::Activate {
            key_id: key_id.clone(),
            group_key_hex: hex::encode(bytes),
        };
        let mut all = true;
        for r in join_all(self.signers.values().map(|s| s.call(&msg))).await {
            match r {
                Ok(Reply::Done) => {}
                // Already active there: the store has nothing pending for the key.
                Err(e) if e.code == "nothing_pending" => {}
                Ok(other) => {
                    tracing::warn!(reply = ?other, "unexpected answer to an activation");
                    all = false;
                }
                Err(e) => {
                    self.note(&e);
                    all = false;
                }
            }
        }
        all
    }

    /// Drops an unfinished or unactivated key generation of `key_id` at every signer.
    pub async fn abort_everywhere(&self, key_id: &KeyId) {
        let msg = Request::Abort {
            key_id: key_id.clone(),
        };
        for r in join_all(self.signers.values().map(|s| s.call(&msg))).await {
            if let Err(e) = r {
                self.note(&e);
            }
        }
    }

    /// Tops up every watched wallet's commitment pools, forever. Signers that fail are skipped
    /// for a while; a signer that restarted (new boot) has its old commitments dropped.
    pub async fn refill_forever(self: Arc<Self>) {
        loop {
            self.refill_once().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// One pass of [`Cluster::refill_forever`].
    pub async fn refill_once(&self) {
        let wallets: Vec<KeyId> = self
            .wallets
            .lock()
            .map(|w| w.iter().cloned().collect())
            .unwrap_or_default();
        let mut work = Vec::new();
        for key in &wallets {
            for (party, signer) in &self.signers {
                if self.recently_down(*party) {
                    continue;
                }
                let have = self
                    .pools
                    .lock()
                    .map(|p| p.get(&(key.clone(), *party)).map_or(0, |q| q.ready.len()))
                    .unwrap_or(0);
                if have * 2 < self.pool_target {
                    let want = u32::try_from(self.pool_target - have).unwrap_or(u32::MAX);
                    work.push(async move { (key, *party, signer.commit(key, want).await) });
                }
            }
        }
        for (key, party, r) in join_all(work).await {
            match r {
                Ok((boot, fresh)) => {
                    self.note_ok(party);
                    if let Ok(mut p) = self.pools.lock() {
                        let pool = p.entry((key.clone(), party)).or_default();
                        if pool.boot != boot {
                            pool.ready.clear();
                            pool.boot = boot;
                        }
                        pool.ready.extend(fresh);
                    }
                }
                Err(e) => {
                    self.note(&e);
                    if e.code == "nonce_pool_full" {
                        self.forget_pool(party);
                    }
                }
            }
        }
        let sizes: usize = self
            .pools
            .lock()
            .map(|p| p.values().map(|q| q.ready.len()).sum())
            .unwrap_or(0);
        self.metrics.set_pooled(sizes);
    }
}

/// What one signer sent back in a round of an ECDSA session.
enum RoundOut {
    Send(Vec<PartyMessage>),
    Signed([u8; 65]),
}

/// Why an ECDSA session ended without a signature.
enum SessionFailure {
    /// The signers refused the request or the transaction itself.
    Refused(LinkError),
    /// Signers failed, were unreachable, or were blamed.
    Failed(Vec<LinkError>),
}

/// Why signing ended without a signature after every attempt: `Unavailable`, or `Failed` naming
/// the signers blamed (after `blamed`). The last signer error goes to the log only: it may name
/// addresses and internals.
fn no_quorum(
    request_id: &str,
    t: usize,
    culprits: Vec<PartyId>,
    last: Option<&str>,
    blamed: &str,
) -> ClusterError {
    if let Some(l) = last {
        tracing::warn!(request_id, last_error = %l, "signing failed");
    }
    let message = if culprits.is_empty() {
        format!("no quorum of {t} healthy signers")
    } else {
        let names: Vec<String> = culprits.iter().map(ToString::to_string).collect();
        format!(
            "no quorum of {t} healthy signers; {blamed} {}",
            names.join(", ")
        )
    };
    if culprits.is_empty() {
        ClusterError::Unavailable(message)
    } else {
        ClusterError::Failed {
            code: "bad_signature_share".into(),
            message,
            culprits,
        }
    }
}

fn protocol_error(party: PartyId, what: &str) -> LinkError {
    LinkError {
        party,
        code: "protocol_error".into(),
        message: format!("unexpected answer in a signing session: {what}"),
        culprits: vec![party],
    }
}

/// Codes by which a signer refuses what it is asked to sign, as opposed to failing: every honest
/// signer answers the same, so trying another quorum is pointless.
fn refused_request(code: &str) -> bool {
    matches!(
        code,
        "not_what_was_asked"
            | "forbidden"
            | "request_closed"
            | "unknown_request"
            | "unsupported_scheme"
            | "raw_signing_not_allowed"
            | "chain_not_configured"
            | "unknown_asset"
            | "too_many_decimals"
            | "invalid_amount"
            | "wrong_recipient"
            | "wrong_amount"
            | "wrong_asset"
            | "wrong_chain"
            | "wrong_nonce"
            | "not_a_transfer"
            | "fee_too_high"
            | "fee_bump_too_small"
            | "too_many_fee_bumps"
            | "invalid_tx"
            | "unsupported_tx_type"
            | "wrong_data"
            | "wrong_fees"
            | "wrong_tx"
            | "wrong_account"
            | "tx_already_bound"
    )
}

fn session_error(e: SessionError) -> ClusterError {
    let culprits = e.culprits();
    // The full error goes to the log; the client gets the code and who is blamed.
    tracing::warn!(error = %e, "key generation failed");
    let blamed: Vec<String> = culprits.iter().map(ToString::to_string).collect();
    let blame = if blamed.is_empty() {
        String::new()
    } else {
        format!(", blamed on {}", blamed.join(", "))
    };
    match &e {
        SessionError::Signer(l) if is_transport(l) => ClusterError::Unavailable(format!(
            "key generation needs every signer, and {} is unreachable",
            l.party
        )),
        SessionError::Signer(l) => ClusterError::Failed {
            code: l.code.clone(),
            message: format!(
                "{} refused the key generation{blame}; nothing was kept",
                l.party
            ),
            culprits,
        },
        _ => ClusterError::Failed {
            code: "key_generation_failed".into(),
            message: format!("key generation failed{blame}; nothing was kept"),
            culprits,
        },
    }
}
