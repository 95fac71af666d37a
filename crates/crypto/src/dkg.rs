//! Distributed key generation: every party ends with its own share of a key that nobody ever
//! held whole.
//!
//! Rounds (each message under an [`Envelope`] of this session):
//! 1. broadcast: frost DKG round-1 package (polynomial commitment and proof of knowledge);
//! 2. to each party: its frost round-2 secret share (needs a confidential channel);
//! 3. broadcast: a digest of the resulting public key package, so that a party that sent
//!    different round-1 packages to different parties is caught before the key is used.
//!
//! Threshold ECDSA keys (`ecdsa-secp256k1`) come from `dkls23` in four rounds instead: see
//! [`crate::ecdsa`].
//!
//! `frost-core` refuses thresholds below 2. For `t = 1` (every party can sign alone, so every
//! party must hold the whole key): with `n = 1` the single party generates its key locally;
//! with `n >= 2` the parties run the 2-of-n DKG and, in round 3, also send each other their
//! shares, checked against the public shares, from which each reconstructs the key.

use std::collections::BTreeMap;
use std::fmt;

use frost_core::keys::dkg::{self, round1, round2};
use frost_core::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_core::{Ciphersuite, Identifier, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use tessera_types::PartyId;
use zeroize::Zeroizing;

use crate::error::{CryptoError, ErrorKind};
use crate::keys::{GroupInner, GroupKey, KeyShare, ShareInner};
use crate::protocol::{Envelope, Inbox, Outbox, ProtocolKind, Session, Step, open_inbox, outbox};
use crate::suite::{Any, Ed, Suite, Tr, from_frost, ident, with_suite};

/// What a finished key generation or refresh leaves with each party.
#[derive(Debug)]
pub struct KeyOutput {
    /// This party's secret share; the caller hands it to the vault.
    pub share: KeyShare,
    /// The public group key, the same at every party.
    pub group: GroupKey,
}

/// A party's state in a running DKG. Advancing consumes it.
pub struct Dkg(Inner);

/// Boxed: an ECDSA DKG state is about three times a FROST one.
enum Inner {
    Frost(Box<Any<Machine<Ed>, Machine<Tr>>>),
    Ecdsa(Box<crate::ecdsa::dkg::Machine>),
}

pub(crate) struct Machine<C: Suite> {
    session: Session,
    state: State<C>,
}

/// The rounds of DKG and refresh (same shape): each holds the previous round's secrets.
pub(crate) enum State<C: Ciphersuite> {
    Round1 {
        secret: round1::SecretPackage<C>,
    },
    Round2 {
        secret: round2::SecretPackage<C>,
        round1: BTreeMap<Identifier<C>, round1::Package<C>>,
    },
    Confirm {
        key: Box<KeyPackage<C>>,
        public: PublicKeyPackage<C>,
        digest: [u8; 32],
    },
}

impl Dkg {
    /// Starts a DKG as `session.me`. Returns the round-1 messages, or the key at once when the
    /// session has a single party.
    ///
    /// For `ecdsa-secp256k1` the threshold must be at least 2 and the parties numbered 1 to
    /// `n`; `dkls23` draws its own randomness, so `rng` is not used.
    pub fn start<R: RngCore + CryptoRng>(
        session: Session,
        rng: &mut R,
    ) -> Result<Step<Dkg, KeyOutput>, CryptoError> {
        match session.scheme {
            tessera_types::Scheme::FrostEd25519 => Ok(Machine::<Ed>::start(session, rng)?
                .map_state(|m| Dkg(Inner::Frost(Box::new(Any::Ed(m)))))),
            tessera_types::Scheme::FrostSecp256k1Tr => Ok(Machine::<Tr>::start(session, rng)?
                .map_state(|m| Dkg(Inner::Frost(Box::new(Any::Tr(m)))))),
            tessera_types::Scheme::EcdsaSecp256k1 => {
                Ok(crate::ecdsa::dkg::Machine::start(session)?
                    .map_state(|m| Dkg(Inner::Ecdsa(Box::new(m)))))
            }
        }
    }

    /// Feeds the messages of the current round; consumes this state.
    pub fn advance(self, inbox: &Inbox) -> Result<Step<Dkg, KeyOutput>, CryptoError> {
        match self.0 {
            Inner::Frost(any) => with_suite!(*any, m, Wrap => Ok(m
                .advance(inbox)?
                .map_state(|m| Dkg(Inner::Frost(Box::new(Wrap(m))))))),
            Inner::Ecdsa(m) => Ok(m
                .advance(inbox)?
                .map_state(|m| Dkg(Inner::Ecdsa(Box::new(m))))),
        }
    }

    /// The session this DKG runs in.
    pub fn session(&self) -> &Session {
        match &self.0 {
            Inner::Frost(any) => crate::suite::each_suite!(any.as_ref(), m => &m.session),
            Inner::Ecdsa(m) => m.session(),
        }
    }
}

impl crate::protocol::Protocol for Dkg {
    type Output = KeyOutput;

    fn advance(self, inbox: &Inbox) -> Result<Step<Self, KeyOutput>, CryptoError> {
        Dkg::advance(self, inbox)
    }

    fn session(&self) -> &Session {
        Dkg::session(self)
    }
}

impl fmt::Debug for Dkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dkg")
            .field("session", self.session())
            .field("state", &"<redacted>")
            .finish()
    }
}

