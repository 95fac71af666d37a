//! How the coordinator talks to one signer.

use std::fmt;

use tessera_crypto::protocol::{Inbox, Session, SessionId};
use tessera_crypto::{Commitment, CryptoError, GroupKey, SignatureShare, SigningPackage};
use tessera_signer::{Progress, Signer, SignerError};
use tessera_types::{KeyId, PartyId};

/// A signer's refusal or failure, as the coordinator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    /// The signer.
    pub party: PartyId,
    /// Its stable error code.
    pub code: String,
    /// Its message.
    pub message: String,
    /// Parties the signer blamed, if any.
    pub culprits: Vec<PartyId>,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} refused: {} ({})",
            self.party, self.message, self.code
        )
    }
}

impl std::error::Error for LinkError {}

impl LinkError {
    fn from_signer(party: PartyId, e: &SignerError) -> Self {
        let culprits = match e {
            SignerError::Crypto(CryptoError { culprits, .. }) => culprits.clone(),
            _ => Vec::new(),
        };
        Self {
            party,
            code: e.code().to_owned(),
            message: e.to_string(),
            culprits,
        }
    }
}

/// The operations a coordinator needs from a signer.
pub trait SignerLink {
    /// The signer's party.
    fn party(&self) -> PartyId;
    /// Starts a DKG for `key_id`.
    fn dkg_start(&mut self, key_id: &KeyId, session: Session) -> Result<Progress, LinkError>;
    /// Feeds a DKG round.
    fn dkg_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError>;
    /// Starts a refresh of `key_id`.
    fn refresh_start(&mut self, key_id: &KeyId, session: SessionId) -> Result<Progress, LinkError>;
    /// Feeds a refresh round.
    fn refresh_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError>;
    /// Activates this party's finished DKG or refresh result for `group`.
    fn activate(&mut self, key_id: &KeyId, group: &GroupKey) -> Result<(), LinkError>;
    /// Abandons a DKG or refresh, running or finished but not yet activated.
    fn abort(&mut self, key_id: &KeyId) -> Result<(), LinkError>;
    /// Fresh nonce commitments.
    fn commit(&mut self, key_id: &KeyId, count: usize) -> Result<Vec<Commitment>, LinkError>;
    /// A signature share.
    fn sign(
        &mut self,
        key_id: &KeyId,
        package: &SigningPackage,
    ) -> Result<SignatureShare, LinkError>;
}

impl SignerLink for Signer {
    fn party(&self) -> PartyId {
        Signer::party(self)
    }

    fn dkg_start(&mut self, key_id: &KeyId, session: Session) -> Result<Progress, LinkError> {
        let me = Signer::party(self);
        Signer::dkg_start(self, key_id, session).map_err(|e| LinkError::from_signer(me, &e))
    }

    fn dkg_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError> {
        let me = Signer::party(self);
        Signer::dkg_advance(self, key_id, inbox).map_err(|e| LinkError::from_signer(me, &e))
    }

    fn refresh_start(&mut self, key_id: &KeyId, session: SessionId) -> Result<Progress, LinkError> {
        let me = Signer::party(self);
        Signer::refresh_start(self, key_id, session).map_err(|e| LinkError::from_signer(me, &e))
    }

    fn refresh_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError> {
        let me = Signer::party(self);
        Signer::refresh_advance(self, key_id, inbox).map_err(|e| LinkError::from_signer(me, &e))
    }

    fn activate(&mut self, key_id: &KeyId, group: &GroupKey) -> Result<(), LinkError> {
        let me = Signer::party(self);
        Signer::activate(self, key_id, group).map_err(|e| LinkError::from_signer(me, &e))
    }

    fn abort(&mut self, key_id: &KeyId) -> Result<(), LinkError> {
        let me = Signer::party(self);
        Signer::abort_session(self, key_id)
            .map(|_| ())
            .map_err(|e| LinkError::from_signer(me, &e))
    }

    fn commit(&mut self, key_id: &KeyId, count: usize) -> Result<Vec<Commitment>, LinkError> {
        let me = Signer::party(self);
        Signer::commit(self, key_id, count).map_err(|e| LinkError::from_signer(me, &e))
    }

    fn sign(
        &mut self,
        key_id: &KeyId,
        package: &SigningPackage,
    ) -> Result<SignatureShare, LinkError> {
        let me = Signer::party(self);
        Signer::sign(self, key_id, package).map_err(|e| LinkError::from_signer(me, &e))
    }
}
