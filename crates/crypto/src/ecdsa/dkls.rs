//! Glue between `dkls23` and this crate: type aliases, party numbering, session ids, the
//! postcard codec of round payloads, and the translation of `dkls23` aborts into
//! [`CryptoError`]s with blame. Every `dkls23` and `k256` 0.14 type stays inside the crate.

use std::collections::{BTreeMap, BTreeSet};

use dkls23::protocols::{Abort, AbortKind, AbortReason, PartiesMessage, PartyIndex};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tessera_types::{PartyId, Scheme};
use zeroize::Zeroizing;

use crate::error::{CryptoError, ErrorKind};
use crate::protocol::{Envelope, Inbox, ProtocolKind, Session, open_inbox};

/// The curve of every `dkls23` type used here.
pub(crate) type Curve = k256_14::Secp256k1;
/// A party's whole ECDSA key share (zeroized on drop by `dkls23`).
pub(crate) type Party = dkls23::protocols::Party<Curve>;
/// The public side of an ECDSA key.
pub(crate) type PublicPackage = dkls23::protocols::PublicKeyPackage<Curve>;
/// A scalar of secp256k1 (`k256` 0.14).
pub(crate) type Scalar = k256_14::Scalar;

/// The `dkls23` index of `party`: the party id itself, which must fit a byte.
pub(crate) fn index(party: PartyId) -> Result<PartyIndex, CryptoError> {
    u8::try_from(party.get())
        .ok()
        .and_then(|i| PartyIndex::new(i).ok())
        .ok_or_else(|| {
            CryptoError::new(
                ErrorKind::Parameters,
                format!("{party}: ecdsa-secp256k1 numbers parties from 1 to 255"),
            )
        })
}

/// The party of a `dkls23` index.
pub(crate) fn party_of(index: PartyIndex) -> Option<PartyId> {
    PartyId::new(u16::from(index.as_u8())).ok()
}

/// Checks the parameters that `dkls23` needs for a key generation or refresh: a threshold of
/// at least 2 and parties numbered exactly 1 to n (its polynomials are evaluated there).
pub(crate) fn check_key_session(session: &Session) -> Result<(), CryptoError> {
    if session.scheme != Scheme::EcdsaSecp256k1 {
        return Err(CryptoError::new(
            ErrorKind::Mismatch,
            format!("a {} session is not an ecdsa-secp256k1 one", session.scheme),
        ));
    }
    if session.threshold.t() < 2 {
        return Err(CryptoError::new(
            ErrorKind::Parameters,
            "ecdsa-secp256k1 needs a threshold of at least 2",
        ));
    }
    for p in &session.parties {
        index(*p)?;
    }
    let expected: BTreeSet<u16> = (1..=session.threshold.n()).collect();
    let listed: BTreeSet<u16> = session.parties.iter().map(|p| p.get()).collect();
    if listed != expected {
        return Err(CryptoError::new(
            ErrorKind::Parameters,
            format!(
                "ecdsa-secp256k1 needs its parties numbered 1 to {}",
                session.threshold.n()
            ),
        ));
    }
    Ok(())
}

/// `dkls23`'s parameters for a session whose threshold fits them (after
/// [`check_key_session`]).
pub(crate) fn parameters(session: &Session) -> Result<dkls23::protocols::Parameters, CryptoError> {
    let t = u8::try_from(session.threshold.t());
    let n = u8::try_from(session.threshold.n());
    match (t, n) {
        (Ok(t), Ok(n)) => dkls23::protocols::Parameters::new(t, n)
            .map_err(|e| CryptoError::new(ErrorKind::Parameters, format!("ecdsa-secp256k1: {e}"))),
        _ => Err(CryptoError::new(
            ErrorKind::Parameters,
            "ecdsa-secp256k1 supports at most 255 parties",
        )),
    }
}

/// The session id handed to `dkls23`: our session id under a domain tag, so that ids of
/// different protocols or of another application never collide, with the key's shape.
pub(crate) fn dkls_session_id(session: &Session, kind: ProtocolKind) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"tessera/ecdsa-secp256k1/dkls23/session/v1");
    h.update([kind as u8]);
    h.update(session.id.0);
    h.update(session.threshold.t().to_be_bytes());
    h.update(session.threshold.n().to_be_bytes());
    h.finalize().to_vec()
}

/// Encodes a round payload.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CryptoError> {
    postcard::to_allocvec(value)
        .map_err(|e| CryptoError::new(ErrorKind::Library, format!("cannot encode a message: {e}")))
}

/// Encodes a secret into a buffer that is zeroized on drop. The buffer is sized first, so the
/// encoder never reallocates (which would leave copies behind).
pub(crate) fn encode_secret<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let err = |e: postcard::Error| {
        CryptoError::new(ErrorKind::Library, format!("cannot encode a secret: {e}"))
    };
    let len = postcard::experimental::serialized_size(value).map_err(err)?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let used = postcard::to_slice(value, &mut out).map_err(err)?.len();
    out.truncate(used);
    Ok(out)
}

