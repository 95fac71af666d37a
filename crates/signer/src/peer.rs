//! Signer-to-signer confidentiality and authenticity for key-generation messages.
//!
//! The coordinator relays every key-generation message, and round 2 carries secret shares: in
//! the clear, a compromised coordinator would collect enough of them to rebuild the key. So each
//! message is sealed by its sender for its recipient with HPKE (RFC 9180) in *auth* mode:
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305. Only the recipient can open it,
//! and opening proves it came from the sender's static key, which every signer knows from its own
//! configuration. The coordinator can drop or delay messages, never read, alter or forge them.
//! The HPKE `info` binds the key id and the sender and recipient parties; the protocol envelope
//! inside binds the session and the round.

use std::collections::BTreeMap;
use std::fmt;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::OsRng;
use tessera_crypto::{CryptoError, ErrorKind};
use tessera_types::{KeyId, PartyId};
use zeroize::Zeroizing;

type Kem = X25519HkdfSha256;
type PrivateKey = <Kem as hpke::Kem>::PrivateKey;
type PublicKey = <Kem as hpke::Kem>::PublicKey;
type EncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// Length of an encapsulated key (X25519 public key).
const ENC_LEN: usize = 32;

/// A new peer key pair: `(secret, public)`, 32 bytes each.
pub fn generate_peer_key() -> ([u8; 32], [u8; 32]) {
    let (sk, pk) = Kem::gen_keypair(&mut OsRng);
    (to_array(&sk.to_bytes()), to_array(&pk.to_bytes()))
}

/// Reads a peer key file: the 32-byte secret in hex (surrounding whitespace ignored), the format
/// `tessera peer-key` and `tessera dev` write. The error says what is wrong, without the key.
pub fn read_peer_key_file(path: &std::path::Path) -> Result<Zeroizing<[u8; 32]>, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("peer key file `{}`: {e}", path.display()))?,
    );
    let mut secret = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), &mut secret[..]).map_err(|_| {
        format!(
            "peer key file `{}` must hold 32 bytes in hex",
            path.display()
        )
    })?;
    Ok(secret)
}

/// The public key of a peer secret key.
pub fn peer_public_key(secret: &[u8; 32]) -> Result<[u8; 32], CryptoError> {
    let sk = PrivateKey::from_bytes(secret)
        .map_err(|e| malformed(None, format!("peer secret key: {e}")))?;
    Ok(to_array(&Kem::sk_to_pk(&sk).to_bytes()))
}

