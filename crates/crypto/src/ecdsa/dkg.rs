//! Threshold ECDSA key generation: `dkls23`'s DKG (DKLs23 over secp256k1) in this crate's
//! round model, followed by a confirmation round.
//!
//! Rounds (each message under an [`crate::protocol::Envelope`] of kind `Dkg`, scheme
//! `ecdsa-secp256k1`, this session; postcard bodies):
//! 1. to each party: its value of the sender's random polynomial (secret);
//! 2. to each party: the commitment to the sender's proof of knowledge, its zero-share seed
//!    commitment for that party, and the commitment to its chain-code contribution;
//! 3. to each party: the sender's proof of knowledge (opening round 2's commitment), its
//!    zero-share seed for that party (secret), its oblivious-transfer setup for that pair
//!    (about 143 KB), and the opening of its chain-code contribution;
//! 4. broadcast: a digest of the public key package and chain code. `dkls23` does not check
//!    that a broadcast reached everyone unchanged, so a party that sent different proofs or
//!    chain codes to different parties is caught here, before the key is used.
//!
//! Before the crate sees any input, every sender and count is checked: `dkls23`'s phase 2
//! sums whatever fragments it is given, and its broadcasts name their sender themselves, so
//! the crate would accept two fragments from one party or a broadcast under another's name.
//! The crate draws its own randomness (`rand::rng()`): the caller's RNG is not used.

use std::collections::BTreeMap;

use dkls23::DkgSession;
use dkls23::protocols::dkg::{
    BroadcastDerivationPhase2to4, BroadcastDerivationPhase3to4, ProofCommitment,
    TransmitInitMulPhase3to4, TransmitInitZeroSharePhase2to4, TransmitInitZeroSharePhase3to4,
};
use dkls23::utilities::hashes::HashOutput;
use dkls23::utilities::proofs::DLogProof;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_types::PartyId;
use zeroize::{Zeroize, Zeroizing};

use crate::dkg::{KeyOutput, check_confirmations, envelope};
use crate::ecdsa::dkls::{
    Curve, Party, PublicPackage, Scalar, check_key_session, check_route, check_sender,
    dkls_session_id, encode, from_abort, index, parameters, parse_inbox,
};
use crate::ecdsa::keys::{CHAIN_CODE_LEN, EcdsaGroup, EcdsaShare};
use crate::error::{CryptoError, ErrorKind};
use crate::keys::{GroupInner, GroupKey, KeyShare, ShareInner};
use crate::protocol::{Inbox, ProtocolKind, Session, Step, open_inbox, outbox};

/// Round 2, to one party.
#[derive(Serialize, Deserialize)]
pub(crate) struct Round2 {
    pub(crate) proof_commitment: HashOutput,
    pub(crate) zero: TransmitInitZeroSharePhase2to4,
    pub(crate) chain: BroadcastDerivationPhase2to4,
}

/// Round 3, to one party.
#[derive(Serialize, Deserialize)]
pub(crate) struct Round3 {
    pub(crate) proof: DLogProof<Curve>,
    pub(crate) zero: TransmitInitZeroSharePhase3to4,
    pub(crate) mul: TransmitInitMulPhase3to4<Curve>,
    pub(crate) chain: BroadcastDerivationPhase3to4,
}

/// A party's state in a running ECDSA DKG.
pub(crate) struct Machine {
    session: Session,
    state: State,
}

enum State {
    /// Sent round 1; keeps this party's own polynomial value.
    Fragments {
        dkg: DkgSession<Curve>,
        own: Zeroizing<Scalar>,
    },
    /// Sent round 2.
    Commitments {
        dkg: DkgSession<Curve>,
        own_proof: ProofCommitment<Curve>,
        own_chain: BroadcastDerivationPhase2to4,
    },
    /// Sent round 3.
    Openings {
        dkg: DkgSession<Curve>,
        own_proof: ProofCommitment<Curve>,
        own_chain2: BroadcastDerivationPhase2to4,
        own_chain3: BroadcastDerivationPhase3to4,
        round2: BTreeMap<PartyId, Round2>,
    },
    /// Sent the confirmation.
    Confirm {
        party: Box<Party>,
        public: PublicPackage,
        digest: [u8; 32],
    },
}

