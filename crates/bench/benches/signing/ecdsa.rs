//! `sign/ecdsa-secp256k1/2-of-3`: threshold ECDSA from `dkls23` bare and through
//! `tessera_crypto::EcdsaSign`, beside single-key `k256` ECDSA (see `signing.rs`).

use std::hint::black_box;

use criterion::Criterion;
use rand::rngs::OsRng;
use tessera_types::{Scheme, Threshold};

use crate::{MESSAGE, group_name};

/// Threshold ECDSA straight from `dkls23`, every party in this thread.
mod bare_dkls {
    use std::collections::BTreeMap;

    use dkls23::protocols::signing::{SignData, TransmitPhase1to2, TransmitPhase2to3};
    use dkls23::protocols::{Parameters, PartiesMessage, PartyIndex};
    use dkls23::{DkgSession, EcdsaSignature, SignSession};

    type C = k256_14::Secp256k1;
    pub type Party = dkls23::secp256k1::Party;

    fn index(i: u8) -> PartyIndex {
        PartyIndex::new(i).expect("nonzero index")
    }

    /// The messages of `all` addressed to `me`.
    fn to<T: Clone>(me: PartyIndex, all: &[T], parties: fn(&T) -> &PartiesMessage) -> Vec<T> {
        all.iter()
            .filter(|m| parties(m).receiver == me)
            .cloned()
            .collect()
    }

    /// The four-phase DKG among parties 1..=n, messages passed in memory.
    pub fn dkg(t: u8, n: u8) -> Vec<Party> {
        let params = Parameters::new(t, n).expect("parameters");
        let sid = b"tessera bench: bare dkls23 dkg".to_vec();
        let mut sessions: Vec<DkgSession<C>> = (1..=n)
            .map(|i| DkgSession::new(params.clone(), index(i), sid.clone()))
            .collect();
        let values: Vec<Vec<_>> = sessions.iter().map(|s| s.phase1()).collect();
        let mut proofs = Vec::new();
        let (mut zero2, mut chain2) = (Vec::new(), BTreeMap::new());
        for (k, s) in sessions.iter_mut().enumerate() {
            let mine: Vec<_> = values.iter().map(|row| row[k]).collect();
            let (proof, zero, chain) = s.phase2(&mine).expect("dkg phase 2");
            proofs.push(proof);
            zero2.extend(zero);
            chain2.insert(chain.sender_index, chain);
        }
        let (mut zero3, mut mul3, mut chain3) = (Vec::new(), Vec::new(), BTreeMap::new());
        for s in sessions.iter_mut() {
            let (zero, mul, chain) = s.phase3().expect("dkg phase 3");
            zero3.extend(zero);
            mul3.extend(mul);
            chain3.insert(chain.sender_index, chain);
        }
        sessions
            .into_iter()
            .enumerate()
            .map(|(k, s)| {
                let me = index(u8::try_from(k + 1).expect("party index"));
                let z2 = to(me, &zero2, |m| &m.parties);
                let z3 = to(me, &zero3, |m| &m.parties);
                let m3 = to(me, &mul3, |m| &m.parties);
                let (party, _) = s
                    .phase4(&proofs, &z2, &z3, &m3, &chain2, &chain3, |_| String::new())
                    .expect("dkg phase 4");
                party
            })
            .collect()
    }

    /// One signature by `parties` (exactly t of them), low-S, assembled by every signer.
    pub fn sign(parties: &[&Party], hash: [u8; 32], sign_id: &[u8]) -> EcdsaSignature {
        let all: Vec<PartyIndex> = parties.iter().map(|p| p.party_index).collect();
        let mut sessions = Vec::new();
        let mut round1: Vec<TransmitPhase1to2> = Vec::new();
        for p in parties {
            let data = SignData {
                sign_id: sign_id.to_vec(),
                counterparties: all
                    .iter()
                    .copied()
                    .filter(|i| *i != p.party_index)
                    .collect(),
                message_hash: hash,
            };
            let (s, out) = SignSession::new(p, data).expect("sign phase 1");
            sessions.push(s);
            round1.extend(out);
        }
        let mut round2: Vec<TransmitPhase2to3<C>> = Vec::new();
        for (s, me) in sessions.iter_mut().zip(&all) {
            let mine = to(*me, &round1, |m| &m.parties);
            round2.extend(s.phase2(&mine).expect("sign phase 2"));
        }
        let mut round3 = Vec::new();
        for (s, me) in sessions.iter_mut().zip(&all) {
            let mine = to(*me, &round2, |m| &m.parties);
            round3.push(s.phase3(&mine).expect("sign phase 3"));
        }
        let signatures: Vec<EcdsaSignature> = sessions
            .into_iter()
            .map(|s| s.phase4(&round3, true).expect("sign phase 4"))
            .collect();
        assert!(
            signatures.windows(2).all(|w| w[0] == w[1]),
            "signers disagree"
        );
        signatures.into_iter().next().expect("a signer")
    }
}

