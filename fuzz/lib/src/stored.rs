//! Stored blobs, read back from disk or from a peer: the vault's sealed blobs, key shares and
//! group keys and the other byte formats of `tessera_crypto`, and audit-log exports and receipts.

use std::sync::OnceLock;

use tessera_audit::{AuditPublicKey, Entry, Receipt, verify_jsonl};
use tessera_crypto::{
    Commitment, EcdsaSignature, GroupKey, KeyShare, SignatureShare, SigningPackage,
};
use tessera_vault::{KdfParams, Kek, PassphraseKek, SecretBytes, VaultError};

use crate::seeds;

/// The passphrase and context of the vault's golden files (`crates/vault/golden/`).
pub const VAULT_PASSPHRASE: &[u8] = b"golden passphrase";
/// See [`VAULT_PASSPHRASE`].
pub const VAULT_CONTEXT: &[u8] = b"tessera/golden/v1";

/// The golden vault key, unlocked once: Argon2id runs only where the target asks for it.
fn golden_kek() -> &'static PassphraseKek {
    static KEK: OnceLock<PassphraseKek> = OnceLock::new();
    KEK.get_or_init(|| {
        let passphrase = SecretBytes::new(VAULT_PASSPHRASE.to_vec());
        PassphraseKek::unlock(&passphrase, seeds::VAULT_VERIFIER).expect("golden verifier opens")
    })
}

/// The Argon2id parameters a blob's header claims (offsets 5 to 16), if it is that long.
fn header_params(blob: &[u8]) -> Option<KdfParams> {
    let word = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = blob.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    };
    Some(KdfParams {
        m_kib: word(5)?,
        t_cost: word(9)?,
        p_cost: word(13)?,
    })
}

/// A sealed blob: [`Kek::open`] under the golden key, and [`PassphraseKek::unlock`] when the
/// blob's parameters are cheap to derive with or out of range (which must be refused before any
/// derivation). Round trip: what opens, sealed again, opens to the same plaintext.
pub fn vault_blob(data: &[u8]) {
    let kek = golden_kek();
    if let Ok(plaintext) = kek.open(VAULT_CONTEXT, data) {
        let blob = kek.seal(VAULT_CONTEXT, plaintext.expose()).expect("seals");
        assert_eq!(blob.get(..34), data.get(..34), "same header");
        let back = kek.open(VAULT_CONTEXT, &blob).expect("opens again");
        assert_eq!(back.expose(), plaintext.expose(), "round trip");
    }
    let params = header_params(data);
    let weak = params.is_some_and(|p| p.check().is_err());
    if weak || params == Some(KdfParams::INSECURE_FAST_FOR_TESTS) {
        let passphrase = SecretBytes::new(VAULT_PASSPHRASE.to_vec());
        match PassphraseKek::unlock(&passphrase, data) {
            Ok(unlocked) => assert_eq!(unlocked.params(), KdfParams::INSECURE_FAST_FOR_TESTS),
            Err(e) if weak => assert!(
                matches!(
                    e,
                    VaultError::WeakParams | VaultError::Corrupt | VaultError::UnsupportedKind
                ),
                "out-of-range parameters gave {e:?}"
            ),
            Err(_) => {}
        }
    }
}

/// Every byte format of `tessera_crypto`: group keys, key shares, nonce commitments, signing
/// packages, signature shares and ECDSA signatures. Each parser checks its own magic, so the
/// target hands the input to all of them. Round trip: decode, encode, decode, encode gives the
/// same bytes twice.
pub fn crypto_keys(data: &[u8]) {
    if let Ok(group) = GroupKey::from_bytes(data) {
        let bytes = group.to_bytes().expect("encodes");
        let again = GroupKey::from_bytes(&bytes).expect("decodes its own encoding");
        assert_eq!(again.to_bytes().expect("encodes"), bytes, "round trip");
        assert!(again == group);
        let _ = group.public_key();
        for p in group.parties() {
            let _ = group.verifying_share(*p);
        }
    }
    if let Ok(share) = KeyShare::from_secret_bytes(data) {
        let bytes = share.to_secret_bytes().expect("encodes");
        let again = KeyShare::from_secret_bytes(bytes.expose()).expect("decodes");
        let twice = again.to_secret_bytes().expect("encodes");
        assert_eq!(twice.expose(), bytes.expose(), "round trip");
        let _ = (share.public_key(), share.party(), share.threshold());
        for group in seeds::crypto_groups() {
            if let Ok(group) = GroupKey::from_bytes(&group) {
                let _ = share.belongs_to(&group);
            }
        }
    }
    if let Ok(c) = Commitment::from_bytes(data) {
        let bytes = c.to_bytes().expect("encodes");
        let again = Commitment::from_bytes(&bytes).expect("decodes");
        assert_eq!(again.to_bytes().expect("encodes"), bytes, "round trip");
        let _ = c.id();
    }
    if let Ok(p) = SigningPackage::from_bytes(data) {
        let bytes = p.to_bytes().expect("encodes");
        let again = SigningPackage::from_bytes(&bytes).expect("decodes");
        assert_eq!(again.to_bytes().expect("encodes"), bytes, "round trip");
        let _ = (p.signers(), p.message().len());
    }
    if let Ok(s) = SignatureShare::from_bytes(data) {
        let bytes = s.to_bytes();
        let again = SignatureShare::from_bytes(&bytes).expect("decodes");
        assert_eq!(again.to_bytes(), bytes, "round trip");
        assert!(again == s);
    }
    if let Ok(sig) = EcdsaSignature::from_bytes(data) {
        assert_eq!(sig.to_bytes().as_slice(), data, "round trip");
    }
}

/// The golden audit chain's public key (`crates/audit/golden/audit.pub`).
fn audit_key() -> AuditPublicKey {
    let hex = String::from_utf8_lossy(seeds::AUDIT_PUB);
    let bytes: [u8; 32] = hex::decode(hex.trim())
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    AuditPublicKey::from_bytes(&bytes).expect("a valid key")
}

/// An audit-log export: [`verify_jsonl`] over the whole input, and each line as an [`Entry`]
/// and the whole input as a [`Receipt`]. Round trip: an entry or receipt that reads, written
/// again, reads to the same value.
pub fn audit_jsonl(data: &[u8]) {
    let key = audit_key();
    let _ = verify_jsonl(data, &key, &[]);
    for line in String::from_utf8_lossy(data).lines() {
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            continue;
        };
        let text = serde_json::to_string(&entry).expect("writes");
        let back: Entry = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, entry, "round trip");
        let _ = (entry.compute_hash(), entry.signature_valid(&key));
        let _ = entry.body.to_value();
    }
    if let Ok(receipt) = serde_json::from_slice::<Receipt>(data) {
        let text = serde_json::to_string(&receipt).expect("writes");
        let back: Receipt = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, receipt, "round trip");
        let _ = (receipt.verify(&key), receipt.anchor());
    }
}
