//! The FROST ciphersuites behind [`Scheme`], and the glue between `frost-core`'s generic types
//! and this crate's scheme-erased ones. Threshold ECDSA lives in [`crate::ecdsa`].

use std::collections::BTreeSet;

use frost_core::{self as frost, Ciphersuite, Identifier};
use tessera_types::{PartyId, Scheme};

use crate::error::{CryptoError, ErrorKind};

pub(crate) type Ed = frost_ed25519::Ed25519Sha512;
pub(crate) type Tr = frost_secp256k1_tr::Secp256K1Sha256TR;

/// A FROST ciphersuite that Tessera supports.
pub(crate) trait Suite: Ciphersuite {}

impl Suite for Ed {}

impl Suite for Tr {}

/// A value of one of the supported ciphersuites.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Any<E, T> {
    Ed(E),
    Tr(T),
}

impl<E, T> Any<E, T> {
    pub(crate) fn scheme(&self) -> Scheme {
        match self {
            Any::Ed(_) => Scheme::FrostEd25519,
            Any::Tr(_) => Scheme::FrostSecp256k1Tr,
        }
    }
}

/// Runs the same generic expression on whichever suite `$value` holds, with `$wrap` naming
/// the constructor of that suite's variant (to rewrap results).
macro_rules! with_suite {
    ($value:expr, $bind:pat, $wrap:ident => $body:expr) => {
        match $value {
            $crate::suite::Any::Ed($bind) => {
                use $crate::suite::Any::Ed as $wrap;
                $body
            }
            $crate::suite::Any::Tr($bind) => {
                use $crate::suite::Any::Tr as $wrap;
                $body
            }
        }
    };
}

/// Runs the same generic expression on whichever suite `$value` holds.
macro_rules! each_suite {
    ($value:expr, $bind:pat => $body:expr) => {
        match $value {
            $crate::suite::Any::Ed($bind) => $body,
            $crate::suite::Any::Tr($bind) => $body,
        }
    };
}

pub(crate) use {each_suite, with_suite};

/// Tag byte of a scheme in binary formats. Stable: persisted.
pub(crate) fn scheme_tag(scheme: Scheme) -> u8 {
    match scheme {
        Scheme::FrostEd25519 => 1,
        Scheme::FrostSecp256k1Tr => 2,
        Scheme::EcdsaSecp256k1 => 3,
    }
}

pub(crate) fn scheme_from_tag(tag: u8) -> Result<Scheme, CryptoError> {
    match tag {
        1 => Ok(Scheme::FrostEd25519),
        2 => Ok(Scheme::FrostSecp256k1Tr),
        3 => Ok(Scheme::EcdsaSecp256k1),
        other => Err(CryptoError::new(
            ErrorKind::Malformed,
            format!("unknown scheme tag {other}"),
        )),
    }
}

pub(crate) fn ident<C: Ciphersuite>(party: PartyId) -> Result<Identifier<C>, CryptoError> {
    Identifier::try_from(party.get()).map_err(|_| {
        CryptoError::new(
            ErrorKind::Parameters,
            format!("{party} is not a valid identifier"),
        )
    })
}

/// Maps frost identifiers back to the parties of a session; identifiers of nobody are dropped.
pub(crate) fn parties_of<C: Ciphersuite>(
    ids: &[Identifier<C>],
    parties: &BTreeSet<PartyId>,
) -> Vec<PartyId> {
    parties
        .iter()
        .copied()
        .filter(|p| ident::<C>(*p).is_ok_and(|i| ids.contains(&i)))
        .collect()
}

/// Translates a `frost-core` error, naming the parties it blames.
pub(crate) fn from_frost<C: Ciphersuite>(
    e: frost::Error<C>,
    parties: &BTreeSet<PartyId>,
) -> CryptoError {
    use frost::Error as F;
    let kind = match &e {
        F::InvalidProofOfKnowledge { .. } => ErrorKind::InvalidProofOfKnowledge,
        F::InvalidSecretShare { .. } => ErrorKind::InvalidSecretShare,
        F::InvalidSignatureShare { .. } => ErrorKind::InvalidSignatureShare,
        F::IncorrectCommitment | F::MissingCommitment => ErrorKind::WrongCommitment,
        F::InvalidMinSigners | F::InvalidMaxSigners => ErrorKind::Parameters,
        F::InvalidSignature => ErrorKind::InvalidSignature,
        F::IncorrectNumberOfPackages
        | F::IncorrectNumberOfCommitments
        | F::IncorrectNumberOfShares
        | F::UnknownIdentifier
        | F::IncorrectPackage
        | F::PackageNotFound => ErrorKind::MissingMessage,
        F::MalformedSignature
        | F::MalformedVerifyingKey
        | F::MalformedSigningKey
        | F::MalformedIdentifier
        | F::DeserializationError
        | F::SerializationError
        | F::IdentityCommitment
        | F::FieldError(_)
        | F::GroupError(_) => ErrorKind::Malformed,
        _ => ErrorKind::Library,
    };
    let culprits = parties_of::<C>(&e.culprits(), parties);
    CryptoError::blame(kind, culprits, e.to_string())
}

/// The error of a FROST-only operation asked of a scheme without FROST (threshold ECDSA).
pub(crate) fn not_frost(scheme: Scheme, what: &str) -> CryptoError {
    CryptoError::new(
        ErrorKind::Unsupported,
        format!(
            "{what} is a FROST operation; {scheme} keys sign in an online session (EcdsaSign) \
             with no nonce commitments"
        ),
    )
}

/// A `frost-core` error where no session party list applies.
pub(crate) fn lib_err<C: Ciphersuite>(e: frost::Error<C>) -> CryptoError {
    from_frost(e, &BTreeSet::new())
}