/// Converts finished frost packages into the erased output types. The key package stays in
/// the box it already has: moving it out would free that box with the share still in it
/// (a moved-out value is not dropped, so it is not zeroized).
pub(crate) trait Erase: Suite {
    fn erase(
        key: Box<KeyPackage<Self>>,
        public: PublicKeyPackage<Self>,
        session: &Session,
    ) -> KeyOutput;
}

impl Erase for Ed {
    fn erase(
        key: Box<KeyPackage<Self>>,
        public: PublicKeyPackage<Self>,
        session: &Session,
    ) -> KeyOutput {
        output(Any::Ed(key), Any::Ed(public), session)
    }
}

impl Erase for Tr {
    fn erase(
        key: Box<KeyPackage<Self>>,
        public: PublicKeyPackage<Self>,
        session: &Session,
    ) -> KeyOutput {
        output(Any::Tr(key), Any::Tr(public), session)
    }
}

fn output(
    key: Any<Box<KeyPackage<Ed>>, Box<KeyPackage<Tr>>>,
    public: Any<PublicKeyPackage<Ed>, PublicKeyPackage<Tr>>,
    session: &Session,
) -> KeyOutput {
    KeyOutput {
        share: KeyShare {
            inner: ShareInner::Frost(key),
            party: session.me,
            threshold: session.threshold,
        },
        group: GroupKey {
            inner: GroupInner::Frost(public),
            threshold: session.threshold,
            parties: session.parties.clone(),
        },
    }
}

pub(crate) fn envelope(session: &Session, kind: ProtocolKind, round: u8) -> Envelope {
    Envelope {
        kind,
        scheme: session.scheme,
        session: session.id,
        round,
    }
}

/// Round 2 of DKG and refresh: each party's frost secret share, to that party only.
pub(crate) fn round2_outbox<C: Suite>(
    session: &Session,
    kind: ProtocolKind,
    to_send: &BTreeMap<Identifier<C>, round2::Package<C>>,
) -> Result<Outbox, CryptoError> {
    outbox(session, &envelope(session, kind, 2), |to| {
        let pkg = to_send.get(&ident::<C>(to)?).ok_or_else(|| {
            CryptoError::new(ErrorKind::Library, format!("no round-2 share for {to}"))
        })?;
        pkg.serialize().map_err(|e| from_frost(e, &session.parties))
    })
}

/// The digest that every party of a run must agree on.
pub(crate) fn confirmation<C: Ciphersuite>(
    session: &Session,
    kind: ProtocolKind,
    public: &PublicKeyPackage<C>,
) -> Result<[u8; 32], CryptoError> {
    let bytes = public
        .serialize()
        .map_err(|e| from_frost(e, &session.parties))?;
    let mut h = Sha256::new();
    h.update(b"tessera/confirm/v1");
    h.update([kind as u8]);
    h.update(session.id.0);
    h.update(&bytes);
    Ok(h.finalize().into())
}

/// Frost's threshold for a session: frost needs at least 2 (see the module docs).
fn frost_threshold(session: &Session) -> u16 {
    session.threshold.t().max(2)
}

