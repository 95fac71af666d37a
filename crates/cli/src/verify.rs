//! Signature checks by libraries other than the FROST crates that sign, so the demo does not
//! only take the signing library's word: `ed25519-dalek` (strict verification) for Ed25519,
//! `k256`'s BIP-340 verifier (x-only key, message not pre-hashed) for Taproot.

use tessera_types::Scheme;

/// The independent verifier used for `scheme`, as printed.
pub fn independent_verifier(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::FrostEd25519 => "ed25519-dalek verify_strict",
        Scheme::FrostSecp256k1Tr => "k256 schnorr verify_raw",
    }
}

/// Verifies `signature` on `message` under `public_key` (as [`tessera_crypto::GroupKey`]
/// encodes it: 32 bytes for Ed25519, the 32-byte x-only key for BIP-340), without the signing
/// library. `Err` carries the verifier's reason.
pub fn independent_verify(
    scheme: Scheme,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    match scheme {
        Scheme::FrostEd25519 => {
            let pk = <[u8; 32]>::try_from(public_key)
                .map_err(|_| format!("public key is {} bytes, not 32", public_key.len()))?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk)
                .map_err(|e| format!("bad public key: {e}"))?;
            let sig = ed25519_dalek::Signature::from_slice(signature)
                .map_err(|e| format!("bad signature encoding: {e}"))?;
            vk.verify_strict(message, &sig)
                .map_err(|e| format!("rejected: {e}"))
        }
        Scheme::FrostSecp256k1Tr => {
            // k256 0.13 panics on a key of the wrong length instead of returning an error.
            if public_key.len() != 32 {
                return Err(format!(
                    "x-only public key is {} bytes, not 32",
                    public_key.len()
                ));
            }
            if signature.len() != 64 {
                return Err(format!("signature is {} bytes, not 64", signature.len()));
            }
            let vk = k256::schnorr::VerifyingKey::from_bytes(public_key)
                .map_err(|e| format!("bad x-only public key: {e}"))?;
            let sig = k256::schnorr::Signature::try_from(signature)
                .map_err(|e| format!("bad signature encoding: {e}"))?;
            vk.verify_raw(message, &sig)
                .map_err(|e| format!("rejected: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Signer as _;

    use super::*;

    #[test]
    fn ed25519_accepts_a_good_signature_and_rejects_a_changed_one() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pk = sk.verifying_key().to_bytes();
        let sig = sk.sign(b"pay 1").to_bytes();
        assert_eq!(
            independent_verify(Scheme::FrostEd25519, &pk, b"pay 1", &sig),
            Ok(())
        );
        assert!(independent_verify(Scheme::FrostEd25519, &pk, b"pay 2", &sig).is_err());
        assert!(independent_verify(Scheme::FrostEd25519, &pk[..31], b"pay 1", &sig).is_err());
        assert!(independent_verify(Scheme::FrostEd25519, &pk, b"pay 1", &sig[..63]).is_err());
    }

    #[test]
    fn bip340_accepts_a_good_signature_and_rejects_a_changed_one() {
        let sk = k256::schnorr::SigningKey::from_bytes(&[9u8; 32]).unwrap();
        let pk = sk.verifying_key().to_bytes();
        let sig = sk.sign_raw(b"pay 1", &[1u8; 32]).unwrap().to_bytes();
        assert_eq!(
            independent_verify(Scheme::FrostSecp256k1Tr, &pk, b"pay 1", &sig),
            Ok(())
        );
        assert!(independent_verify(Scheme::FrostSecp256k1Tr, &pk, b"pay 2", &sig).is_err());
        assert!(independent_verify(Scheme::FrostSecp256k1Tr, &pk, b"pay 1", &sig[..63]).is_err());
        assert!(independent_verify(Scheme::FrostSecp256k1Tr, &pk[..31], b"pay 1", &sig).is_err());
        // The 33-byte compressed encoding is not a BIP-340 key.
        let mut compressed = vec![0x02];
        compressed.extend_from_slice(&pk);
        assert!(independent_verify(Scheme::FrostSecp256k1Tr, &compressed, b"pay 1", &sig).is_err());
        // The Ed25519 verifier does not accept it either: the schemes are not interchangeable.
        assert!(independent_verify(Scheme::FrostEd25519, &pk, b"pay 1", &sig).is_err());
    }
}
