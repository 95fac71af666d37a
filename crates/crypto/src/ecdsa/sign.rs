//! One signer's side of a threshold ECDSA signature: `dkls23`'s signing protocol in this
//! crate's round model.

use std::collections::BTreeMap;
use std::fmt;

use dkls23::protocols::PartyIndex;
use dkls23::protocols::signing::{
    Broadcast3to4, KeepPhase1to2, KeepPhase2to3, SignData, TransmitPhase1to2, TransmitPhase2to3,
    UniqueKeep1to2, UniqueKeep2to3,
};
use tessera_types::{PartyId, Scheme};

use crate::dkg::envelope;
use crate::ecdsa::EcdsaSignature;
use crate::ecdsa::dkls::{
    Curve, Party, check_route, dkls_session_id, encode, from_abort, index, parse_inbox,
};
use crate::ecdsa::verify::verify_recoverable;
use crate::error::{CryptoError, ErrorKind};
use crate::keys::{KeyShare, ShareInner};
use crate::protocol::{Inbox, Outbox, Protocol, ProtocolKind, Session, Step, outbox};

/// One signer's state in a running threshold ECDSA signing session; advancing consumes it.
/// Not `Clone`, no serialization, `Debug` shows only the session and round.
///
/// Rounds (envelope kind [`ProtocolKind::EcdsaSign`], scheme `ecdsa-secp256k1`; postcard
/// bodies of `dkls23` messages):
/// 1. to each other signer: a commitment to this signer's instance point and the first
///    message of the pairwise multiplication (about 27 KB);
/// 2. to each other signer: the opening of the commitment, the consistency-check values and
///    the multiplication's answer (about 55 KB);
/// 3. broadcast (the same payload to each): this signer's share of the signature, `(u, w)`;
///
/// then every signer assembles the signature ([`Step::Done`]), low-S, and checks it with
/// `k256` 0.13 before returning it.
///
/// The message hash is bound in round 1, so there is no presignature. The signer node must
/// record the session as consumed before its round-2 messages leave (ADR 0010): running one
/// signer's round-1 state against two different round-1 messages reveals the key, and this
/// type makes that impossible only within one process.
///
/// Zeroization: the state holds a copy of the key share (`dkls23`'s `Party`, zeroized by the
/// crate when dropped) for the length of the session, and the crate's per-session secrets
/// (instance key, inversion mask, multiplication state), which the crate zeroizes when each
/// round consumes them. Not covered: copies of the share's inline fields left on the stack
/// when it is moved, and copies made by the postcard decoder of incoming messages.
pub struct EcdsaSign {
    session: Session,
    message_hash: [u8; 32],
    public_key: [u8; 33],
    party: Box<Party>,
    data: SignData,
    state: State,
}

enum State {
    Round1 {
        unique: UniqueKeep1to2<Curve>,
        kept: BTreeMap<PartyIndex, KeepPhase1to2<Curve>>,
    },
    Round2 {
        unique: UniqueKeep2to3<Curve>,
        kept: BTreeMap<PartyIndex, KeepPhase2to3<Curve>>,
    },
    Round3 {
        r: String,
        own: Broadcast3to4<Curve>,
    },
}

impl EcdsaSign {
    /// Starts signing `message_hash` with `share`. `session.parties` is the signing quorum:
    /// exactly `t` parties of the key, `session.me` among them (see
    /// [`Session::for_signing`]); `session.threshold` is the key's. Binds `message_hash` at
    /// round 1. Returns the round-1 messages.
    pub fn start(
        share: &KeyShare,
        session: Session,
        message_hash: [u8; 32],
    ) -> Result<(EcdsaSign, Outbox), CryptoError> {
        let ShareInner::Ecdsa(ecdsa) = &share.inner else {
            return Err(CryptoError::new(
                ErrorKind::Unsupported,
                format!(
                    "a {} key signs with commit, sign and aggregate, not in an ECDSA session",
                    share.scheme()
                ),
            ));
        };
        if session.scheme != Scheme::EcdsaSecp256k1
            || session.me != share.party
            || session.threshold != share.threshold
        {
            return Err(CryptoError::new(
                ErrorKind::Mismatch,
                "the share and the signing session do not describe the same key and party",
            ));
        }
        if session.parties.len() != usize::from(session.threshold.t())
            || !session.parties.contains(&session.me)
        {
            return Err(CryptoError::new(
                ErrorKind::Parameters,
                format!(
                    "a {} key signs with exactly {} signers, this one among them",
                    session.threshold,
                    session.threshold.t()
                ),
            ));
        }
        let outsiders: Vec<PartyId> = session
            .parties
            .iter()
            .copied()
            .filter(|p| p.get() == 0 || p.get() > session.threshold.n())
            .collect();
        if !outsiders.is_empty() {
            return Err(CryptoError::blame(
                ErrorKind::Parameters,
                outsiders,
                "signers that hold no share of this key",
            ));
        }
        let counterparties = session.others().map(index).collect::<Result<_, _>>()?;
        let data = SignData {
            sign_id: dkls_session_id(&session, ProtocolKind::EcdsaSign),
            counterparties,
            message_hash,
        };
        let party = ecdsa.party.clone();
        let public_key = ecdsa.public_key();
        let me = session.me;
        let (unique, kept, transmit) = party.sign_phase1(&data).map_err(|a| from_abort(a, me))?;
        let out = p2p_outbox(&session, 1, &transmit, |m| m.parties.receiver)?;
        Ok((
            Self {
                session,
                message_hash,
                public_key,
                party,
                data,
                state: State::Round1 { unique, kept },
            },
            out,
        ))
    }

