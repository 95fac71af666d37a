//! The signer daemon: one [`SignerNode`] behind mutual TLS, answering the coordinator's
//! versioned messages.
//!
//! Only peers whose certificate names one of the configured coordinators are served. Every
//! message is decoded strictly ([`tessera_wire::decode_request`]); the node is driven from a
//! blocking thread, one message at a time, since each step may fsync.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tessera_crypto::protocol::{Inbox, Outbox, Session, SessionId};
use tessera_crypto::{GroupKey, SecretBytes, SigningPackage};
use tessera_net::rpc::Peer;
use tessera_signer::peer::PeerKeys;
use tessera_signer::{EcdsaProgress, Progress, Rules, Signer, SignerError, SignerNode};
use tessera_types::{PartyId, Threshold};
use tessera_vault::KdfParams;
use tessera_wire::{PartyMessage, Reply, Request, SessionSpec, WireError, WireProgress};

use crate::config::{self, Kdf, SignerConfig};
use crate::{NodeError, unix_now};

/// Sees, and may change, every answer before it leaves: `(operation, answer)`. Fault injection
/// for tests of Byzantine signers; the `tessera signer` command never sets one.
pub type ReplyTamper = Arc<dyn Fn(&str, &mut Result<Reply, WireError>) + Send + Sync>;

/// Runs a signer until `shutdown` resolves.
pub async fn run(config_path: &Path, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    run_with(config_path, shutdown, None).await
}

/// [`run`], with answers passed through `tamper` (tests only).
pub async fn run_with(
    config_path: &Path,
    shutdown: impl Future<Output = ()>,
    tamper: Option<ReplyTamper>,
) -> Result<(), NodeError> {
    let cfg: SignerConfig = config::load(config_path)?;
    let hardening = tessera_crypto::harden_process();
    for (what, r) in [
        ("non-dumpable", &hardening.non_dumpable),
        ("no core files", &hardening.no_core_files),
        ("memory locked", &hardening.memory_locked),
    ] {
        if let Err(e) = r {
            tracing::warn!(protection = what, reason = %e, "process hardening refused");
        }
    }
    let node = open_node(config_path, &cfg)?;
    // The passphrase and the Argon2id state that derived the vault key lived in frames below
    // this one: overwrite them.
    tessera_crypto::wipe_stack();
    let party = node.party();
    let node = Arc::new(Mutex::new(node));
    let tls = tessera_net::tls::server_config(&cfg.tls.files())?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| NodeError::new("listen_failed", format!("{}: {e}", cfg.listen)))?;
    if let Some(pid) = &cfg.pid_file {
        crate::write_pid(pid)?;
    }
    tracing::info!(%party, listen = %cfg.listen, "signer ready");
    let allowed: Arc<BTreeSet<String>> = Arc::new(cfg.coordinators.iter().cloned().collect());
    let handler = move |peer: Peer, body: bytes::Bytes| {
        let node = Arc::clone(&node);
        let allowed = Arc::clone(&allowed);
        let tamper = tamper.clone();
        async move {
            let reply = if allowed.contains(&peer.name) {
                tokio::task::spawn_blocking(move || {
                    let (op, mut reply) = handle_bytes(&node, &body);
                    // The operation's dead frames may hold copies of a share, a nonce or the
                    // vault key (library locals, moved values): overwrite them.
                    tessera_crypto::wipe_stack();
                    if let Some(t) = tamper {
                        t(op, &mut reply);
                    }
                    reply
                })
                .await
                .unwrap_or_else(|e| Err(WireError::new("internal", format!("task: {e}"))))
            } else {
                tracing::warn!(peer = %peer.name, "refused a node that is not a configured coordinator");
                Err(WireError::new(
                    "unauthorized_peer",
                    format!("node `{}` may not call this signer", peer.name),
                ))
            };
            tessera_wire::encode_reply(&reply)
        }
    };
    tessera_net::rpc::serve(listener, tls, handler, shutdown).await?;
    tracing::info!(%party, "signer stopped");
    Ok(())
}