impl Machine {
    pub(crate) fn start(session: Session) -> Result<Step<Self, KeyOutput>, CryptoError> {
        check_key_session(&session)?;
        let me = index(session.me)?;
        let sid = dkls_session_id(&session, ProtocolKind::Dkg);
        let dkg = DkgSession::<Curve>::new(parameters(&session)?, me, sid);
        let fragments = Zeroizing::new(dkg.phase1());
        let fragment = |p: PartyId| -> Result<Scalar, CryptoError> {
            fragments
                .get(usize::from(p.get()) - 1)
                .copied()
                .ok_or_else(|| CryptoError::new(ErrorKind::Library, "no polynomial value"))
        };
        let env = envelope(&session, ProtocolKind::Dkg, 1);
        let out = outbox(&session, &env, |to| encode(&fragment(to)?))?;
        let own = Zeroizing::new(fragment(session.me)?);
        Ok(Step::Send(
            Self {
                session,
                state: State::Fragments { dkg, own },
            },
            out,
        ))
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn advance(self, inbox: &Inbox) -> Result<Step<Self, KeyOutput>, CryptoError> {
        let Self { session, state } = self;
        let me = session.me;
        let abort = |a| from_abort(a, me);
        match state {
            State::Fragments { mut dkg, own } => {
                let env = envelope(&session, ProtocolKind::Dkg, 1);
                let mut received = parse_inbox::<Scalar>(&session, &env, inbox)?;
                let mut fragments = Zeroizing::new(Vec::with_capacity(received.len() + 1));
                fragments.push(*own);
                fragments.extend(received.values().copied());
                received.values_mut().for_each(Zeroize::zeroize);
                let (own_proof, zero, own_chain) = dkg.phase2(&fragments).map_err(abort)?;
                drop(fragments);
                let env2 = envelope(&session, ProtocolKind::Dkg, 2);
                let out = outbox(&session, &env2, |to| {
                    let to_index = index(to)?;
                    let zero = zero
                        .iter()
                        .find(|m| m.parties.receiver == to_index)
                        .cloned()
                        .ok_or_else(|| {
                            CryptoError::new(ErrorKind::Library, format!("no round 2 for {to}"))
                        })?;
                    encode(&Round2 {
                        proof_commitment: own_proof.commitment,
                        zero,
                        chain: own_chain.clone(),
                    })
                })?;
                Ok(Step::Send(
                    Self {
                        session,
                        state: State::Commitments {
                            dkg,
                            own_proof,
                            own_chain,
                        },
                    },
                    out,
                ))
            }
            State::Commitments {
                mut dkg,
                own_proof,
                own_chain,
            } => {
                let env = envelope(&session, ProtocolKind::Dkg, 2);
                let round2 = parse_inbox::<Round2>(&session, &env, inbox)?;
                for (from, m) in &round2 {
                    check_route(&m.zero.parties, *from, me, 2)?;
                    check_sender(m.chain.sender_index, *from, 2)?;
                }
                let (zero, mul, own_chain3) = dkg.phase3().map_err(abort)?;
                let env3 = envelope(&session, ProtocolKind::Dkg, 3);
                let out = outbox(&session, &env3, |to| {
                    let to_index = index(to)?;
                    let missing =
                        || CryptoError::new(ErrorKind::Library, format!("no round 3 for {to}"));
                    let zero = zero
                        .iter()
                        .find(|m| m.parties.receiver == to_index)
                        .cloned()
                        .ok_or_else(missing)?;
                    let mul = mul
                        .iter()
                        .find(|m| m.parties.receiver == to_index)
                        .cloned()
                        .ok_or_else(missing)?;
                    encode(&Round3 {
                        proof: own_proof.proof.clone(),
                        zero,
                        mul,
                        chain: own_chain3.clone(),
                    })
                })?;
                Ok(Step::Send(
                    Self {
                        session,
                        state: State::Openings {
                            dkg,
                            own_proof,
                            own_chain2: own_chain,
                            own_chain3,
                            round2,
                        },
                    },
                    out,
                ))
            }
            State::Openings {
                dkg,
                own_proof,
                own_chain2,
                own_chain3,
                round2,
            } => {
                let env = envelope(&session, ProtocolKind::Dkg, 3);
                let round3 = parse_inbox::<Round3>(&session, &env, inbox)?;
                let me_index = index(me)?;
                let mut proofs = vec![own_proof];
                let mut zero2 = Vec::new();
                let mut zero3 = Vec::new();
                let mut mul = Vec::new();
                let mut chain2 = BTreeMap::from([(me_index, own_chain2)]);
                let mut chain3 = BTreeMap::from([(me_index, own_chain3)]);
                for (from, r3) in round3 {
                    check_route(&r3.zero.parties, from, me, 3)?;
                    check_route(&r3.mul.parties, from, me, 3)?;
                    check_sender(r3.chain.sender_index, from, 3)?;
                    let r2 = round2.get(&from).ok_or_else(|| {
                        CryptoError::blame(ErrorKind::MissingMessage, vec![from], "no round 2")
                    })?;
                    let from_index = index(from)?;
                    proofs.push(ProofCommitment {
                        index: from_index,
                        proof: r3.proof,
                        commitment: r2.proof_commitment,
                    });
                    zero2.push(r2.zero.clone());
                    zero3.push(r3.zero);
                    mul.push(r3.mul);
                    chain2.insert(from_index, r2.chain.clone());
                    chain3.insert(from_index, r3.chain);
                }
                let (party, public) = dkg
                    .phase4(&proofs, &zero2, &zero3, &mul, &chain2, &chain3, |_| {
                        String::new()
                    })
                    .map_err(abort)?;
                drop((zero3, mul));
                let chain_code = party.derivation_data.chain_code;
                let digest = confirmation(&session, ProtocolKind::Dkg, &public, &chain_code)?;
                let env4 = envelope(&session, ProtocolKind::Dkg, 4);
                let out = outbox(&session, &env4, |_| Ok(digest.to_vec()))?;
                Ok(Step::Send(
                    Self {
                        session,
                        state: State::Confirm {
                            party: Box::new(party),
                            public,
                            digest,
                        },
                    },
                    out,
                ))
            }
            State::Confirm {
                party,
                public,
                digest,
            } => {
                let env = envelope(&session, ProtocolKind::Dkg, 4);
                finish(&session, &env, inbox, party, public, &digest)
            }
        }
    }
}

/// The last round of DKG and refresh: every other party's digest must equal ours.
pub(crate) fn finish<S>(
    session: &Session,
    env: &crate::protocol::Envelope,
    inbox: &Inbox,
    party: Box<Party>,
    public: PublicPackage,
    digest: &[u8; 32],
) -> Result<Step<S, KeyOutput>, CryptoError> {
    let bodies = open_inbox(session, env, inbox)?;
    let rest = check_confirmations(session, &bodies, digest)?;
    if let Some((from, _)) = rest.iter().find(|(_, tail)| !tail.is_empty()) {
        return Err(CryptoError::blame(
            ErrorKind::Malformed,
            vec![*from],
            "confirmation carries extra bytes",
        ));
    }
    Ok(Step::Done(output(session, party, public)))
}

/// The digest that every party of a run must agree on: the public key package (group key,
/// every public share, parameters) and the chain code.
pub(crate) fn confirmation(
    session: &Session,
    kind: ProtocolKind,
    public: &PublicPackage,
    chain_code: &[u8; CHAIN_CODE_LEN],
) -> Result<[u8; 32], CryptoError> {
    let mut h = Sha256::new();
    h.update(b"tessera/confirm/ecdsa-secp256k1/v1");
    h.update([kind as u8]);
    h.update(session.id.0);
    h.update(chain_code);
    h.update(encode(public)?);
    Ok(h.finalize().into())
}

/// The erased output of a finished ECDSA key generation or refresh.
fn output(session: &Session, party: Box<Party>, public: PublicPackage) -> KeyOutput {
    let chain_code = party.derivation_data.chain_code;
    KeyOutput {
        share: KeyShare {
            inner: ShareInner::Ecdsa(EcdsaShare { party }),
            party: session.me,
            threshold: session.threshold,
        },
        group: GroupKey {
            inner: GroupInner::Ecdsa(Box::new(EcdsaGroup { public, chain_code })),
            threshold: session.threshold,
            parties: session.parties.clone(),
        },
    }
}
