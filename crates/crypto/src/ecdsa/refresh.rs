//! Proactive refresh of a threshold ECDSA key: `dkls23`'s fast refresh (all `n` parties),
//! which re-randomizes every share and the pairwise oblivious-transfer state without
//! changing the public key, in this crate's round model.
//!
//! Rounds (envelope kind `Refresh`, scheme `ecdsa-secp256k1`; postcard bodies):
//! 1. to each party: its value of the sender's random polynomial with a zero constant term
//!    (secret);
//! 2. to each party: the commitment to the sender's proof of knowledge and its zero-share
//!    seed commitment for that party;
//! 3. to each party: the proof (opening round 2's commitment) and the seed (secret);
//! 4. broadcast: a digest of the new public key package and the chain code.
//!
//! The new share comes out pending, as for FROST (ADR 0006). After a refresh `dkls23` chains
//! the key's session id, so an old share and a new one refuse to sign together (a session
//! binding mismatch), but two old shares still do until they are deleted.

use std::collections::BTreeMap;

use dkls23::protocols::dkg::ProofCommitment;
use dkls23::protocols::refresh::{
    KeepRefreshPhase2to3, KeepRefreshPhase3to4, TransmitRefreshPhase2to4, TransmitRefreshPhase3to4,
};
use dkls23::protocols::{Abort, PartyIndex};
use dkls23::utilities::hashes::HashOutput;
use dkls23::utilities::proofs::DLogProof;
use k256_14::ProjectivePoint;
use serde::{Deserialize, Serialize};
use tessera_types::PartyId;
use zeroize::{Zeroize, Zeroizing};

use crate::dkg::{KeyOutput, envelope};
use crate::ecdsa::dkg::{confirmation, finish};
use crate::ecdsa::dkls::{
    Curve, Party, PublicPackage, Scalar, check_key_session, check_route, dkls_session_id, encode,
    from_abort, index, parse_inbox,
};
use crate::ecdsa::keys::{EcdsaGroup, EcdsaShare};
use crate::error::{CryptoError, ErrorKind};
use crate::protocol::{Inbox, ProtocolKind, Session, Step, outbox};

/// Round 2, to one party.
#[derive(Serialize, Deserialize)]
pub(crate) struct Round2 {
    pub(crate) proof_commitment: HashOutput,
    pub(crate) zero: TransmitRefreshPhase2to4,
}

/// Round 3, to one party.
#[derive(Serialize, Deserialize)]
pub(crate) struct Round3 {
    pub(crate) proof: DLogProof<Curve>,
    pub(crate) zero: TransmitRefreshPhase3to4,
}

/// Zero-share seeds kept between rounds 2 and 3 (`dkls23` does not wipe these itself).
struct Kept2(BTreeMap<PartyIndex, KeepRefreshPhase2to3>);

impl Drop for Kept2 {
    fn drop(&mut self) {
        for k in self.0.values_mut() {
            k.seed.zeroize();
            k.salt.zeroize();
        }
    }
}

/// Zero-share seeds kept between rounds 3 and 4.
struct Kept3(BTreeMap<PartyIndex, KeepRefreshPhase3to4>);

impl Drop for Kept3 {
    fn drop(&mut self) {
        for k in self.0.values_mut() {
            k.seed.zeroize();
        }
    }
}

/// A party's state in a running ECDSA refresh.
pub(crate) struct Machine {
    session: Session,
    sid: Vec<u8>,
    old_public: PublicPackage,
    state: State,
}

/// The rounds; the old share is dropped as soon as the new one exists.
enum State {
    Fragments {
        old: Box<Party>,
        own: Zeroizing<Scalar>,
    },
    Commitments {
        old: Box<Party>,
        correction: Zeroizing<Scalar>,
        own_proof: ProofCommitment<Curve>,
        kept: Kept2,
    },
    Openings {
        old: Box<Party>,
        correction: Zeroizing<Scalar>,
        own_proof: ProofCommitment<Curve>,
        kept: Kept3,
        round2: BTreeMap<PartyId, Round2>,
    },
    Confirm {
        party: Box<Party>,
        public: PublicPackage,
        digest: [u8; 32],
    },
}