fn open_node(config_path: &Path, cfg: &SignerConfig) -> Result<SignerNode, NodeError> {
    let party =
        PartyId::new(cfg.party).map_err(|e| NodeError::new("bad_config", format!("party: {e}")))?;
    let mut pass = std::fs::read(&cfg.passphrase_file).map_err(|e| {
        NodeError::new(
            "bad_config",
            format!("passphrase file `{}`: {e}", cfg.passphrase_file.display()),
        )
    })?;
    if pass.last() == Some(&b'\n') {
        pass.pop();
    }
    let passphrase = SecretBytes::new(pass);
    let mut signer = match Signer::open(&cfg.store, &passphrase) {
        Ok(s) => s,
        Err(SignerError::NotInitialised) => {
            let params = match cfg.kdf {
                Kdf::Argon2id => KdfParams::DEFAULT,
                Kdf::InsecureFast => KdfParams::INSECURE_FAST_FOR_TESTS,
            };
            Signer::create(&cfg.store, party, &passphrase, params)?
        }
        Err(e) => return Err(e.into()),
    };
    if signer.party() != party {
        return Err(NodeError::new(
            "bad_config",
            format!(
                "the store belongs to {}, the configuration says {party}",
                signer.party()
            ),
        ));
    }
    if let Some(file) = &cfg.audit_key_file {
        signer.set_audit_key(crate::audit::read_key(file)?);
    }
    let (threshold, parties) = config::cluster(config_path, &cfg.cluster)?;
    let peers = peer_keys(party, cfg, &parties)?;
    let rules = Rules {
        clients: config::clients(config_path, &cfg.clients)?,
        threshold,
        parties,
        tokens: cfg.tokens.policy(),
        max_sign_rounds: cfg.max_sign_rounds,
        peers,
        ethereum: cfg
            .ethereum
            .as_ref()
            .map(|e| e.rules())
            .transpose()
            .map_err(|m| NodeError::new("bad_config", m))?,
        bootstrap_policy: cfg
            .policy_file
            .as_deref()
            .map(|f| config::policy(config_path, f))
            .transpose()?,
    };
    let node = SignerNode::new(signer, rules)?;
    let policy = node.policy();
    tracing::info!(version = policy.version(), hash = %policy.hash(), "policy in force");
    Ok(node)
}

/// This signer's peer key, and a public peer key for every other party of the cluster.
fn peer_keys(
    party: PartyId,
    cfg: &SignerConfig,
    parties: &BTreeSet<PartyId>,
) -> Result<PeerKeys, NodeError> {
    let bad = |m: String| NodeError::new("bad_config", m);
    let secret = tessera_signer::peer::read_peer_key_file(&cfg.peer_key_file).map_err(bad)?;
    let mut publics = BTreeMap::new();
    for p in &cfg.peers {
        let mut pk = [0u8; 32];
        hex::decode_to_slice(&p.public_key, &mut pk).map_err(|_| {
            bad(format!(
                "peer {}: public key must be 32 bytes in hex",
                p.party
            ))
        })?;
        let peer = PartyId::new(p.party).map_err(|e| bad(e.to_string()))?;
        if peer == party || publics.insert(peer, pk).is_some() {
            return Err(bad(format!(
                "peer {} is this signer or listed twice",
                p.party
            )));
        }
    }
    for p in parties {
        if *p != party && !publics.contains_key(p) {
            return Err(bad(format!("no peer key for {p}")));
        }
    }
    PeerKeys::new(party, &secret, &publics).map_err(|e| bad(format!("peer keys: {e}")))
}

fn handle_bytes(node: &Mutex<SignerNode>, body: &[u8]) -> (&'static str, Result<Reply, WireError>) {
    let req = match tessera_wire::decode_request(body) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(code = %e.code, message = %e.message, "refused a message");
            return ("undecodable", Err(e));
        }
    };
    let op = req.op();
    let Ok(mut node) = node.lock() else {
        // A panic while holding the node left its state unknown: stop, and let the supervisor
        // start a fresh process (a new boot, whose pool and sessions start empty).
        tracing::error!("signer state poisoned by an earlier panic; exiting");
        std::process::exit(70);
    };
    let result = handle(&mut node, req);
    if let Err(e) = &result {
        tracing::info!(op, code = %e.code, message = %e.message, "refused");
    }
    (op, result)
}

fn breakers_reply(node: &SignerNode) -> Result<Reply, WireError> {
    let (breakers, risk, reset_quorum) = node.breakers().map_err(signer_err)?;
    Ok(Reply::Breakers {
        breakers,
        risk,
        reset_quorum,
    })
}

