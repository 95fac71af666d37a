//! The threshold library without the service: `tessera_crypto` with every party in this thread
//! and messages passed in memory. No store, no vault, no network, no token checks: the floor
//! that `tessera bench` compares the service with.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::OsRng;
use tessera_crypto::protocol::{Inbox, Protocol, Session, SessionId, Step};
use tessera_crypto::{
    CryptoError, Dkg, EcdsaSign, EcdsaSignature, KeyOutput, KeyShare, Signature, SigningPackage,
    aggregate, commit, sign,
};
use tessera_types::{PartyId, Scheme, Threshold};

use crate::CliError;

fn failed(what: &str) -> impl Fn(CryptoError) -> CliError + '_ {
    move |e| CliError::new(format!("in-process {what}: {e}"))
}

/// Runs `states` (one per party) to the end, delivering every outbox to its recipients after
/// each round; `outboxes` are the messages of the first round.
fn run<P: Protocol>(
    mut states: BTreeMap<PartyId, P>,
    mut outboxes: BTreeMap<PartyId, BTreeMap<PartyId, Vec<u8>>>,
) -> Result<Vec<P::Output>, CryptoError> {
    let mut outputs = Vec::new();
    while !states.is_empty() {
        let mut inboxes: BTreeMap<PartyId, Inbox> = BTreeMap::new();
        for (from, out) in std::mem::take(&mut outboxes) {
            for (to, payload) in out {
                inboxes.entry(to).or_default().0.insert(from, payload);
            }
        }
        for (party, state) in std::mem::take(&mut states) {
            let inbox = inboxes.remove(&party).unwrap_or_default();
            match state.advance(&inbox)? {
                Step::Send(next, out) => {
                    states.insert(party, next);
                    outboxes.insert(party, out.0);
                }
                Step::Done(output) => outputs.push(output),
            }
        }
    }
    Ok(outputs)
}

/// A key of `scheme` shared among parties 1 to n of `threshold` by `tessera_crypto`'s DKG, every
/// party in this thread. One output per party, in party order.
pub fn generate_key(scheme: Scheme, threshold: Threshold) -> Result<Vec<KeyOutput>, CliError> {
    let dkg = failed("key generation");
    let parties: BTreeSet<PartyId> = (1..=threshold.n())
        .filter_map(|p| PartyId::new(p).ok())
        .collect();
    let mut states = BTreeMap::new();
    let mut outboxes = BTreeMap::new();
    let mut outputs = Vec::new();
    for p in &parties {
        let session = Session::new(
            SessionId([0x6b; 16]),
            scheme,
            threshold,
            parties.clone(),
            *p,
        )
        .map_err(&dkg)?;
        match Dkg::start(session, &mut OsRng).map_err(&dkg)? {
            Step::Send(state, out) => {
                states.insert(*p, state);
                outboxes.insert(*p, out.0);
            }
            Step::Done(output) => outputs.push(output),
        }
    }
    outputs.extend(run(states, outboxes).map_err(&dkg)?);
    outputs.sort_by_key(|o| o.share.party());
    Ok(outputs)
}

/// One FROST signature on `message` by `shares` (at least t of them): a fresh nonce pair per
/// signer (round 1), each signer's share (round 2), then aggregation, which verifies the result.
pub fn frost_sign(keys: &[&KeyOutput], message: &[u8]) -> Result<Signature, CliError> {
    let failed = failed("signing");
    let nonces: Vec<_> = keys.iter().map(|k| commit(&k.share, &mut OsRng)).collect();
    let commitments = nonces.iter().map(|n| n.commitment().clone()).collect();
    let package = SigningPackage::new(message, commitments).map_err(&failed)?;
    let shares = keys
        .iter()
        .zip(nonces)
        .map(|(k, n)| sign(&k.share, n, &package))
        .collect::<Result<Vec<_>, _>>()
        .map_err(&failed)?;
    let group = keys
        .first()
        .map(|k| &k.group)
        .ok_or_else(|| CliError::new("in-process signing: no signers"))?;
    aggregate(group, &package, &shares).map_err(&failed)
}

/// One threshold ECDSA signature on the 32-byte `hash` by `shares` (exactly t of them), through
/// `tessera_crypto`'s `EcdsaSign` (dkls23 inside, with envelopes, sender checks, and `k256`
/// verification and key recovery of the result). `id` makes the session id: a fresh one per
/// signature.
pub fn ecdsa_sign(
    shares: &[&KeyShare],
    hash: [u8; 32],
    id: u64,
) -> Result<EcdsaSignature, CliError> {
    let failed = failed("signing");
    let signers: BTreeSet<PartyId> = shares.iter().map(|s| s.party()).collect();
    let mut sid = [0u8; 16];
    for (slot, byte) in sid.iter_mut().zip(id.to_be_bytes()) {
        *slot = byte;
    }
    let mut states = BTreeMap::new();
    let mut outboxes = BTreeMap::new();
    for share in shares {
        let session = Session::for_signing(
            SessionId(sid),
            Scheme::EcdsaSecp256k1,
            share.threshold(),
            signers.clone(),
            share.party(),
        )
        .map_err(&failed)?;
        let (state, out) = EcdsaSign::start(share, session, hash).map_err(&failed)?;
        states.insert(share.party(), state);
        outboxes.insert(share.party(), out.0);
    }
    let signatures = run(states, outboxes).map_err(&failed)?;
    match signatures.split_first() {
        Some((first, rest)) if rest.iter().all(|s| s == first) => Ok(*first),
        _ => Err(CliError::new(
            "in-process signing: the signers assembled different signatures",
        )),
    }
}