impl<C: Suite + Erase> Machine<C> {
    fn start<R: RngCore + CryptoRng>(
        session: Session,
        rng: &mut R,
    ) -> Result<Step<Self, KeyOutput>, CryptoError> {
        if session.parties.len() == 1 {
            return Ok(Step::Done(single_party::<C, R>(&session, rng)?));
        }
        let me = ident::<C>(session.me)?;
        let (secret, package) = dkg::part1::<C, _>(
            me,
            session.threshold.n(),
            frost_threshold(&session),
            &mut *rng,
        )
        .map_err(|e| from_frost(e, &session.parties))?;
        let body = package
            .serialize()
            .map_err(|e| from_frost(e, &session.parties))?;
        let out = outbox(&session, &envelope(&session, ProtocolKind::Dkg, 1), |_| {
            Ok(body.clone())
        })?;
        Ok(Step::Send(
            Self {
                session,
                state: State::Round1 { secret },
            },
            out,
        ))
    }

    fn advance(self, inbox: &Inbox) -> Result<Step<Self, KeyOutput>, CryptoError> {
        let Self { session, state } = self;
        match state {
            State::Round1 { secret } => {
                let env = envelope(&session, ProtocolKind::Dkg, 1);
                let round1 = parse_all(&session, &env, inbox, round1::Package::<C>::deserialize)?;
                let (secret, to_send) =
                    dkg::part2(secret, &round1).map_err(|e| from_frost(e, &session.parties))?;
                let out = round2_outbox(&session, ProtocolKind::Dkg, &to_send)?;
                Ok(Step::Send(
                    Self {
                        session,
                        state: State::Round2 { secret, round1 },
                    },
                    out,
                ))
            }
            State::Round2 { secret, round1 } => {
                let env = envelope(&session, ProtocolKind::Dkg, 2);
                let round2 = parse_all(&session, &env, inbox, round2::Package::<C>::deserialize)?;
                let (key, public) = dkg::part3(&secret, &round1, &round2)
                    .map_err(|e| from_frost(e, &session.parties))?;
                drop(secret);
                let digest = confirmation(&session, ProtocolKind::Dkg, &public)?;
                let env3 = envelope(&session, ProtocolKind::Dkg, 3);
                let reveal = session.threshold.t() == 1;
                let out = outbox(&session, &env3, |_| {
                    let mut body = digest.to_vec();
                    if reveal {
                        body.extend_from_slice(&key.signing_share().serialize());
                    }
                    Ok(body)
                })?;
                Ok(Step::Send(
                    Self {
                        session,
                        state: State::Confirm {
                            key: Box::new(key),
                            public,
                            digest,
                        },
                    },
                    out,
                ))
            }
            State::Confirm {
                key,
                public,
                digest,
            } => {
                let env = envelope(&session, ProtocolKind::Dkg, 3);
                let bodies = open_inbox(&session, &env, inbox)?;
                let revealed = check_confirmations(&session, &bodies, &digest)?;
                if session.threshold.t() == 1 {
                    let (whole, public) =
                        whole_key_for_everyone::<C>(&session, &key, &public, revealed)?;
                    drop(key);
                    return Ok(Step::Done(C::erase(Box::new(whole), public, &session)));
                }
                if let Some((from, _)) = revealed.iter().find(|(_, tail)| !tail.is_empty()) {
                    return Err(CryptoError::blame(
                        ErrorKind::Malformed,
                        vec![*from],
                        "confirmation carries extra bytes",
                    ));
                }
                Ok(Step::Done(C::erase(key, public, &session)))
            }
        }
    }
}

/// Checks every sender's confirmation digest against ours; returns what follows each digest.
pub(crate) fn check_confirmations<'a>(
    session: &Session,
    bodies: &BTreeMap<PartyId, &'a [u8]>,
    digest: &[u8; 32],
) -> Result<BTreeMap<PartyId, &'a [u8]>, CryptoError> {
    let mut rest = BTreeMap::new();
    let mut disagree = Vec::new();
    for (from, body) in bodies {
        match body.split_at_checked(32) {
            Some((d, tail)) if d == digest => {
                rest.insert(*from, tail);
            }
            _ => disagree.push(*from),
        }
    }
    if !disagree.is_empty() {
        return Err(CryptoError::blame(
            ErrorKind::Inconsistent,
            disagree,
            format!(
                "{} computed a different public key package than {}",
                "these parties", session.me
            ),
        ));
    }
    Ok(rest)
}

