//! The check the service benchmark applies to every signature it is given: an EIP-191
//! (`personal_sign`) signature `r || s || v` must recover, with `k256`, to the wallet's address.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

/// Checks that `signature` (65 bytes `r || s || v`, `v` 27 or 28, low S) signs the EIP-191 hash
/// of `message` under the key of `address` (`0x` and 40 hex digits). The error says why not.
pub fn check_personal_signature(
    message: &[u8],
    signature: &[u8],
    address: &str,
) -> Result<(), String> {
    let expected = tessera_eth::parse_address(address)
        .map_err(|e| format!("wallet address: {}", e.message))?;
    let (v, rs) = signature
        .split_last()
        .filter(|(_, rs)| rs.len() == 64)
        .ok_or_else(|| format!("a signature is 65 bytes, not {}", signature.len()))?;
    let recovery = v
        .checked_sub(27)
        .and_then(RecoveryId::from_byte)
        .ok_or_else(|| format!("`v` is 27 or 28, not {v}"))?;
    let sig = Signature::from_slice(rs).map_err(|_| "`r` or `s` is out of range".to_owned())?;
    if sig.normalize_s().is_some() {
        return Err("`s` is high".to_owned());
    }
    let hash = tessera_eth::personal_message_hash(message);
    let key = VerifyingKey::recover_from_prehash(hash.as_slice(), &sig, recovery)
        .map_err(|_| "no key recovers from the signature".to_owned())?;
    key.verify_prehash(hash.as_slice(), &sig)
        .map_err(|_| "the signature does not verify under its recovered key".to_owned())?;
    let recovered = tessera_eth::address_of(key.to_encoded_point(true).as_bytes())
        .map_err(|e| format!("recovered key: {}", e.message))?;
    if recovered != expected {
        return Err(format!(
            "the signature recovers to `{}`, not the wallet's `{address}`",
            tessera_eth::checksummed(&recovered)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k256::ecdsa::SigningKey;
    use rand::rngs::OsRng;

    use super::*;

    fn signed(key: &SigningKey, message: &[u8]) -> Vec<u8> {
        let hash = tessera_eth::personal_message_hash(message);
        let (sig, recovery) = key.sign_prehash_recoverable(hash.as_slice()).unwrap();
        let mut out = sig.to_bytes().to_vec();
        out.push(recovery.to_byte() + 27);
        out
    }

    fn address(key: &SigningKey) -> String {
        let sec1 = key.verifying_key().to_encoded_point(true);
        tessera_eth::checksummed(&tessera_eth::address_of(sec1.as_bytes()).unwrap())
    }

    #[test]
    fn accepts_a_signature_by_the_wallet_key() {
        let key = SigningKey::random(&mut OsRng);
        let sig = signed(&key, b"settle batch 1");
        assert_eq!(
            check_personal_signature(b"settle batch 1", &sig, &address(&key)),
            Ok(())
        );
    }

    #[test]
    fn refuses_another_message_key_or_a_flipped_bit() {
        let key = SigningKey::random(&mut OsRng);
        let other = SigningKey::random(&mut OsRng);
        let sig = signed(&key, b"settle batch 1");
        assert!(check_personal_signature(b"settle batch 2", &sig, &address(&key)).is_err());
        assert!(check_personal_signature(b"settle batch 1", &sig, &address(&other)).is_err());
        for i in [0, 40, 64] {
            let mut bad = sig.clone();
            bad[i] ^= 1;
            assert!(
                check_personal_signature(b"settle batch 1", &bad, &address(&key)).is_err(),
                "byte {i}"
            );
        }
        assert!(check_personal_signature(b"settle batch 1", &sig[..64], &address(&key)).is_err());
    }
}
