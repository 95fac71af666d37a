//! Threshold ECDSA 2-of-3 driven in this thread: straight from `dkls23` ([`bare`]) and through
//! `tessera_crypto` ([`tessera_key`], [`tessera_sign`]), messages passed in memory.

#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark drivers with every party in this thread and no outside input: a failure \
              is a bug that should stop the run"
)]

use tessera_cli::bench::library;
use tessera_crypto::{EcdsaSignature, KeyOutput, KeyShare};
use tessera_types::{Scheme, Threshold};

/// Threshold ECDSA straight from `dkls23`, every party in this thread.
pub mod bare {
    use std::collections::BTreeMap;

    use dkls23::protocols::signing::{SignData, TransmitPhase1to2, TransmitPhase2to3};
    use dkls23::protocols::{Parameters, PartiesMessage, PartyIndex};
    use dkls23::{DkgSession, EcdsaSignature, SignSession};

    type C = k256_14::Secp256k1;

    /// One party's key material.
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

/// `EcdsaSign` for every signer in `shares`, in this thread; `id` makes the session id. The
/// result is verified and its key recovered inside `tessera_crypto`, as in a signer. The driver
/// is `tessera bench`'s library baseline ([`tessera_cli::bench::library`]).
pub fn tessera_sign(shares: &[&KeyShare], hash: [u8; 32], id: u64) -> EcdsaSignature {
    library::ecdsa_sign(shares, hash, id).expect("in-process ECDSA signature")
}

/// A 2-of-3 key from `tessera_crypto::Dkg`, every party in this thread.
pub fn tessera_key() -> Vec<KeyOutput> {
    let threshold = Threshold::new(2, 3).expect("threshold");
    library::generate_key(Scheme::EcdsaSecp256k1, threshold).expect("in-process ECDSA key")
}
