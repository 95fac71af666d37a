//! Signature checks by libraries other than the threshold crates that sign, so the demo does
//! not only take the signing library's word: `ed25519-dalek` (strict verification) for
//! Ed25519, `k256`'s BIP-340 verifier (x-only key, message not pre-hashed) for Taproot, and
//! `k256` 0.13's ECDSA (pre-hashed message, low-S, key recovery) for threshold ECDSA, which
//! `dkls23` computes with `k256` 0.14.

use tessera_types::Scheme;

/// The independent verifier used for `scheme`, as printed.
pub fn independent_verifier(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::FrostEd25519 => "ed25519-dalek verify_strict",
        Scheme::FrostSecp256k1Tr => "k256 schnorr verify_raw",
        Scheme::EcdsaSecp256k1 => "k256 ecdsa verify_prehash and recover_from_prehash",
    }
}

/// Verifies `signature` on `message` under `public_key` (as [`tessera_crypto::GroupKey`]
/// encodes it: 32 bytes for Ed25519, the 32-byte x-only key for BIP-340, the 33-byte
/// compressed key for ECDSA), without the signing library. `Err` carries the verifier's
/// reason. For ECDSA the message is the 32-byte hash and the signature `r || s || v`
/// (65 bytes, `v` 0 or 1): `s` must be low and `v` must recover the key.
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
        Scheme::EcdsaSecp256k1 => ecdsa_verify(public_key, message, signature),
    }
}

fn ecdsa_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), String> {
    use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

    if public_key.len() != 33 {
        return Err(format!(
            "public key is {} bytes, not 33 (compressed SEC1)",
            public_key.len()
        ));
    }
    if message.len() != 32 {
        return Err(format!(
            "message is {} bytes, not a 32-byte hash",
            message.len()
        ));
    }
    let (rs, v) = match signature {
        [rs @ .., v] if rs.len() == 64 => (rs, *v),
        _ => return Err(format!("signature is {} bytes, not 65", signature.len())),
    };
    let vk =
        VerifyingKey::from_sec1_bytes(public_key).map_err(|e| format!("bad public key: {e}"))?;
    let sig = Signature::from_slice(rs).map_err(|e| format!("bad signature encoding: {e}"))?;
    if sig.normalize_s().is_some() {
        return Err("rejected: high-S signature".into());
    }
    vk.verify_prehash(message, &sig)
        .map_err(|e| format!("rejected: {e}"))?;
    let id = RecoveryId::from_byte(v)
        .filter(|_| v <= 1)
        .ok_or_else(|| format!("recovery id {v} is not 0 or 1"))?;
    let recovered = VerifyingKey::recover_from_prehash(message, &sig, id)
        .map_err(|e| format!("rejected: no key recovers: {e}"))?;
    if recovered != vk {
        return Err("rejected: the recovery id recovers another key".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Signer as _;
    use k256::ecdsa::Signature;

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

    #[test]
    fn ecdsa_accepts_a_good_signature_and_rejects_a_changed_one() {
        let s = Scheme::EcdsaSecp256k1;
        let sk = k256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let pk = sk
            .verifying_key()
            .to_encoded_point(true)
            .as_bytes()
            .to_vec();
        let hash = [0x11u8; 32];
        let (sig, id) = sk.sign_prehash_recoverable(&hash).unwrap();
        assert!(sig.normalize_s().is_none(), "k256 signs low-S");
        let mut good = sig.to_bytes().to_vec();
        good.push(id.to_byte());
        assert_eq!(independent_verify(s, &pk, &hash, &good), Ok(()));
        assert!(independent_verify(s, &pk, &[0x12u8; 32], &good).is_err());
        // The message is a hash: 32 bytes, not the text it came from.
        assert!(independent_verify(s, &pk, b"pay 1", &good).is_err());
        assert!(independent_verify(s, &pk, &hash, &good[..64]).is_err());
        assert!(independent_verify(s, &pk[1..], &hash, &good).is_err());
        // The other recovery id recovers another key.
        let mut flipped = good.clone();
        flipped[64] ^= 1;
        assert!(independent_verify(s, &pk, &hash, &flipped).is_err());
        flipped[64] = 27;
        assert!(independent_verify(s, &pk, &hash, &flipped).is_err());
        // The high-S twin of a valid signature is refused.
        let high = Signature::from_scalars(sig.r().to_bytes(), (-*sig.s()).to_bytes()).unwrap();
        let mut high_bytes = high.to_bytes().to_vec();
        high_bytes.push(id.to_byte() ^ 1);
        let err = independent_verify(s, &pk, &hash, &high_bytes).unwrap_err();
        assert!(err.contains("high-S"), "{err}");
    }
}