/// `EcdsaSign` for every signer in `shares`, in this thread.
fn tessera_ecdsa_sign(
    shares: &[&tessera_crypto::KeyShare],
    hash: [u8; 32],
    id: u64,
) -> tessera_crypto::EcdsaSignature {
    use std::collections::{BTreeMap, BTreeSet};
    use tessera_crypto::protocol::{Inbox, Session, SessionId, Step};

    let signers: BTreeSet<_> = shares.iter().map(|s| s.party()).collect();
    let mut sid = [0u8; 16];
    sid[..8].copy_from_slice(&id.to_be_bytes());
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
        .expect("signing session");
        let (s, out) = tessera_crypto::EcdsaSign::start(share, session, hash).expect("start");
        states.insert(share.party(), s);
        outboxes.insert(share.party(), out);
    }
    loop {
        let mut inboxes: BTreeMap<_, Inbox> = BTreeMap::new();
        for (from, out) in std::mem::take(&mut outboxes) {
            for (to, payload) in out.0 {
                inboxes.entry(to).or_default().0.insert(from, payload);
            }
        }
        let mut done = Vec::new();
        for (p, s) in std::mem::take(&mut states) {
            match s.advance(&inboxes[&p]).expect("advance") {
                Step::Send(s, out) => {
                    states.insert(p, s);
                    outboxes.insert(p, out);
                }
                Step::Done(sig) => done.push(sig),
            }
        }
        if let Some(sig) = done.first() {
            assert!(done.iter().all(|s| s == sig), "signers disagree");
            return *sig;
        }
    }
}

/// A 2-of-3 key from `tessera_crypto::Dkg`, every party in this thread.
fn tessera_ecdsa_key() -> Vec<tessera_crypto::KeyOutput> {
    use std::collections::BTreeMap;
    use tessera_crypto::Dkg;
    use tessera_crypto::protocol::{Inbox, Session, SessionId, Step};

    let threshold = Threshold::new(2, 3).expect("threshold");
    let parties: std::collections::BTreeSet<_> = (1..=3)
        .map(|p| tessera_types::PartyId::new(p).expect("party"))
        .collect();
    let mut states = BTreeMap::new();
    let mut outboxes = BTreeMap::new();
    for p in &parties {
        let session = Session::new(
            SessionId([1; 16]),
            Scheme::EcdsaSecp256k1,
            threshold,
            parties.clone(),
            *p,
        )
        .expect("session");
        match Dkg::start(session, &mut OsRng).expect("dkg start") {
            Step::Send(s, out) => {
                states.insert(*p, s);
                outboxes.insert(*p, out);
            }
            Step::Done(_) => unreachable!("an ECDSA DKG has rounds"),
        }
    }
    let mut outputs = Vec::new();
    while !states.is_empty() {
        let mut inboxes: BTreeMap<_, Inbox> = BTreeMap::new();
        for (from, out) in std::mem::take(&mut outboxes) {
            for (to, payload) in out.0 {
                inboxes.entry(to).or_default().0.insert(from, payload);
            }
        }
        for (p, s) in std::mem::take(&mut states) {
            match s.advance(&inboxes[&p]).expect("dkg") {
                Step::Send(s, out) => {
                    states.insert(p, s);
                    outboxes.insert(p, out);
                }
                Step::Done(o) => outputs.push(o),
            }
        }
    }
    outputs
}

pub fn sign_ecdsa(c: &mut Criterion) {
    let scheme = Scheme::EcdsaSecp256k1;
    let mut group = c.benchmark_group(group_name("sign", scheme, 2, 3));

    let single = k256::ecdsa::SigningKey::random(&mut OsRng);
    group.bench_function("single_key", |b| {
        b.iter(|| {
            single
                .sign_prehash_recoverable(black_box(&MESSAGE))
                .expect("ECDSA sign")
        });
    });

    let bare = bare_dkls::dkg(2, 3);
    let mut sign_id = 0u64;
    group.bench_function("dkls23_bare", |b| {
        b.iter(|| {
            sign_id += 1;
            bare_dkls::sign(
                &[&bare[0], &bare[1]],
                black_box(MESSAGE),
                &sign_id.to_be_bytes(),
            )
        });
    });

    let keys = tessera_ecdsa_key();
    let shares = [&keys[0].share, &keys[1].share];
    // Check once, with a verifier independent of the signing library, that the rows time a
    // correct signature.
    let signature = tessera_ecdsa_sign(&shares, MESSAGE, 0);
    assert!(tessera_testkit::independent_verify(
        scheme,
        &keys[0].group.public_key(),
        &MESSAGE,
        &signature.to_bytes(),
    ));
    let mut id = 0u64;
    group.bench_function("tessera_crypto", |b| {
        b.iter(|| {
            id += 1;
            tessera_ecdsa_sign(&shares, black_box(MESSAGE), id)
        });
    });
    group.finish();
}
