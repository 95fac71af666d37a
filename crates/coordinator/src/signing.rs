//! Signing across a quorum: commitments from a cache filled ahead of time, one round to the
//! signers, aggregation that names any signer whose share is bad.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use tessera_crypto::{Commitment, CryptoError, ErrorKind, GroupKey, Signature, SigningPackage};
use tessera_types::{KeyId, PartyId};

use crate::link::{LinkError, SignerLink};

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A signer refused or failed; its own error, with any parties it blamed.
    #[error(transparent)]
    Signer(LinkError),
    /// Aggregation failed; `culprits` names the signers whose shares were bad.
    #[error(transparent)]
    Crypto(CryptoError),
    /// Parties ended a key generation in different states.
    #[error("parties ended the session differently: {0:?}")]
    Diverged(Vec<PartyId>),
    /// The quorum asked for is not usable.
    #[error("{0}")]
    Quorum(String),
    /// The session failed, and some parties could not drop their pending result.
    #[error("{cause}; and {} parties could not drop their pending result", stuck.len())]
    Cleanup {
        /// Why the session failed.
        cause: Box<SessionError>,
        /// The parties that could not clean up, with their errors.
        stuck: Vec<LinkError>,
    },
    /// Every party finished with the same key, but activation failed at one: the parties in
    /// `activated` use the new key or share, the others still hold it pending and must be
    /// activated again.
    #[error("activation stopped after {activated:?}: {failed}")]
    Activation {
        /// Parties that activated.
        activated: Vec<PartyId>,
        /// The first party that failed.
        failed: LinkError,
    },
}

impl SessionError {
    /// The parties this failure is blamed on.
    pub fn culprits(&self) -> Vec<PartyId> {
        match self {
            SessionError::Signer(e) => e.culprits.clone(),
            SessionError::Crypto(e) => e.culprits.clone(),
            SessionError::Diverged(p) => p.clone(),
            SessionError::Quorum(_) | SessionError::Activation { .. } => Vec::new(),
            SessionError::Cleanup { cause, .. } => cause.culprits(),
        }
    }
}

/// Holds commitments handed out by signers, so that signing is one round.
#[derive(Default)]
pub struct Coordinator {
    cache: HashMap<(KeyId, PartyId), VecDeque<Commitment>>,
}

impl fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached: usize = self.cache.values().map(VecDeque::len).sum();
        f.debug_struct("Coordinator")
            .field("cached_commitments", &cached)
            .finish()
    }
}

impl Coordinator {
    /// An empty coordinator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks `link` for `count` fresh commitments for `key_id` and caches them.
    pub fn refill(
        &mut self,
        link: &mut dyn SignerLink,
        key_id: &KeyId,
        count: usize,
    ) -> Result<(), LinkError> {
        let fresh = link.commit(key_id, count)?;
        self.cache
            .entry((key_id.clone(), link.party()))
            .or_default()
            .extend(fresh);
        Ok(())
    }

    /// Cached commitments of `party` for `key_id`.
    pub fn cached(&self, key_id: &KeyId, party: PartyId) -> usize {
        self.cache
            .get(&(key_id.clone(), party))
            .map_or(0, VecDeque::len)
    }

    /// Forgets every cached commitment of `party` (after it restarted, say).
    pub fn forget(&mut self, party: PartyId) {
        self.cache.retain(|(_, p), _| *p != party);
    }

    /// Signs `message` with the quorum `links` (at least `t` of the key's parties): one
    /// commitment of each from the cache (fetched on the spot if the cache is empty), one round
    /// of signing, aggregation (which verifies the signature) and blame.
    pub fn sign(
        &mut self,
        links: &mut [&mut dyn SignerLink],
        key_id: &KeyId,
        group: &GroupKey,
        message: &[u8],
    ) -> Result<Signature, SessionError> {
        if links.len() < usize::from(group.threshold().t()) {
            return Err(SessionError::Quorum(format!(
                "{} signers for a {} key",
                links.len(),
                group.threshold()
            )));
        }
        let mut commitments = Vec::with_capacity(links.len());
        for link in links.iter_mut() {
            let party = link.party();
            let cached = self
                .cache
                .get_mut(&(key_id.clone(), party))
                .and_then(VecDeque::pop_front);
            let c = match cached {
                Some(c) => c,
                None => link
                    .commit(key_id, 1)
                    .map_err(SessionError::Signer)?
                    .pop()
                    .ok_or_else(|| {
                        SessionError::Quorum(format!("{party} returned no commitment"))
                    })?,
            };
            commitments.push(c);
        }
        let package = SigningPackage::new(message, commitments).map_err(SessionError::Crypto)?;
        let mut shares = Vec::with_capacity(links.len());
        for link in links.iter_mut() {
            let share = link.sign(key_id, &package).map_err(SessionError::Signer)?;
            if share.party() != link.party() {
                return Err(SessionError::Crypto(CryptoError {
                    kind: ErrorKind::UnexpectedSender,
                    culprits: vec![link.party()],
                    detail: "signer answered with another party's share".into(),
                }));
            }
            shares.push(share);
        }
        tessera_crypto::aggregate(group, &package, &shares).map_err(SessionError::Crypto)
    }
}
