//! The message-passing model shared by every multi-round protocol (DKG, refresh, threshold
//! ECDSA signing).
//!
//! A protocol is a chain of rounds. Each round is a state that owns its secrets; advancing it
//! with the round's [`Inbox`] consumes the state by value and yields either the next state and
//! the messages to send ([`Step::Send`]) or the final output ([`Step::Done`]). A state can
//! therefore never be advanced twice, and a round's secret dies with the round.
//!
//! In every round each party sends exactly one message to each other party ([`Outbox`]);
//! a broadcast is the same payload to all, and broadcast consistency is checked by a final
//! confirmation round. Payloads start with an [`Envelope`] that binds them to a protocol,
//! version, scheme, session and round, so a message cannot be replayed into another place.
//! Transport (TLS between nodes) must authenticate the sender and keep payloads confidential:
//! some rounds carry secret shares.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use tessera_types::{PartyId, Scheme, Threshold};

use crate::error::{CryptoError, ErrorKind};
use crate::suite::{scheme_from_tag, scheme_tag};

/// Version of the envelope and round payload formats.
pub const PROTOCOL_VERSION: u8 = 1;

/// Identifies one run of a protocol among a set of parties. Chosen by whoever starts the run
/// (the coordinator); every message of the run carries it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub [u8; 16]);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// Who takes part in a protocol run, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The run's identifier.
    pub id: SessionId,
    /// The scheme of the key being generated or refreshed.
    pub scheme: Scheme,
    /// The key's threshold.
    pub threshold: Threshold,
    /// The parties taking part, this one included: for a DKG or refresh all parties of the key
    /// (exactly `threshold.n()`, see [`Session::new`]); for a threshold ECDSA signature the
    /// signing quorum (exactly `threshold.t()`, see [`Session::for_signing`]).
    pub parties: BTreeSet<PartyId>,
    /// This party.
    pub me: PartyId,
}

impl Session {
    /// Checks that the party list fits the threshold and includes this party.
    pub fn new(
        id: SessionId,
        scheme: Scheme,
        threshold: Threshold,
        parties: BTreeSet<PartyId>,
        me: PartyId,
    ) -> Result<Self, CryptoError> {
        if parties.len() != usize::from(threshold.n()) {
            return Err(CryptoError::new(
                ErrorKind::Parameters,
                format!("{} parties listed for a {threshold} key", parties.len()),
            ));
        }
        if !parties.contains(&me) {
            return Err(CryptoError::new(
                ErrorKind::Parameters,
                format!("{me} is not among the parties of the session"),
            ));
        }
        Ok(Self {
            id,
            scheme,
            threshold,
            parties,
            me,
        })
    }

    /// A threshold ECDSA signing session ([`crate::EcdsaSign`]): `signers` is the quorum,
    /// exactly `threshold.t()` parties of the key, this one included; `threshold` is the key's.
    pub fn for_signing(
        id: SessionId,
        scheme: Scheme,
        threshold: Threshold,
        signers: BTreeSet<PartyId>,
        me: PartyId,
    ) -> Result<Self, CryptoError> {
        if signers.len() != usize::from(threshold.t()) {
            return Err(CryptoError::new(
                ErrorKind::Parameters,
                format!(
                    "{} signers listed for a {threshold} key, which signs with exactly {}",
                    signers.len(),
                    threshold.t()
                ),
            ));
        }
        if !signers.contains(&me) {
            return Err(CryptoError::new(
                ErrorKind::Parameters,
                format!("{me} is not among the signers of the session"),
            ));
        }
        Ok(Self {
            id,
            scheme,
            threshold,
            parties: signers,
            me,
        })
    }

    /// Every party but this one.
    pub fn others(&self) -> impl Iterator<Item = PartyId> + '_ {
        self.parties.iter().copied().filter(move |p| *p != self.me)
    }
}

/// Messages to send at the end of a round: one payload for each other party.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbox(pub BTreeMap<PartyId, Vec<u8>>);

/// Messages received for a round: one payload from each other party.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inbox(pub BTreeMap<PartyId, Vec<u8>>);

/// The result of starting or advancing a protocol.
#[derive(Debug)]
pub enum Step<S, O> {
    /// Send these messages, then advance `S` with the next round's inbox.
    Send(S, Outbox),
    /// The protocol is over.
    Done(O),
}

/// A multi-round protocol run by one party: [`crate::Dkg`], [`crate::Refresh`],
/// [`crate::EcdsaSign`]. Lets session drivers (the coordinator, in-process test networks) be
/// written once for all of them.
pub trait Protocol: Sized {
    /// What the protocol leaves with the party.
    type Output;

