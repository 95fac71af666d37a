//! Errors with structured blame: which party caused a failure is a field, not a sentence.

use std::fmt;

use tessera_types::PartyId;

/// What went wrong in a cryptographic operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Parameters that the scheme refuses (party counts, party list, own id missing).
    Parameters,
    /// A message that does not decode, is for another scheme, round or version.
    Malformed,
    /// A party that should have sent a message did not.
    MissingMessage,
    /// A message from a party that is not part of this session.
    UnexpectedSender,
    /// A DKG or refresh proof of knowledge that does not verify.
    InvalidProofOfKnowledge,
    /// A DKG or refresh secret share that does not match its sender's commitment.
    InvalidSecretShare,
    /// Parties that ended a key generation with different public keys.
    Inconsistent,
    /// A signature share that does not verify against its sender's public share.
    InvalidSignatureShare,
    /// A signing package that does not contain this party's commitment, or contains another.
    WrongCommitment,
    /// Objects of different schemes or keys mixed in one call.
    Mismatch,
    /// A signature that does not verify.
    InvalidSignature,
    /// An operation that the key's parameters or scheme cannot support.
    Unsupported,
    /// A party failed a check of threshold ECDSA's oblivious-transfer or multiplication
    /// protocol (DKLs23 `BanCounterparty`). The blamed party must be excluded from every later
    /// signing and refresh of this key: signing on with it can leak the key (ADR 0010).
    BanCounterparty,
    /// Another error reported by the underlying library.
    Library,
}

impl ErrorKind {
    /// A stable, lowercase code for logs and API errors.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Parameters => "invalid_parameters",
            ErrorKind::Malformed => "malformed_message",
            ErrorKind::MissingMessage => "missing_message",
            ErrorKind::UnexpectedSender => "unexpected_sender",
            ErrorKind::InvalidProofOfKnowledge => "invalid_proof_of_knowledge",
            ErrorKind::InvalidSecretShare => "invalid_secret_share",
            ErrorKind::Inconsistent => "inconsistent_key_generation",
            ErrorKind::InvalidSignatureShare => "invalid_signature_share",
            ErrorKind::WrongCommitment => "wrong_commitment",
            ErrorKind::Mismatch => "mismatch",
            ErrorKind::InvalidSignature => "invalid_signature",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::BanCounterparty => "ban_counterparty",
            ErrorKind::Library => "library_error",
        }
    }
}

/// A cryptographic failure, with the parties to blame when it can name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The parties whose messages caused it; empty when nobody can be blamed.
    pub culprits: Vec<PartyId>,
    /// Detail for logs.
    pub detail: String,
}

impl CryptoError {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            culprits: Vec::new(),
            detail: detail.into(),
        }
    }

    pub(crate) fn blame(
        kind: ErrorKind,
        culprits: Vec<PartyId>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            culprits,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail)?;
        if !self.culprits.is_empty() {
            let names: Vec<String> = self.culprits.iter().map(|p| p.get().to_string()).collect();
            write!(f, " (blamed: party {})", names.join(", party "))?;
        }
        Ok(())
    }
}

impl std::error::Error for CryptoError {}