/// Parses one message from each other party with `parse`, blaming the sender of any that fails.
pub(crate) fn parse_all<C: Ciphersuite, T, E: fmt::Display>(
    session: &Session,
    env: &Envelope,
    inbox: &Inbox,
    parse: fn(&[u8]) -> Result<T, E>,
) -> Result<BTreeMap<Identifier<C>, T>, CryptoError> {
    let bodies = open_inbox(session, env, inbox)?;
    let mut out = BTreeMap::new();
    for (from, body) in bodies {
        let value = parse(body).map_err(|e| {
            CryptoError::blame(
                ErrorKind::Malformed,
                vec![from],
                format!("round {}: {e}", env.round),
            )
        })?;
        out.insert(ident::<C>(from)?, value);
    }
    Ok(out)
}

/// `t = 1, n = 1`: the only party generates its key. Frost's post-DKG hook applies the
/// ciphersuite's tweak (BIP-341 for Taproot), exactly as after a multi-party DKG.
fn single_party<C: Suite + Erase, R: RngCore + CryptoRng>(
    session: &Session,
    rng: &mut R,
) -> Result<KeyOutput, CryptoError> {
    let secret = SigningKey::<C>::new(rng);
    let (key, public) = one_of_n::<C>(session, &secret)?;
    let (key, public) = C::post_dkg(key, public).map_err(|e| from_frost(e, &session.parties))?;
    Ok(C::erase(Box::new(key), public, session))
}

/// Key packages of a `1`-of-`n` key whose secret is `secret`.
fn one_of_n<C: Suite>(
    session: &Session,
    secret: &SigningKey<C>,
) -> Result<(KeyPackage<C>, PublicKeyPackage<C>), CryptoError> {
    let err = |e| from_frost(e, &session.parties);
    let bytes = Zeroizing::new(secret.serialize());
    let share = SigningShare::<C>::deserialize(&bytes).map_err(err)?;
    let verifying_share = VerifyingShare::from(share);
    let verifying_key = VerifyingKey::from(secret);
    let key = KeyPackage::new(
        ident::<C>(session.me)?,
        share,
        verifying_share,
        verifying_key,
        1,
    );
    let mut shares = BTreeMap::new();
    for p in &session.parties {
        shares.insert(ident::<C>(*p)?, verifying_share);
    }
    Ok((key, PublicKeyPackage::new(shares, verifying_key, Some(1))))
}

/// `t = 1, n >= 2`: checks each revealed share against its sender's public share, then
/// reconstructs the (already tweaked) group secret that every party now holds whole.
fn whole_key_for_everyone<C: Suite>(
    session: &Session,
    key: &KeyPackage<C>,
    public: &PublicKeyPackage<C>,
    revealed: BTreeMap<PartyId, &[u8]>,
) -> Result<(KeyPackage<C>, PublicKeyPackage<C>), CryptoError> {
    let mut packages = vec![key.clone()];
    for (from, bytes) in revealed {
        let blame =
            |why: String| CryptoError::blame(ErrorKind::InvalidSecretShare, vec![from], why);
        let share = SigningShare::<C>::deserialize(bytes).map_err(|e| blame(e.to_string()))?;
        let id = ident::<C>(from)?;
        let verifying_share = VerifyingShare::from(share);
        if public.verifying_shares().get(&id) != Some(&verifying_share) {
            return Err(blame(
                "revealed share does not match its public share".into(),
            ));
        }
        packages.push(KeyPackage::new(
            id,
            share,
            verifying_share,
            *public.verifying_key(),
            2,
        ));
    }
    let secret =
        frost_core::keys::reconstruct(&packages).map_err(|e| from_frost(e, &session.parties))?;
    drop(packages);
    if VerifyingKey::from(&secret) != *public.verifying_key() {
        return Err(CryptoError::new(
            ErrorKind::Inconsistent,
            "reconstructed key does not match the group key",
        ));
    }
    one_of_n::<C>(session, &secret)
}