    /// Feeds the messages of the current round; consumes this state. Rounds 1 and 2 return
    /// the next messages, round 3 the signature (the same at every signer).
    pub fn advance(self, inbox: &Inbox) -> Result<Step<EcdsaSign, EcdsaSignature>, CryptoError> {
        let Self {
            session,
            message_hash,
            public_key,
            party,
            data,
            state,
        } = self;
        let me = session.me;
        let abort = |a| from_abort(a, me);
        let env = envelope(&session, ProtocolKind::EcdsaSign, round_of(&state));
        let state = match state {
            State::Round1 { unique, kept } => {
                let received = parse_inbox::<TransmitPhase1to2>(&session, &env, inbox)?;
                let received = routed(received, me, 1, |m| &m.parties)?;
                let (unique, kept, transmit) = party
                    .sign_phase2(&data, unique, kept, &received)
                    .map_err(abort)?;
                let out = p2p_outbox(&session, 2, &transmit, |m| m.parties.receiver)?;
                (State::Round2 { unique, kept }, out)
            }
            State::Round2 { unique, kept } => {
                let received = parse_inbox::<TransmitPhase2to3<Curve>>(&session, &env, inbox)?;
                let received = routed(received, me, 2, |m| &m.parties)?;
                let (r, own) = party
                    .sign_phase3(&data, unique, kept, &received)
                    .map_err(abort)?;
                let body = encode(&own)?;
                let env3 = envelope(&session, ProtocolKind::EcdsaSign, 3);
                let out = outbox(&session, &env3, |_| Ok(body.clone()))?;
                (State::Round3 { r, own }, out)
            }
            State::Round3 { r, own } => {
                let received = parse_inbox::<Broadcast3to4<Curve>>(&session, &env, inbox)?;
                let mut all = vec![own];
                all.extend(received.into_values());
                let (s, recovery_id) = party.sign_phase4(&data, &r, &all, true).map_err(abort)?;
                drop(party);
                let signature = EcdsaSignature {
                    r: hex32(&r)?,
                    s: hex32(&s)?,
                    recovery_id,
                };
                verify_recoverable(&public_key, &message_hash, &signature)?;
                return Ok(Step::Done(signature));
            }
        };
        let (state, out) = state;
        Ok(Step::Send(
            Self {
                session,
                message_hash,
                public_key,
                party,
                data,
                state,
            },
            out,
        ))
    }

    /// The round whose inbox this state expects next (1, 2 or 3).
    pub fn round(&self) -> u8 {
        round_of(&self.state)
    }

    /// The session this signature runs in.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The message hash being signed.
    pub fn message_hash(&self) -> [u8; 32] {
        self.message_hash
    }
}

fn round_of(state: &State) -> u8 {
    match state {
        State::Round1 { .. } => 1,
        State::Round2 { .. } => 2,
        State::Round3 { .. } => 3,
    }
}

/// One point-to-point `dkls23` message for each other signer, each to its receiver.
fn p2p_outbox<T: serde::Serialize>(
    session: &Session,
    round: u8,
    messages: &[T],
    receiver: fn(&T) -> PartyIndex,
) -> Result<Outbox, CryptoError> {
    let env = envelope(session, ProtocolKind::EcdsaSign, round);
    outbox(session, &env, |to| {
        let to_index = index(to)?;
        let m = messages
            .iter()
            .find(|m| receiver(m) == to_index)
            .ok_or_else(|| {
                CryptoError::new(
                    ErrorKind::Library,
                    format!("no round {round} message for {to}"),
                )
            })?;
        encode(m)
    })
}

/// The messages of a round in a list for `dkls23`, after checking that each names its real
/// sender and this receiver.
fn routed<T>(
    received: BTreeMap<PartyId, T>,
    me: PartyId,
    round: u8,
    parties: fn(&T) -> &dkls23::protocols::PartiesMessage,
) -> Result<Vec<T>, CryptoError> {
    let mut out = Vec::with_capacity(received.len());
    for (from, m) in received {
        check_route(parties(&m), from, me, round)?;
        out.push(m);
    }
    Ok(out)
}

/// A 32-byte value from the lowercase hex `dkls23` returns.
fn hex32(hex: &str) -> Result<[u8; 32], CryptoError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).map_err(|e| {
        CryptoError::new(
            ErrorKind::Library,
            format!("ecdsa-secp256k1 signature value: {e}"),
        )
    })?;
    Ok(out)
}

impl Protocol for EcdsaSign {
    type Output = EcdsaSignature;

    fn advance(self, inbox: &Inbox) -> Result<Step<Self, EcdsaSignature>, CryptoError> {
        EcdsaSign::advance(self, inbox)
    }

    fn session(&self) -> &Session {
        EcdsaSign::session(self)
    }
}

impl fmt::Debug for EcdsaSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaSign")
            .field("session", &self.session)
            .field("round", &self.round())
            .field("state", &"<redacted>")
            .finish()
    }
}
