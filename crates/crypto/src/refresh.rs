//! Proactive refresh: every party gets a new share of the same key; old shares, alone or
//! mixed with new ones, no longer combine into anything.
//!
//! Same three rounds as [`crate::Dkg`], with frost's refresh functions: shares of a random
//! polynomial with a zero constant term are added to the old shares. All `n` parties take part.
//! A `1`-of-`n` key cannot be refreshed: each share is the whole key. Threshold ECDSA keys use
//! `dkls23`'s fast refresh, in four rounds: see [`crate::ecdsa`].

use std::fmt;

use frost_core::keys::dkg::{round1, round2};
use frost_core::keys::refresh::{refresh_dkg_part1, refresh_dkg_part2, refresh_dkg_shares};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use rand_core::{CryptoRng, RngCore};

use crate::dkg::{
    Erase, KeyOutput, State, check_confirmations, confirmation, envelope, parse_all, round2_outbox,
};
use crate::error::{CryptoError, ErrorKind};
use crate::keys::{GroupInner, GroupKey, KeyShare, ShareInner};
use crate::protocol::{Inbox, ProtocolKind, Session, Step, open_inbox, outbox};
use crate::suite::{Any, Ed, Suite, Tr, each_suite, from_frost, ident, with_suite};

/// A party's state in a running refresh. Advancing consumes it.
pub struct Refresh(Inner);

enum Inner {
    Frost(Any<Machine<Ed>, Machine<Tr>>),
    Ecdsa(crate::ecdsa::refresh::Machine),
}

pub(crate) struct Machine<C: Suite> {
    session: Session,
    old_key: Box<KeyPackage<C>>,
    old_public: PublicKeyPackage<C>,
    state: State<C>,
}

impl Refresh {
    /// Starts refreshing `share` of `group`. The session must list the key's parties and
    /// threshold. The old share is consumed; the new one comes out at the end.
    pub fn start<R: RngCore + CryptoRng>(
        session: Session,
        share: KeyShare,
        group: &GroupKey,
        rng: &mut R,
    ) -> Result<Step<Refresh, KeyOutput>, CryptoError> {
        if session.threshold.t() < 2 {
            return Err(CryptoError::new(
                ErrorKind::Unsupported,
                "a 1-of-n key has no shares to refresh: every party holds the whole key",
            ));
        }
        if !share.belongs_to(group)
            || session.parties != group.parties
            || session.threshold != group.threshold
            || session.me != share.party
            || session.scheme != share.scheme()
        {
            return Err(CryptoError::new(
                ErrorKind::Mismatch,
                "the share, group key and session do not describe the same key and party",
            ));
        }
        let KeyShare { inner, .. } = share;
        use {GroupInner as G, ShareInner as S};
        match (inner, &group.inner) {
            (S::Frost(Any::Ed(key)), G::Frost(Any::Ed(public))) => {
                Ok(Machine::<Ed>::start(session, key, public.clone(), rng)?
                    .map_state(|m| Refresh(Inner::Frost(Any::Ed(m)))))
            }
            (S::Frost(Any::Tr(key)), G::Frost(Any::Tr(public))) => {
                Ok(Machine::<Tr>::start(session, key, public.clone(), rng)?
                    .map_state(|m| Refresh(Inner::Frost(Any::Tr(m)))))
            }
            (S::Ecdsa(share), G::Ecdsa(public)) => Ok(crate::ecdsa::refresh::Machine::start(
                session, share, public,
            )?
            .map_state(|m| Refresh(Inner::Ecdsa(m)))),
            _ => Err(CryptoError::new(
                ErrorKind::Mismatch,
                "share and group key of different schemes",
            )),
        }
    }

    /// Feeds the messages of the current round; consumes this state.
    pub fn advance(self, inbox: &Inbox) -> Result<Step<Refresh, KeyOutput>, CryptoError> {
        match self.0 {
            Inner::Frost(any) => with_suite!(any, m, Wrap => Ok(m
                .advance(inbox)?
                .map_state(|m| Refresh(Inner::Frost(Wrap(m)))))),
            Inner::Ecdsa(m) => Ok(m.advance(inbox)?.map_state(|m| Refresh(Inner::Ecdsa(m)))),
        }
    }