/// Carries out one message.
pub fn handle(node: &mut SignerNode, req: Request) -> Result<Reply, WireError> {
    match req {
        Request::Status => Ok(Reply::Status {
            party: node.party().get(),
            boot: node.boot(),
            keys: node.key_ids().map_err(signer_err)?,
        }),
        Request::Register {
            token,
            method,
            path,
            body_hex,
            policy_hash,
        } => {
            let body = unhex(&body_hex, "body")?;
            let r = node
                .register_checked(
                    &token,
                    &method,
                    &path,
                    &body,
                    unix_now(),
                    policy_hash.as_deref(),
                )
                .map_err(signer_err)?;
            Ok(Reply::Registered {
                receipt: receipt(node, &r.request_id),
                request_id: r.request_id,
                kind: r.intent.kind().to_owned(),
                wallet: r.intent.wallet().cloned(),
                ruling: Some(tessera_signer::wire_ruling(&r.ruling, r.approvals)),
            })
        }
        Request::Verdict {
            token,
            method,
            path,
            body_hex,
        } => {
            let body = unhex(&body_hex, "body")?;
            let (request_id, ruling, approvals) = node
                .verdict(&token, &method, &path, &body, unix_now())
                .map_err(signer_err)?;
            Ok(Reply::Ruled {
                receipt: receipt(node, &request_id),
                request_id,
                ruling: tessera_signer::wire_ruling(&ruling, approvals),
            })
        }
        Request::Guard {
            token,
            method,
            path,
            body_hex,
        } => {
            let body = unhex(&body_hex, "body")?;
            node.guard(&token, &method, &path, &body, unix_now())
                .map_err(signer_err)?;
            breakers_reply(node)
        }
        Request::Signal {
            wallet,
            signal,
            reason,
        } => {
            node.signal(
                wallet.as_ref().map(|w| w.as_str()),
                &signal,
                &reason,
                unix_now(),
            )
            .map_err(signer_err)?;
            breakers_reply(node)
        }
        Request::HotBalance {
            wallet,
            asset,
            base_units,
            chain_nonce,
        } => {
            node.hot_balance(wallet.as_str(), &asset, &base_units, unix_now())
                .map_err(signer_err)?;
            if let Some(n) = chain_nonce {
                node.check_chain_nonce(wallet.as_str(), n, unix_now())
                    .map_err(signer_err)?;
            }
            breakers_reply(node)
        }
        Request::Breakers => breakers_reply(node),
        Request::PolicyChange {
            token,
            method,
            path,
            body_hex,
        } => {
            let body = unhex(&body_hex, "body")?;
            let proposal = node
                .policy_change(&token, &method, &path, &body, unix_now())
                .map_err(signer_err)?;
            Ok(Reply::Proposal { proposal })
        }
        Request::AuditPage { after, limit } => node
            .audit_page(after, limit)
            .map(Reply::AuditPage)
            .map_err(signer_err),
        Request::Policy => {
            let policy = node.policy();
            Ok(Reply::Policy {
                version: policy.version(),
                hash: policy.hash().to_string(),
                text: Some(policy.text().to_owned()),
            })
        }
        Request::DkgStart {
            request_id,
            session,
        } => {
            let key_id = session.key_id.clone();
            let session = session_from(&session)?;
            let p = node
                .dkg_start(&request_id, session, &key_id)
                .map_err(signer_err)?;
            progress_reply(p)
        }
        Request::DkgAdvance { key_id, inbox } => {
            let p = node
                .dkg_advance(&key_id, &inbox_from(inbox)?)
                .map_err(signer_err)?;
            progress_reply(p)
        }
        Request::EcdsaStart {
            request_id,
            key_id,
            session_id_hex,
            signers,
            unsigned_tx_hex,
        } => {
            let session_id = session_id(&session_id_hex)?;
            let mut quorum = BTreeSet::new();
            for p in signers {
                if !quorum.insert(party(p)?) {
                    return Err(WireError::new(
                        "malformed_message",
                        "a signer is listed twice",
                    ));
                }
            }
            let unsigned = unsigned_tx_hex
                .map(|h| unhex(&h, "unsigned transaction"))
                .transpose()?;
            let out = node
                .ecdsa_start(
                    &request_id,
                    &key_id,
                    session_id,
                    quorum,
                    unsigned.as_deref(),
                )
                .map_err(signer_err)?;
            progress_reply(Progress::Send(out))
        }
        Request::EcdsaAdvance {
            key_id,
            session_id_hex,
            inbox,
        } => {
            let session_id = session_id(&session_id_hex)?;
            match node
                .ecdsa_advance(&key_id, &session_id, &inbox_from(inbox)?)
                .map_err(signer_err)?
            {
                EcdsaProgress::Send(out) => progress_reply(Progress::Send(out)),
                EcdsaProgress::Signed(sig) => Ok(Reply::Progress {
                    progress: WireProgress::Signed {
                        signature_hex: hex::encode(sig.to_bytes()),
                    },
                }),
            }
        }
        Request::Activate {
            key_id,
            group_key_hex,
        } => {
            let group =
                GroupKey::from_bytes(&unhex(&group_key_hex, "group key")?).map_err(crypto_err)?;
            node.activate(&key_id, &group).map_err(signer_err)?;
            Ok(Reply::Done)
        }
        Request::Abort { key_id } => {
            node.abort(&key_id).map_err(signer_err)?;
            Ok(Reply::Done)
        }
        Request::Commit { key_id, count } => {
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let cs = node.commit(&key_id, count).map_err(signer_err)?;
            let mut commitments_hex = Vec::with_capacity(cs.len());
            for c in cs {
                commitments_hex.push(hex::encode(c.to_bytes().map_err(crypto_err)?));
            }
            Ok(Reply::Commitments {
                boot: node.boot(),
                commitments_hex,
            })
        }
        Request::Sign {
            request_id,
            key_id,
            package_hex,
        } => {
            let package =
                SigningPackage::from_bytes(&unhex(&package_hex, "package")?).map_err(crypto_err)?;
            let share = node
                .sign(&request_id, &key_id, &package)
                .map_err(signer_err)?;
            Ok(Reply::Share {
                share_hex: hex::encode(share.to_bytes()),
            })
        }
        Request::Complete {
            request_id,
            signature_hex,
        } => {
            let sig = unhex(&signature_hex, "signature")?;
            node.complete(&request_id, &sig).map_err(signer_err)?;
            Ok(Reply::Done)
        }
        Request::GroupKey { key_id } => {
            let g = node.group_key(&key_id).map_err(signer_err)?;
            Ok(Reply::GroupKey {
                group_key_hex: hex::encode(g.to_bytes().map_err(crypto_err)?),
            })
        }
    }
}