impl Machine {
    /// Starts refreshing `share` of `group`; the caller has checked that they belong together
    /// and match the session.
    pub(crate) fn start(
        session: Session,
        share: EcdsaShare,
        group: &EcdsaGroup,
    ) -> Result<Step<Self, KeyOutput>, CryptoError> {
        check_key_session(&session)?;
        let sid = dkls_session_id(&session, ProtocolKind::Refresh);
        let old = share.party;
        let fragments = Zeroizing::new(old.refresh_phase1());
        let fragment = |p: PartyId| -> Result<Scalar, CryptoError> {
            fragments
                .get(usize::from(p.get()) - 1)
                .copied()
                .ok_or_else(|| CryptoError::new(ErrorKind::Library, "no polynomial value"))
        };
        let env = envelope(&session, ProtocolKind::Refresh, 1);
        let out = outbox(&session, &env, |to| encode(&fragment(to)?))?;
        let own = Zeroizing::new(fragment(session.me)?);
        Ok(Step::Send(
            Self {
                session,
                sid,
                old_public: group.public.clone(),
                state: State::Fragments { old, own },
            },
            out,
        ))
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn advance(self, inbox: &Inbox) -> Result<Step<Self, KeyOutput>, CryptoError> {
        let Self {
            session,
            sid,
            old_public,
            state,
        } = self;
        let me = session.me;
        let abort = |a| from_abort(a, me);
        match state {
            State::Fragments { old, own } => {
                let env = envelope(&session, ProtocolKind::Refresh, 1);
                let mut received = parse_inbox::<Scalar>(&session, &env, inbox)?;
                let mut fragments = Zeroizing::new(Vec::with_capacity(received.len() + 1));
                fragments.push(*own);
                fragments.extend(received.values().copied());
                received.values_mut().for_each(Zeroize::zeroize);
                let (correction, own_proof, kept, zero) = old.refresh_phase2(&sid, &fragments);
                let correction = Zeroizing::new(correction);
                let kept = Kept2(kept);
                let env2 = envelope(&session, ProtocolKind::Refresh, 2);
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
                    })
                })?;
                Ok(Step::Send(
                    Self {
                        session,
                        sid,
                        old_public,
                        state: State::Commitments {
                            old,
                            correction,
                            own_proof,
                            kept,
                        },
                    },
                    out,
                ))
            }
            State::Commitments {
                old,
                correction,
                own_proof,
                kept,
            } => {
                let env = envelope(&session, ProtocolKind::Refresh, 2);
                let round2 = parse_inbox::<Round2>(&session, &env, inbox)?;
                for (from, m) in &round2 {
                    check_route(&m.zero.parties, *from, me, 2)?;
                }
                let (kept3, zero) = old.refresh_phase3(&kept.0);
                drop(kept);
                let kept = Kept3(kept3);
                let env3 = envelope(&session, ProtocolKind::Refresh, 3);
                let out = outbox(&session, &env3, |to| {
                    let to_index = index(to)?;
                    let zero = zero
                        .iter()
                        .find(|m| m.parties.receiver == to_index)
                        .cloned()
                        .ok_or_else(|| {
                            CryptoError::new(ErrorKind::Library, format!("no round 3 for {to}"))
                        })?;
                    encode(&Round3 {
                        proof: own_proof.proof.clone(),
                        zero,
                    })
                })?;
                Ok(Step::Send(
                    Self {
                        session,
                        sid,
                        old_public,
                        state: State::Openings {
                            old,
                            correction,
                            own_proof,
                            kept,
                            round2,
                        },
                    },
                    out,
                ))
            }
            State::Openings {
                old,
                correction,
                own_proof,
                kept,
                round2,
            } => {
                let env = envelope(&session, ProtocolKind::Refresh, 3);
                let round3 = parse_inbox::<Round3>(&session, &env, inbox)?;
                let mut proofs = vec![own_proof];
                let mut zero2 = Vec::new();
                let mut zero3 = Vec::new();
                for (from, r3) in round3 {
                    check_route(&r3.zero.parties, from, me, 3)?;
                    let r2 = round2.get(&from).ok_or_else(|| {
                        CryptoError::blame(ErrorKind::MissingMessage, vec![from], "no round 2")
                    })?;
                    proofs.push(ProofCommitment {
                        index: index(from)?,
                        proof: r3.proof,
                        commitment: r2.proof_commitment,
                    });
                    zero2.push(r2.zero.clone());
                    zero3.push(r3.zero);
                }
                let party = old
                    .refresh_phase4(&sid, &correction, &proofs, &kept.0, &zero2, &zero3)
                    .map_err(abort)?;
                for z in &mut zero3 {
                    z.seed.zeroize();
                }
                drop((kept, correction));
                let me_index = index(me)?;
                let public = old_public
                    .refresh(&sid, &proofs)
                    .map_err(|reason| abort(Abort::recoverable(me_index, reason)))?;
                let own = (ProjectivePoint::GENERATOR * party.poly_point).to_affine();
                if party.pk != old.pk
                    || public.verifying_key() != old_public.verifying_key()
                    || !public.verify_share(me_index, &own)
                {
                    return Err(CryptoError::new(
                        ErrorKind::Inconsistent,
                        "refresh changed the group key or disagrees with the new share",
                    ));
                }
                drop(old);
                let chain_code = party.derivation_data.chain_code;
                let digest = confirmation(&session, ProtocolKind::Refresh, &public, &chain_code)?;
                let env4 = envelope(&session, ProtocolKind::Refresh, 4);
                let out = outbox(&session, &env4, |_| Ok(digest.to_vec()))?;
                Ok(Step::Send(
                    Self {
                        session,
                        sid,
                        old_public,
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
                let env = envelope(&session, ProtocolKind::Refresh, 4);
                finish(&session, &env, inbox, party, public, &digest)
            }
        }
    }
}