    /// The session this refresh runs in.
    pub fn session(&self) -> &Session {
        match &self.0 {
            Inner::Frost(any) => each_suite!(any, m => &m.session),
            Inner::Ecdsa(m) => m.session(),
        }
    }
}

impl crate::protocol::Protocol for Refresh {
    type Output = KeyOutput;

    fn advance(self, inbox: &Inbox) -> Result<Step<Self, KeyOutput>, CryptoError> {
        Refresh::advance(self, inbox)
    }

    fn session(&self) -> &Session {
        Refresh::session(self)
    }
}

impl fmt::Debug for Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresh")
            .field("session", self.session())
            .field("state", &"<redacted>")
            .finish()
    }
}

impl<C: Suite + Erase> Machine<C> {
    fn start<R: RngCore + CryptoRng>(
        session: Session,
        old_key: Box<KeyPackage<C>>,
        old_public: PublicKeyPackage<C>,
        rng: &mut R,
    ) -> Result<Step<Self, KeyOutput>, CryptoError> {
        let me = ident::<C>(session.me)?;
        let (secret, package) =
            refresh_dkg_part1::<C, _>(me, session.threshold.n(), session.threshold.t(), &mut *rng)
                .map_err(|e| from_frost(e, &session.parties))?;
        let body = package
            .serialize()
            .map_err(|e| from_frost(e, &session.parties))?;
        let out = outbox(
            &session,
            &envelope(&session, ProtocolKind::Refresh, 1),
            |_| Ok(body.clone()),
        )?;
        Ok(Step::Send(
            Self {
                session,
                old_key,
                old_public,
                state: State::Round1 { secret },
            },
            out,
        ))
    }

    fn advance(self, inbox: &Inbox) -> Result<Step<Self, KeyOutput>, CryptoError> {
        let Self {
            session,
            old_key,
            old_public,
            state,
        } = self;
        match state {
            State::Round1 { secret } => {
                let env = envelope(&session, ProtocolKind::Refresh, 1);
                let round1 = parse_all(&session, &env, inbox, round1::Package::<C>::deserialize)?;
                let (secret, to_send) = refresh_dkg_part2(secret, &round1)
                    .map_err(|e| from_frost(e, &session.parties))?;
                let out = round2_outbox(&session, ProtocolKind::Refresh, &to_send)?;
                Ok(Step::Send(
                    Self {
                        session,
                        old_key,
                        old_public,
                        state: State::Round2 { secret, round1 },
                    },
                    out,
                ))
            }
            State::Round2 { secret, round1 } => {
                let env = envelope(&session, ProtocolKind::Refresh, 2);
                let round2 = parse_all(&session, &env, inbox, round2::Package::<C>::deserialize)?;
                let (key, public) = refresh_dkg_shares(
                    &secret,
                    &round1,
                    &round2,
                    old_public.clone(),
                    (*old_key).clone(),
                )
                .map_err(|e| from_frost(e, &session.parties))?;
                drop(secret);
                if public.verifying_key() != old_public.verifying_key() {
                    return Err(CryptoError::new(
                        ErrorKind::Inconsistent,
                        "refresh changed the group key",
                    ));
                }
                let digest = confirmation(&session, ProtocolKind::Refresh, &public)?;
                let env3 = envelope(&session, ProtocolKind::Refresh, 3);
                let out = outbox(&session, &env3, |_| Ok(digest.to_vec()))?;
                Ok(Step::Send(
                    Self {
                        session,
                        old_key,
                        old_public,
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
                let env = envelope(&session, ProtocolKind::Refresh, 3);
                let bodies = open_inbox(&session, &env, inbox)?;
                let rest = check_confirmations(&session, &bodies, &digest)?;
                if let Some((from, _)) = rest.iter().find(|(_, tail)| !tail.is_empty()) {
                    return Err(CryptoError::blame(
                        ErrorKind::Malformed,
                        vec![*from],
                        "refresh confirmation carries extra bytes",
                    ));
                }
                drop(old_key);
                Ok(Step::Done(C::erase(key, public, &session)))
            }
        }
    }
}