fn to_array(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

/// This signer's peer key and the public peer keys of the other parties.
#[derive(Clone)]
pub struct PeerKeys {
    me: PartyId,
    secret: PrivateKey,
    public: PublicKey,
    peers: BTreeMap<PartyId, PublicKey>,
}

impl fmt::Debug for PeerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerKeys")
            .field("me", &self.me)
            .field("secret", &"<redacted>")
            .field("peers", &self.peers.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn malformed(culprit: Option<PartyId>, detail: String) -> CryptoError {
    error(ErrorKind::Malformed, culprit, detail)
}

fn error(kind: ErrorKind, culprit: Option<PartyId>, detail: String) -> CryptoError {
    CryptoError {
        kind,
        culprits: culprit.into_iter().collect(),
        detail,
    }
}

impl PeerKeys {
    /// `secret` is this party's peer key; `peers` the public keys of the others.
    pub fn new(
        me: PartyId,
        secret: &[u8; 32],
        peers: &BTreeMap<PartyId, [u8; 32]>,
    ) -> Result<Self, CryptoError> {
        let sk = PrivateKey::from_bytes(secret)
            .map_err(|e| malformed(None, format!("peer secret key: {e}")))?;
        let public = Kem::sk_to_pk(&sk);
        let mut map = BTreeMap::new();
        for (party, pk) in peers {
            let pk = PublicKey::from_bytes(pk)
                .map_err(|e| malformed(Some(*party), format!("peer key of {party}: {e}")))?;
            map.insert(*party, pk);
        }
        Ok(Self {
            me,
            secret: sk,
            public,
            peers: map,
        })
    }

    fn info(key_id: &KeyId, from: PartyId, to: PartyId) -> Vec<u8> {
        format!(
            "tessera/dkg-message/v1|{key_id}|{}|{}",
            from.get(),
            to.get()
        )
        .into_bytes()
    }

    fn peer(&self, party: PartyId) -> Result<&PublicKey, CryptoError> {
        self.peers.get(&party).ok_or_else(|| {
            error(
                ErrorKind::Parameters,
                None,
                format!("no peer key configured for {party}"),
            )
        })
    }

    /// Seals `payload` from this party to `to`: encapsulated key, then ciphertext.
    pub fn seal(
        &self,
        key_id: &KeyId,
        to: PartyId,
        payload: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mode = OpModeS::<Kem>::Auth((self.secret.clone(), self.public.clone()));
        let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
            &mode,
            self.peer(to)?,
            &Self::info(key_id, self.me, to),
            payload,
            b"",
            &mut OsRng,
        )
        .map_err(|e| error(ErrorKind::Library, None, format!("sealing for {to}: {e}")))?;
        let mut out = enc.to_bytes().to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a message sealed by `from` for this party; anything else names `from`.
    pub fn open(
        &self,
        key_id: &KeyId,
        from: PartyId,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let (enc, ct) = sealed
            .split_at_checked(ENC_LEN)
            .ok_or_else(|| malformed(Some(from), format!("message from {from} is too short")))?;
        let enc = EncappedKey::from_bytes(enc)
            .map_err(|e| malformed(Some(from), format!("message from {from}: {e}")))?;
        let mode = OpModeR::<Kem>::Auth(self.peer(from)?.clone());
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &mode,
            &self.secret,
            &enc,
            &Self::info(key_id, from, self.me),
            ct,
            b"",
        )
        .map_err(|_| {
            malformed(
                Some(from),
                format!("message from {from} was not sealed by it for this party"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(n: u16) -> PartyId {
        PartyId::new(n).unwrap()
    }

    fn pair() -> (PeerKeys, PeerKeys, PeerKeys) {
        let (s1, p1) = generate_peer_key();
        let (s2, p2) = generate_peer_key();
        let (s3, p3) = generate_peer_key();
        let one = PeerKeys::new(
            party(1),
            &s1,
            &BTreeMap::from([(party(2), p2), (party(3), p3)]),
        )
        .unwrap();
        let two = PeerKeys::new(
            party(2),
            &s2,
            &BTreeMap::from([(party(1), p1), (party(3), p3)]),
        )
        .unwrap();
        let three = PeerKeys::new(
            party(3),
            &s3,
            &BTreeMap::from([(party(1), p1), (party(2), p2)]),
        )
        .unwrap();
        (one, two, three)
    }

    #[test]
    fn only_the_recipient_opens_and_only_from_the_sender() {
        let (one, two, three) = pair();
        let key = KeyId::new("w-1").unwrap();
        let secret = b"round 2 secret share for party 2";
        let sealed = one.seal(&key, party(2), secret).unwrap();
        assert!(
            !sealed.windows(8).any(|w| secret.windows(8).any(|s| s == w)),
            "no plaintext in what the coordinator relays"
        );
        assert_eq!(two.open(&key, party(1), &sealed).unwrap(), secret);
        // Not for party 3; not from party 3; not for another key.
        assert!(three.open(&key, party(1), &sealed).is_err());
        let e = two.open(&key, party(3), &sealed).unwrap_err();
        assert_eq!(e.culprits, vec![party(3)]);
        assert!(
            two.open(&KeyId::new("w-2").unwrap(), party(1), &sealed)
                .is_err()
        );
        // Altered in transit.
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(two.open(&key, party(1), &flipped).is_err());
        assert!(two.open(&key, party(1), &sealed[..10]).is_err());
    }

    #[test]
    fn public_key_follows_from_the_secret() {
        let (s, p) = generate_peer_key();
        assert_eq!(peer_public_key(&s).unwrap(), p);
    }

    #[test]
    fn a_message_forged_with_a_key_not_configured_is_refused() {
        let (_, two, _) = pair();
        let (forger_secret, _) = generate_peer_key();
        // The forger (say, the coordinator) knows party 2's public key, as anyone may, and
        // claims to be party 1.
        let forger = PeerKeys::new(
            party(1),
            &forger_secret,
            &BTreeMap::from([(party(2), to_array(&two.public.to_bytes()))]),
        )
        .unwrap();
        let key = KeyId::new("w-1").unwrap();
        let forged = forger.seal(&key, party(2), b"my own share").unwrap();
        let e = two.open(&key, party(1), &forged).unwrap_err();
        assert_eq!(e.culprits, vec![party(1)]);
    }
}
