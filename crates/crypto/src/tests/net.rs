//! An in-process network for the protocols of this crate: every party runs in one thread, each
//! round's outboxes become the next round's inboxes, and a hook may change any message on the
//! way (to play a cheating party or a broken relay).
//!
//! Threshold ECDSA key generation is slow (seconds), so the 2-of-3 key that most tests use is
//! generated once per test binary and handed out in its persisted form. The ECDSA checks the
//! tests share are here too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tessera_types::{PartyId, Scheme, Threshold};

use crate::ecdsa::dkls::{decode, encode};
use crate::protocol::{ENVELOPE_LEN, Inbox, Outbox, Protocol, Session, SessionId, Step};
use crate::secret::SecretBytes;
use crate::{CryptoError, Dkg, EcdsaSign, EcdsaSignature, GroupKey, KeyOutput, KeyShare};

pub(super) fn party(p: u16) -> PartyId {
    PartyId::new(p).unwrap()
}

pub(super) fn parties(n: u16) -> BTreeSet<PartyId> {
    (1..=n).map(party).collect()
}

/// Changes a message in flight: `(round, from, to, payload)`.
pub(super) type Tamper<'a> = &'a mut dyn FnMut(u8, PartyId, PartyId, &mut Vec<u8>);

/// No change.
pub(super) fn honest(_: u8, _: PartyId, _: PartyId, _: &mut Vec<u8>) {}

/// Runs every party to its end. A party that fails stops; the others then miss its messages.
pub(super) fn run<P: Protocol>(
    start: BTreeMap<PartyId, (P, Outbox)>,
    tamper: Tamper<'_>,
) -> BTreeMap<PartyId, Result<P::Output, CryptoError>> {
    let mut states = BTreeMap::new();
    let mut outboxes = BTreeMap::new();
    for (p, (s, out)) in start {
        states.insert(p, s);
        outboxes.insert(p, out);
    }
    let mut results = BTreeMap::new();
    let mut round = 1u8;
    while !states.is_empty() {
        let mut inboxes: BTreeMap<PartyId, Inbox> = BTreeMap::new();
        for (from, out) in std::mem::take(&mut outboxes) {
            for (to, mut payload) in out.0 {
                tamper(round, from, to, &mut payload);
                inboxes.entry(to).or_default().0.insert(from, payload);
            }
        }
        for (p, s) in std::mem::take(&mut states) {
            match s.advance(&inboxes.remove(&p).unwrap_or_default()) {
                Ok(Step::Send(s, out)) => {
                    states.insert(p, s);
                    outboxes.insert(p, out);
                }
                Ok(Step::Done(o)) => {
                    results.insert(p, Ok(o));
                }
                Err(e) => {
                    results.insert(p, Err(e));
                }
            }
        }
        round += 1;
    }
    results
}

/// Rewrites the body of a sealed payload as a `T`.
pub(super) fn edit<T: Serialize + DeserializeOwned>(payload: &mut Vec<u8>, f: impl FnOnce(&mut T)) {
    let (head, body) = payload.split_at(ENVELOPE_LEN);
    let mut value: T = decode(body).unwrap();
    f(&mut value);
    let mut out = head.to_vec();
    out.extend(encode(&value).unwrap());
    *payload = out;
}

pub(super) fn session(id: u8, threshold: Threshold, me: PartyId) -> Session {
    let n = threshold.n();
    Session::new(
        SessionId([id; 16]),
        Scheme::EcdsaSecp256k1,
        threshold,
        parties(n),
        me,
    )
    .unwrap()
}

/// An ECDSA DKG among parties 1 to n.
pub(super) fn ecdsa_dkg(
    id: u8,
    threshold: Threshold,
    tamper: Tamper<'_>,
) -> BTreeMap<PartyId, Result<KeyOutput, CryptoError>> {
    let mut start = BTreeMap::new();
    for p in parties(threshold.n()) {
        match Dkg::start(session(id, threshold, p), &mut rand::rngs::OsRng).unwrap() {
            Step::Send(s, out) => {
                start.insert(p, (s, out));
            }
            Step::Done(_) => panic!("an ECDSA DKG has rounds"),
        }
    }
    run(start, tamper)
}

