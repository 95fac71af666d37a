//! Threshold ECDSA on secp256k1 (scheme `ecdsa-secp256k1`, for Ethereum and EVM chains), from
//! `dkls23` 0.6.2 (DKLs23, oblivious-transfer based; ADR 0010).
//!
//! The scheme sits behind the same types as FROST: [`crate::Dkg`] and [`crate::Refresh`]
//! generate and refresh its keys (a [`crate::KeyShare`] and a [`crate::GroupKey`] whose public
//! key is the 33-byte compressed SEC1 point), and [`crate::verify`] checks its signatures.
//! Signing differs: there are no nonces made ahead of time ([`crate::commit`],
//! [`crate::SigningPackage`], [`crate::sign`] and [`crate::aggregate`] refuse ECDSA keys with
//! `unsupported`); a quorum of exactly `t` signers runs an [`EcdsaSign`] session of three
//! online rounds, at the end of which every signer holds the [`EcdsaSignature`].
//!
//! Parties of an ECDSA key are numbered 1 to `n` (`dkls23` evaluates its polynomials there),
//! and the threshold is at least 2: `1`-of-`n` ECDSA is not offered.
//!
//! `dkls23` draws its own randomness (`rand::rng()`, the OS generator) and takes none from
//! the caller; its `k256` 0.14 types never leave this crate.

pub(crate) mod dkg;
pub(crate) mod dkls;
pub(crate) mod keys;
pub(crate) mod refresh;
mod sign;
mod verify;

use std::fmt;

pub use sign::EcdsaSign;
pub(crate) use verify::verify_bytes;

use tessera_types::Scheme;

use crate::error::{CryptoError, ErrorKind};
use crate::keys::{GroupKey, hex_string};

/// An ECDSA signature as Ethereum carries it: `r`, a low `s`, and the recovery id (the parity
/// of the nonce point's y coordinate, 0 or 1).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EcdsaSignature {
    /// `r`, big-endian.
    pub r: [u8; 32],
    /// `s`, big-endian, at most half the group order (low-S).
    pub s: [u8; 32],
    /// The recovery id, 0 or 1.
    pub recovery_id: u8,
}

impl EcdsaSignature {
    /// `r || s || recovery_id`, 65 bytes (add 27, or the EIP-155 offset, for Ethereum's `v`).
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        let (r, rest) = out.split_at_mut(32);
        let (s, v) = rest.split_at_mut(32);
        r.copy_from_slice(&self.r);
        s.copy_from_slice(&self.s);
        v.fill(self.recovery_id);
        out
    }

    /// Parses [`EcdsaSignature::to_bytes`]: 65 bytes with a recovery id of 0 or 1. Whether
    /// `r` and `s` are valid is left to verification.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let Ok::<&[u8; 65], _>(bytes) = bytes.try_into() else {
            return Err(CryptoError::new(
                ErrorKind::Malformed,
                format!(
                    "an ecdsa-secp256k1 signature is 65 bytes (r, s, recovery id), got {}",
                    bytes.len()
                ),
            ));
        };
        let (r, rest) = bytes.split_at(32);
        let (s, v) = rest.split_at(32);
        let recovery_id = match v {
            [v @ (0 | 1)] => *v,
            _ => {
                return Err(CryptoError::new(
                    ErrorKind::Malformed,
                    "an ecdsa-secp256k1 recovery id is 0 or 1",
                ));
            }
        };
        let mut out = Self {
            r: [0; 32],
            s: [0; 32],
            recovery_id,
        };
        out.r.copy_from_slice(r);
        out.s.copy_from_slice(s);
        Ok(out)
    }
}

impl GroupKey {
    /// Verifies a threshold ECDSA `signature` on `message_hash` under this group key (see
    /// [`crate::verify`]).
    pub fn verify_ecdsa(
        &self,
        message_hash: &[u8; 32],
        signature: &EcdsaSignature,
    ) -> Result<(), CryptoError> {
        if self.scheme() != Scheme::EcdsaSecp256k1 {
            return Err(CryptoError::new(
                ErrorKind::Mismatch,
                format!("a {} key does not verify ECDSA signatures", self.scheme()),
            ));
        }
        verify::verify_recoverable(&self.public_key(), message_hash, signature)
    }
}

impl fmt::Debug for EcdsaSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcdsaSignature({})", hex_string(&self.to_bytes()))
    }
}
