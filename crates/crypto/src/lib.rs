//! Threshold signatures for Tessera: key generation by DKG, proactive refresh, signing with
//! precomputed single-use nonces (FROST) or in an online session (threshold ECDSA),
//! aggregation with blame.
//!
//! Every scheme sits behind the same scheme-erased types ([`KeyShare`], [`GroupKey`],
//! [`Nonces`], [`SigningPackage`], ...) and the same message-passing round model
//! ([`protocol`]), so the session logic above this crate is written once. The FROST schemes are
//! the Zcash Foundation's `frost-ed25519` and `frost-secp256k1-tr`; threshold ECDSA
//! ([`ecdsa`]) is `dkls23`, checked with `k256`; this crate adds no curve or hash code of its
//! own.
//!
//! Secrets (`KeyShare`, `Nonces`, protocol round state) are zeroized on drop, print
//! `<redacted>`, are not `Clone` and have no `Serialize`: the only way out is
//! [`KeyShare::to_secret_bytes`], which the vault encrypts.

mod dkg;
pub mod ecdsa;
mod error;
mod hardening;
mod keys;
pub mod protocol;
mod refresh;
mod secret;
mod shield;
mod sign;
mod suite;

#[cfg(feature = "spof-trusted-dealer")]
pub mod trusted_dealer;

#[cfg(test)]
mod tests;

pub use dkg::{Dkg, KeyOutput};
pub use ecdsa::{EcdsaSign, EcdsaSignature};
pub use error::{CryptoError, ErrorKind};
pub use hardening::{Hardening, STACK_WIPE_BYTES, harden_process, wipe_stack};
pub use keys::{GroupKey, KeyShare};
pub use refresh::Refresh;
pub use secret::SecretBytes;
pub use shield::{PREKEY_LEN, SHIELDED_KEY_LEN, Shielded};
pub use sign::{
    Commitment, NonceId, Nonces, Signature, SignatureShare, SigningPackage, aggregate, commit,
    sign, try_commit, verify,
};
