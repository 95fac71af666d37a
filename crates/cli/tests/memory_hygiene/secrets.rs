//! A `tessera dev` signer's secrets, found by the test itself from the signer's files: the
//! passphrase file, the key-encryption key derived from it, and each plaintext share with its
//! secret scalar. Nothing here asks the signer process.
//!
//! The key-encryption key (KEK) is derived independently of the vault crate: Argon2id over the
//! salt and parameters read from the verifier's header (layout in `tessera_vault`'s crate
//! documentation), then checked by opening the verifier with XChaCha20-Poly1305 directly. The
//! shares are opened both with the vault's public API and with that independent key, and must
//! agree. The secret scalar is read from the plaintext with the threshold libraries themselves
//! (frost's `KeyPackage`, dkls23's `Party`), as they serialize it.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use k256_14::elliptic_curve::PrimeField;
use tessera_store::Store;
use tessera_vault::{Kek, PassphraseKek, SecretBytes};

/// One plaintext share of a signer.
pub struct ShareSecret {
    pub key_id: String,
    pub scheme: &'static str,
    /// The whole share as the vault seals it (`KeyShare::to_secret_bytes`).
    pub plaintext: Vec<u8>,
    /// The secret scalar, in the byte order its library serializes it: big-endian for
    /// secp256k1 (frost and dkls23), little-endian for Ed25519.
    pub scalar: [u8; 32],
    /// The sealed blob as stored (public; the control for the file search).
    pub sealed: Vec<u8>,
}

/// Everything secret a dev signer's files give access to.
pub struct SignerSecrets {
    pub party: u16,
    /// The passphrase as the signer reads it (the file without a final newline).
    pub passphrase: Vec<u8>,
    /// Argon2id(passphrase, salt, params): the KEK.
    pub kek: [u8; 32],
    pub shares: Vec<ShareSecret>,
}

/// A byte string to search for, and what it is.
pub struct Needle {
    pub label: String,
    pub bytes: Vec<u8>,
    /// Whether it is the passphrase (legitimately present in the passphrase file).
    pub passphrase: bool,
}

const VERIFIER_CONTEXT: &[u8] = b"tessera/vault/verifier/v1";
const VERIFIER_PLAINTEXT: &[u8] = b"tessera vault verifier v1";
/// Magic, version, kind, three u32 costs, salt length, 16-byte salt.
const HEADER_LEN: usize = 34;
const NONCE_LEN: usize = 24;

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The vault blob's associated data: header, then the context's length and the context.
fn aad(blob: &[u8], context: &[u8]) -> Vec<u8> {
    let mut aad = blob[..HEADER_LEN].to_vec();
    aad.extend_from_slice(&u32::try_from(context.len()).unwrap().to_be_bytes());
    aad.extend_from_slice(context);
    aad
}

