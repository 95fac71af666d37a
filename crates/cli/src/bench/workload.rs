//! What a benchmark run signs, the request that asks for it, and the independent check of each
//! signature.

use rand_core::{OsRng, RngCore as _};
use serde_json::Value;
use tessera_types::Scheme;
use tessera_wire::SignRequest;

use crate::verify::independent_verify;

/// Bytes of each payload.
pub const PAYLOAD_LEN: usize = 32;

/// The payloads of one run: payload `i` is 24 random bytes drawn once per run, then `i` (8 bytes,
/// big-endian), so every request signs something new and a baseline can sign the very payloads
/// the service signed.
#[derive(Debug, Clone)]
pub struct Workload {
    scheme: Scheme,
    run: [u8; PAYLOAD_LEN - 8],
}

impl Workload {
    /// A fresh run for `scheme`.
    pub fn new(scheme: Scheme) -> Workload {
        let mut run = [0u8; PAYLOAD_LEN - 8];
        OsRng.fill_bytes(&mut run);
        Workload { scheme, run }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Payload `i`.
    pub fn payload(&self, i: u64) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        let (run, index) = out.split_at_mut(PAYLOAD_LEN - 8);
        run.copy_from_slice(&self.run);
        index.copy_from_slice(&i.to_be_bytes());
        out
    }

    /// The body of `POST /v1/wallets/{id}/sign` for payload `i`: `payload_hex` for the FROST
    /// schemes, `message_hex` (an EIP-191 message) for ECDSA, and an idempotency key of its own.
    pub fn request(&self, i: u64) -> SignRequest {
        let hex = hex::encode(self.payload(i));
        let (payload_hex, message_hex) = match self.scheme {
            Scheme::EcdsaSecp256k1 => (None, Some(hex)),
            Scheme::FrostEd25519 | Scheme::FrostSecp256k1Tr => (Some(hex), None),
        };
        SignRequest {
            payload_hex,
            typed_data: None,
            message_hex,
            idempotency_key: format!("bench-{}-{i}", hex::encode(self.run)),
        }
    }

    /// The bytes the key signs for `payload`: the payload itself (FROST), or its EIP-191
    /// (`personal_sign`) hash (ECDSA).
    pub fn signed_bytes(&self, payload: &[u8]) -> Vec<u8> {
        match self.scheme {
            Scheme::EcdsaSecp256k1 => tessera_eth::personal_message_hash(payload).0.to_vec(),
            Scheme::FrostEd25519 | Scheme::FrostSecp256k1Tr => payload.to_vec(),
        }
    }

    /// Checks an answer's signature of payload `i` under the wallet's `public_key`, with a
    /// verifier other than the signing library. For ECDSA the answer's `v` is 27 or 28.
    pub fn check(&self, public_key: &[u8], i: u64, answer: &Value) -> Result<(), String> {
        let mut signature = answer
            .get("signature_hex")
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| "the answer has no hex `signature_hex`".to_owned())?;
        if self.scheme == Scheme::EcdsaSecp256k1 {
            match signature.last_mut() {
                Some(v @ (27 | 28)) => *v -= 27,
                _ => return Err("the signature's `v` is not 27 or 28".to_owned()),
            }
        }
        let signed = self.signed_bytes(&self.payload(i));
        independent_verify(self.scheme, public_key, &signed, &signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_distinct_and_requests_match_the_scheme() {
        let w = Workload::new(Scheme::FrostEd25519);
        assert_ne!(w.payload(0), w.payload(1));
        assert_eq!(w.payload(7)[24..], 7u64.to_be_bytes());
        let r = w.request(3);
        assert_eq!(r.payload_hex.as_deref(), Some(&*hex::encode(w.payload(3))));
        assert!(r.message_hex.is_none());
        assert_ne!(r.idempotency_key, w.request(4).idempotency_key);
        assert!(r.idempotency_key.len() <= 128);
        let e = Workload::new(Scheme::EcdsaSecp256k1);
        let r = e.request(3);
        assert!(r.payload_hex.is_none() && r.message_hex.is_some());
        assert_eq!(e.signed_bytes(&e.payload(3)).len(), 32);
    }

    #[test]
    fn check_accepts_a_good_signature_and_refuses_a_bad_one() {
        use ed25519_dalek::Signer as _;
        let w = Workload::new(Scheme::FrostEd25519);
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let pk = sk.verifying_key().to_bytes();
        let sig = hex::encode(sk.sign(&w.payload(5)).to_bytes());
        let answer = serde_json::json!({ "signature_hex": sig });
        assert_eq!(w.check(&pk, 5, &answer), Ok(()));
        assert!(w.check(&pk, 6, &answer).is_err());
        assert!(w.check(&pk, 5, &serde_json::json!({})).is_err());
    }

    #[test]
    fn check_reads_ecdsa_v_as_27_or_28() {
        let w = Workload::new(Scheme::EcdsaSecp256k1);
        let sk = k256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let pk = sk
            .verifying_key()
            .to_encoded_point(true)
            .as_bytes()
            .to_vec();
        let hash = w.signed_bytes(&w.payload(1));
        let (sig, id) = sk.sign_prehash_recoverable(&hash).unwrap();
        let mut bytes = sig.to_bytes().to_vec();
        bytes.push(id.to_byte() + 27);
        let answer = serde_json::json!({ "signature_hex": hex::encode(&bytes) });
        assert_eq!(w.check(&pk, 1, &answer), Ok(()));
        bytes[64] -= 27;
        let raw_v = serde_json::json!({ "signature_hex": hex::encode(&bytes) });
        assert!(w.check(&pk, 1, &raw_v).is_err());
    }
}