    /// Feeds the messages of the current round; consumes the state.
    fn advance(self, inbox: &Inbox) -> Result<Step<Self, Self::Output>, CryptoError>;

    /// The session the protocol runs in.
    fn session(&self) -> &Session;
}

impl<S, O> Step<S, O> {
    /// The same step with its state mapped (to wrap a scheme-specific state in an erased one).
    pub fn map_state<T>(self, f: impl FnOnce(S) -> T) -> Step<T, O> {
        match self {
            Step::Send(s, out) => Step::Send(f(s), out),
            Step::Done(o) => Step::Done(o),
        }
    }
}

/// Which protocol a message belongs to. Stable: on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolKind {
    /// Distributed key generation.
    Dkg = 1,
    /// Proactive share refresh.
    Refresh = 2,
    /// A threshold ECDSA signature.
    EcdsaSign = 3,
}

/// The header of every protocol message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The protocol.
    pub kind: ProtocolKind,
    /// The key's scheme.
    pub scheme: Scheme,
    /// The run.
    pub session: SessionId,
    /// The round, from 1.
    pub round: u8,
}

/// Bytes of an encoded [`Envelope`].
pub const ENVELOPE_LEN: usize = 1 + 1 + 1 + 16 + 1;

impl Envelope {
    pub(crate) fn seal(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENVELOPE_LEN + body.len());
        out.push(PROTOCOL_VERSION);
        out.push(self.kind as u8);
        out.push(scheme_tag(self.scheme));
        out.extend_from_slice(&self.session.0);
        out.push(self.round);
        out.extend_from_slice(body);
        out
    }

    /// Checks that `payload` carries exactly this envelope and returns the body after it.
    pub(crate) fn open<'a>(&self, payload: &'a [u8]) -> Result<&'a [u8], String> {
        let (head, body) = payload.split_at_checked(ENVELOPE_LEN).ok_or_else(|| {
            format!(
                "message of {} bytes is shorter than its header",
                payload.len()
            )
        })?;
        let [version, kind, scheme, rest @ ..] = head else {
            return Err("truncated header".into());
        };
        if *version != PROTOCOL_VERSION {
            return Err(format!(
                "message of protocol version {version}, expected {PROTOCOL_VERSION}"
            ));
        }
        if *kind != self.kind as u8 {
            return Err(format!(
                "message of protocol {kind}, expected {}",
                self.kind as u8
            ));
        }
        let scheme = scheme_from_tag(*scheme).map_err(|e| e.detail)?;
        if scheme != self.scheme {
            return Err(format!(
                "message for scheme {scheme}, expected {}",
                self.scheme
            ));
        }
        let (session, round) = rest.split_at_checked(16).ok_or("truncated header")?;
        if session != self.session.0 {
            return Err("message from another session".into());
        }
        if round != [self.round] {
            return Err(format!(
                "message for round {round:?}, expected round {}",
                self.round
            ));
        }
        Ok(body)
    }
}

/// Checks that `inbox` holds exactly one message from each other party of `session`, each
/// under `envelope`, and returns their bodies. Blames missing, unexpected and malformed senders.
pub(crate) fn open_inbox<'a>(
    session: &Session,
    envelope: &Envelope,
    inbox: &'a Inbox,
) -> Result<BTreeMap<PartyId, &'a [u8]>, CryptoError> {
    let unexpected: Vec<PartyId> = inbox
        .0
        .keys()
        .copied()
        .filter(|p| *p == session.me || !session.parties.contains(p))
        .collect();
    if !unexpected.is_empty() {
        return Err(CryptoError::blame(
            ErrorKind::UnexpectedSender,
            unexpected,
            format!("round {} message from outside the session", envelope.round),
        ));
    }
    let missing: Vec<PartyId> = session
        .others()
        .filter(|p| !inbox.0.contains_key(p))
        .collect();
    if !missing.is_empty() {
        return Err(CryptoError::blame(
            ErrorKind::MissingMessage,
            missing,
            format!("no round {} message", envelope.round),
        ));
    }
    let mut bodies = BTreeMap::new();
    for (from, payload) in &inbox.0 {
        let body = envelope
            .open(payload)
            .map_err(|why| CryptoError::blame(ErrorKind::Malformed, vec![*from], why))?;
        bodies.insert(*from, body);
    }
    Ok(bodies)
}

/// One sealed payload for each other party.
pub(crate) fn outbox<F>(
    session: &Session,
    envelope: &Envelope,
    mut body_for: F,
) -> Result<Outbox, CryptoError>
where
    F: FnMut(PartyId) -> Result<Vec<u8>, CryptoError>,
{
    let mut out = BTreeMap::new();
    for to in session.others() {
        out.insert(to, envelope.seal(&body_for(to)?));
    }
    Ok(Outbox(out))
}