/// Opens a vault blob with `kek`, without the vault crate.
fn open_blob(kek: &[u8; 32], blob: &[u8], context: &[u8]) -> Vec<u8> {
    let nonce = XNonce::from_slice(&blob[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
    let aad = aad(blob, context);
    XChaCha20Poly1305::new(kek.into())
        .decrypt(
            nonce,
            Payload {
                msg: &blob[HEADER_LEN + NONCE_LEN..],
                aad: &aad,
            },
        )
        .expect("the independently derived KEK does not open the blob")
}

/// Argon2id over the verifier's salt and parameters; checked by opening the verifier.
fn derive_kek(passphrase: &[u8], verifier: &[u8]) -> [u8; 32] {
    assert_eq!(
        &verifier[..5],
        b"TVB\x01\x01",
        "not a v1 passphrase verifier"
    );
    let (m_kib, t_cost, p_cost) = (be32(verifier, 5), be32(verifier, 9), be32(verifier, 13));
    assert_eq!(verifier[17], 16, "salt length");
    let salt = &verifier[18..HEADER_LEN];
    let params = Params::new(m_kib, t_cost, p_cost, Some(32)).unwrap();
    let mut kek = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, &mut kek)
        .unwrap();
    assert_eq!(
        open_blob(&kek, verifier, VERIFIER_CONTEXT),
        VERIFIER_PLAINTEXT,
        "the derived KEK does not open the verifier"
    );
    kek
}

/// The secret scalar inside a plaintext share, as its library serializes it, and the scheme.
fn scalar_of(plaintext: &[u8]) -> ([u8; 32], &'static str) {
    // "TKS" 0x01 | scheme u8 | party u16 | t u16 | n u16 | body
    assert_eq!(&plaintext[..4], b"TKS\x01", "not a v1 key share");
    let body = &plaintext[11..];
    match plaintext[4] {
        1 => {
            let kp = frost_ed25519::keys::KeyPackage::deserialize(body).unwrap();
            let public = frost_ed25519::keys::VerifyingShare::from(*kp.signing_share());
            assert_eq!(&public, kp.verifying_share(), "not the signing share");
            let s = kp.signing_share().serialize();
            (s.try_into().unwrap(), "frost-ed25519")
        }
        2 => {
            let kp = frost_secp256k1_tr::keys::KeyPackage::deserialize(body).unwrap();
            let public = frost_secp256k1_tr::keys::VerifyingShare::from(*kp.signing_share());
            assert_eq!(&public, kp.verifying_share(), "not the signing share");
            let s = kp.signing_share().serialize();
            (s.try_into().unwrap(), "frost-secp256k1-tr")
        }
        3 => {
            let party: dkls23::protocols::Party<k256_14::Secp256k1> =
                postcard::from_bytes(body).unwrap();
            let s: [u8; 32] = party.poly_point.to_repr().into();
            assert_ne!(s, [0u8; 32], "empty ecdsa share");
            (s, "ecdsa-secp256k1")
        }
        other => panic!("unknown scheme tag {other}"),
    }
}

/// Reads signer `party`'s secrets from its directory `dir` (`DIR/signer-N` of `tessera dev`).
pub fn signer_secrets(dir: &Path, party: u16) -> SignerSecrets {
    let mut passphrase = std::fs::read(dir.join("passphrase")).unwrap();
    if passphrase.last() == Some(&b'\n') {
        passphrase.pop();
    }
    let store = Store::open_read_only(&dir.join("signer.sqlite")).unwrap();
    let verifier = store.meta("vault.verifier").unwrap().unwrap();
    let kek = derive_kek(&passphrase, &verifier);
    let vault = PassphraseKek::unlock(&SecretBytes::new(passphrase.clone()), &verifier).unwrap();
    let mut shares = Vec::new();
    for key_id in store.key_ids().unwrap() {
        let rec = store.key(&key_id).unwrap().unwrap();
        assert_eq!(rec.party.get(), party);
        let context = format!("tessera/share/v1|{key_id}|{party}|{}", rec.generation);
        let plaintext = vault
            .open(context.as_bytes(), &rec.sealed_share)
            .unwrap()
            .expose()
            .to_vec();
        assert_eq!(
            open_blob(&kek, &rec.sealed_share, context.as_bytes()),
            plaintext,
            "the vault and the independent KEK disagree"
        );
        let (scalar, scheme) = scalar_of(&plaintext);
        assert!(
            super::contains(&plaintext, &scalar),
            "{key_id}: the scalar is not in the share as serialized"
        );
        assert_eq!(scheme, rec.scheme.name(), "{key_id}");
        shares.push(ShareSecret {
            key_id: key_id.to_string(),
            scheme,
            plaintext,
            scalar,
            sealed: rec.sealed_share,
        });
    }
    SignerSecrets {
        party,
        passphrase,
        kek,
        shares,
    }
}

impl SignerSecrets {
    /// Every encoding in which these secrets could sit in memory or in a file: each scalar in
    /// both byte orders, raw and in hex; the KEK raw and in hex; the passphrase as read.
    pub fn needles(&self) -> Vec<Needle> {
        let mut out = Vec::new();
        let mut add = |label: String, bytes: Vec<u8>, passphrase: bool| {
            out.push(Needle {
                label,
                bytes,
                passphrase,
            });
        };
        for s in &self.shares {
            let mut reversed = s.scalar;
            reversed.reverse();
            for (order, bytes) in [("as serialized", s.scalar), ("reversed", reversed)] {
                let what = format!("{} share of `{}`, scalar {order}", s.scheme, s.key_id);
                add(format!("{what}, raw"), bytes.to_vec(), false);
                add(
                    format!("{what}, hex"),
                    hex::encode(bytes).into_bytes(),
                    false,
                );
                let upper = hex::encode_upper(bytes).into_bytes();
                add(format!("{what}, upper-case hex"), upper, false);
            }
        }
        add("KEK, raw".into(), self.kek.to_vec(), false);
        add("KEK, hex".into(), hex::encode(self.kek).into_bytes(), false);
        add("passphrase".into(), self.passphrase.clone(), true);
        out
    }
}