/// Unwraps every party's result of an honest run.
pub(super) fn all_ok<O>(results: BTreeMap<PartyId, Result<O, CryptoError>>) -> Vec<O> {
    results
        .into_iter()
        .map(|(p, r)| r.unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect()
}

/// A signing session among `signers` of `shares` on `hash`.
pub(super) fn ecdsa_sign(
    shares: &[&KeyShare],
    hash: [u8; 32],
    id: u8,
    tamper: Tamper<'_>,
) -> BTreeMap<PartyId, Result<EcdsaSignature, CryptoError>> {
    let signers: BTreeSet<PartyId> = shares.iter().map(|s| s.party()).collect();
    let mut start = BTreeMap::new();
    for share in shares {
        let session = Session::for_signing(
            SessionId([id; 16]),
            Scheme::EcdsaSecp256k1,
            share.threshold(),
            signers.clone(),
            share.party(),
        )
        .unwrap();
        start.insert(
            share.party(),
            EcdsaSign::start(share, session, hash).unwrap(),
        );
    }
    run(start, tamper)
}

/// The 2-of-3 key most tests share, persisted.
struct Key {
    shares: Vec<SecretBytes>,
    group: Vec<u8>,
}

static KEY_2_OF_3: OnceLock<Key> = OnceLock::new();

/// The shared 2-of-3 ECDSA key, parsed afresh for each caller (shares are not `Clone`).
pub(super) fn key_2_of_3() -> (Vec<KeyShare>, GroupKey) {
    let key = KEY_2_OF_3.get_or_init(|| {
        let outs = all_ok(ecdsa_dkg(200, Threshold::new(2, 3).unwrap(), &mut honest));
        Key {
            shares: outs
                .iter()
                .map(|o| o.share.to_secret_bytes().unwrap())
                .collect(),
            group: outs[0].group.to_bytes().unwrap(),
        }
    });
    let shares = key
        .shares
        .iter()
        .map(|b| KeyShare::from_secret_bytes(b.expose()).unwrap())
        .collect();
    (shares, GroupKey::from_bytes(&key.group).unwrap())
}

/// SHA-256 of `message`: the 32-byte hash that ECDSA signs.
pub(super) fn hash(message: &[u8]) -> [u8; 32] {
    Sha256::digest(message).into()
}

/// `k256` 0.13's own view of a signature: it verifies with `verify_prehash`, `s` is low, and
/// the recovery id `k256` finds by trial is the one given.
pub(super) fn k256_accepts(
    public_key: &[u8],
    message_hash: &[u8; 32],
    sig: &EcdsaSignature,
) -> bool {
    let Ok(vk) = k256::ecdsa::VerifyingKey::from_sec1_bytes(public_key) else {
        return false;
    };
    let Ok(s) = k256::ecdsa::Signature::from_scalars(sig.r, sig.s) else {
        return false;
    };
    let recovered = k256::ecdsa::RecoveryId::trial_recovery_from_prehash(&vk, message_hash, &s);
    s.normalize_s().is_none()
        && vk.verify_prehash(message_hash, &s).is_ok()
        && recovered.is_ok_and(|id| id.to_byte() == sig.recovery_id)
}

/// Every signer's signature, checked equal.
pub(super) fn one_signature(
    results: BTreeMap<PartyId, Result<EcdsaSignature, CryptoError>>,
) -> EcdsaSignature {
    let sigs = all_ok(results);
    assert!(sigs.windows(2).all(|w| w[0] == w[1]), "signers disagree");
    sigs[0]
}

/// The error party `p` ended with.
pub(super) fn err_at<O: std::fmt::Debug>(
    results: &BTreeMap<PartyId, Result<O, CryptoError>>,
    p: u16,
) -> &CryptoError {
    results[&party(p)].as_ref().unwrap_err()
}