/// The receipt for a decision just recorded. The decision is committed whatever happens here:
/// a receipt that cannot be made is logged and left out.
fn receipt(node: &SignerNode, request_id: &str) -> Option<tessera_audit::Receipt> {
    node.receipt(request_id).unwrap_or_else(|e| {
        tracing::error!(request_id, error = %e, "cannot make a receipt");
        None
    })
}

fn progress_reply(p: Progress) -> Result<Reply, WireError> {
    let progress = match p {
        Progress::Send(Outbox(out)) => WireProgress::Send {
            outbox: out
                .into_iter()
                .map(|(to, m)| PartyMessage {
                    party: to.get(),
                    payload_hex: hex::encode(m),
                })
                .collect(),
        },
        Progress::Done(g) => WireProgress::Done {
            group_key_hex: hex::encode(g.to_bytes().map_err(crypto_err)?),
        },
    };
    Ok(Reply::Progress { progress })
}

fn inbox_from(messages: Vec<PartyMessage>) -> Result<Inbox, WireError> {
    let mut msgs = BTreeMap::new();
    for m in messages {
        if msgs
            .insert(party(m.party)?, unhex(&m.payload_hex, "message")?)
            .is_some()
        {
            return Err(WireError::new(
                "malformed_message",
                "two messages from one party",
            ));
        }
    }
    Ok(Inbox(msgs))
}

fn session_id(text: &str) -> Result<SessionId, WireError> {
    let id: [u8; 16] = unhex(text, "session id")?
        .try_into()
        .map_err(|_| WireError::new("malformed_message", "a session id is 16 bytes"))?;
    Ok(SessionId(id))
}

fn session_from(s: &SessionSpec) -> Result<Session, WireError> {
    let id = session_id(&s.session_id_hex)?.0;
    let n = u16::try_from(s.parties.len())
        .map_err(|_| WireError::new("malformed_message", "too many parties"))?;
    let threshold =
        Threshold::new(s.t, n).map_err(|e| WireError::new("malformed_message", e.to_string()))?;
    let mut parties = BTreeSet::new();
    for p in &s.parties {
        parties.insert(party(*p)?);
    }
    Session::new(SessionId(id), s.scheme, threshold, parties, party(s.party)?).map_err(crypto_err)
}

fn party(p: u16) -> Result<PartyId, WireError> {
    PartyId::new(p).map_err(|e| WireError::new("malformed_message", e.to_string()))
}

fn unhex(s: &str, what: &str) -> Result<Vec<u8>, WireError> {
    hex::decode(s).map_err(|_| WireError::new("malformed_message", format!("{what} is not hex")))
}

fn crypto_err(e: tessera_crypto::CryptoError) -> WireError {
    signer_err(SignerError::Crypto(e))
}

/// A signer error as it travels: stable code, message, blamed parties.
pub fn signer_err(e: SignerError) -> WireError {
    let culprits = match &e {
        SignerError::Crypto(c) => c.culprits.iter().map(|p| p.get()).collect(),
        _ => Vec::new(),
    };
    WireError {
        code: e.code().to_owned(),
        message: e.to_string(),
        culprits,
    }
}
