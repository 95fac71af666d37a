//! ECDSA verification with `k256` 0.13, independently of `dkls23` (which uses `k256` 0.14):
//! `verify_prehash` of a low-S signature, and recovery of the public key from `(r, s, v)`,
//! which is how Ethereum reads a signature.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use crate::ecdsa::EcdsaSignature;
use crate::error::{CryptoError, ErrorKind};

fn invalid(detail: impl Into<String>) -> CryptoError {
    CryptoError::new(ErrorKind::InvalidSignature, detail)
}

fn malformed(detail: impl Into<String>) -> CryptoError {
    CryptoError::new(ErrorKind::Malformed, detail)
}

/// Checks `signature` on the 32-byte `message_hash` under the compressed SEC1 `public_key`:
/// `s` must be low, `verify_prehash` must accept it, and the recovery id must recover the key.
pub(crate) fn verify_recoverable(
    public_key: &[u8],
    message_hash: &[u8; 32],
    signature: &EcdsaSignature,
) -> Result<(), CryptoError> {
    if public_key.len() != 33 {
        return Err(malformed(
            "an ecdsa-secp256k1 public key is 33 bytes (compressed SEC1)",
        ));
    }
    let key = VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| malformed("not a secp256k1 public key"))?;
    let sig = Signature::from_scalars(signature.r, signature.s)
        .map_err(|_| invalid("r or s is zero or not below the group order"))?;
    if sig.normalize_s().is_some() {
        return Err(invalid("high-S signature"));
    }
    key.verify_prehash(message_hash, &sig)
        .map_err(|_| invalid("signature does not verify"))?;
    let recovery_id = RecoveryId::from_byte(signature.recovery_id)
        .filter(|_| signature.recovery_id <= 1)
        .ok_or_else(|| invalid("recovery id is not 0 or 1"))?;
    let recovered = VerifyingKey::recover_from_prehash(message_hash, &sig, recovery_id)
        .map_err(|_| invalid("no public key recovers from the signature"))?;
    if recovered != key {
        return Err(invalid("the recovery id recovers another key"));
    }
    Ok(())
}

/// [`crate::verify`] for `ecdsa-secp256k1`: a 33-byte key, a 32-byte message hash and a
/// 65-byte `r || s || v` signature.
pub(crate) fn verify_bytes(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let hash = <[u8; 32]>::try_from(message).map_err(|_| {
        malformed(format!(
            "an ecdsa-secp256k1 message is a 32-byte hash, got {} bytes",
            message.len()
        ))
    })?;
    let signature = EcdsaSignature::from_bytes(signature)?;
    verify_recoverable(public_key, &hash, &signature)
}