/// Decodes exactly one value from `bytes` (no trailing bytes).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    Ok(value)
}

/// Opens a round's inbox (exactly one message from each other party of the session, under
/// the round's envelope) and decodes every body, blaming the sender of any that fails.
pub(crate) fn parse_inbox<T: DeserializeOwned>(
    session: &Session,
    env: &Envelope,
    inbox: &Inbox,
) -> Result<BTreeMap<PartyId, T>, CryptoError> {
    let bodies = open_inbox(session, env, inbox)?;
    let mut out = BTreeMap::new();
    for (from, body) in bodies {
        let value = decode::<T>(body).map_err(|e| {
            CryptoError::blame(
                ErrorKind::Malformed,
                vec![from],
                format!("round {}: {e}", env.round),
            )
        })?;
        out.insert(from, value);
    }
    Ok(out)
}

/// Checks that a point-to-point `dkls23` message names `from` as its sender and this party as
/// its receiver; the crate trusts these fields, so they are checked before it sees them.
pub(crate) fn check_route(
    parties: &PartiesMessage,
    from: PartyId,
    me: PartyId,
    round: u8,
) -> Result<(), CryptoError> {
    if parties.sender != index(from)? || parties.receiver != index(me)? {
        return Err(CryptoError::blame(
            ErrorKind::Malformed,
            vec![from],
            format!(
                "round {round} message routed {} to {}, received from {from} at {me}",
                parties.sender, parties.receiver
            ),
        ));
    }
    Ok(())
}

/// Checks that a broadcast naming its sender names `from`.
pub(crate) fn check_sender(
    sender: PartyIndex,
    from: PartyId,
    round: u8,
) -> Result<(), CryptoError> {
    if sender != index(from)? {
        return Err(CryptoError::blame(
            ErrorKind::Malformed,
            vec![from],
            format!("round {round} broadcast claims to come from {sender}"),
        ));
    }
    Ok(())
}

/// Translates a `dkls23` abort at party `me`.
///
/// `BanCounterparty(j)` blames `j` ([`ErrorKind::BanCounterparty`]). A recoverable abort
/// blames a counterparty only when the library names it for a check of that counterparty's
/// own messages (a proof, or an opening that does not match its own commitment): with
/// authenticated channels (ADR 0009), only their author can have made them inconsistent.
/// Other aborts name nobody: a session binding mismatch also arises between honest parties
/// holding different generations of a key, and a polynomial or final signature check cannot
/// tell who cheated.
pub(crate) fn from_abort(abort: Abort, me: PartyId) -> CryptoError {
    use AbortReason as R;
    let detail = format!("ecdsa-secp256k1: {}", abort.description());
    let blamed = |j: &PartyIndex| party_of(*j).filter(|p| *p != me).into_iter().collect();
    if let AbortKind::BanCounterparty(j) = &abort.kind {
        return CryptoError::blame(ErrorKind::BanCounterparty, blamed(j), detail);
    }
    let (kind, culprits) = match &abort.reason {
        R::ProofVerificationFailed { counterparty } => {
            (ErrorKind::InvalidProofOfKnowledge, blamed(counterparty))
        }
        R::CommitmentMismatch { counterparty }
        | R::ZeroShareDecommitFailed { counterparty }
        | R::TrivialInstancePoint { counterparty }
        | R::GammaUInconsistency { counterparty }
        | R::OtConsistencyCheckFailed { counterparty }
        | R::MultiplicationVerificationFailed { counterparty, .. } => {
            (ErrorKind::InvalidSecretShare, blamed(counterparty))
        }
        R::ChainCodeCommitmentFailed { party } => (ErrorKind::InvalidSecretShare, blamed(party)),
        R::PolynomialInconsistency => (ErrorKind::InvalidSecretShare, Vec::new()),
        R::SignatureVerificationFailed | R::ZeroDenominator => {
            (ErrorKind::InvalidSignature, Vec::new())
        }
        R::SessionBindingMismatch { .. } => (ErrorKind::Mismatch, Vec::new()),
        R::InvalidPartyIndex { .. }
        | R::WrongCounterpartyCount { .. }
        | R::DuplicateCounterparty { .. }
        | R::SelfInCounterparties
        | R::MissingMulState { .. } => (ErrorKind::Parameters, Vec::new()),
        R::MisroutedMessage { .. }
        | R::UnexpectedSender { .. }
        | R::DuplicateSender { .. }
        | R::WrongMessageCount { .. }
        | R::MissingMessageFromParty { .. }
        | R::MissingCommittedPoint { .. } => (ErrorKind::MissingMessage, Vec::new()),
        _ => (ErrorKind::Library, Vec::new()),
    };
    CryptoError::blame(kind, culprits, detail)
}
