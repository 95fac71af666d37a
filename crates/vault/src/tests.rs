//! Behaviour of sealed blobs under a passphrase key, through the public interface.

use std::sync::{Arc, OnceLock};

use crate::blob::{HEADER_LEN, NONCE_LEN, TAG_LEN};
use crate::{KdfParams, Kek, KekKind, PassphraseKek, SecretBytes, VaultError};

const CONTEXT: &[u8] = b"tessera/share/v1|key-7|2";
const PLAINTEXT: &[u8] = b"a party's key share, bytes that must stay secret";
const FAST: KdfParams = KdfParams::INSECURE_FAST_FOR_TESTS;

fn pass(s: &str) -> SecretBytes {
    SecretBytes::new(s.as_bytes().to_vec())
}

/// One vault shared by the tests that need nothing special, with its verifier.
fn vault() -> &'static (PassphraseKek, Vec<u8>) {
    static VAULT: OnceLock<(PassphraseKek, Vec<u8>)> = OnceLock::new();
    VAULT.get_or_init(|| PassphraseKek::create(&pass("test passphrase"), FAST).unwrap())
}

fn sealed() -> Vec<u8> {
    vault().0.seal(CONTEXT, PLAINTEXT).unwrap()
}

#[test]
fn round_trip() {
    let (kek, _) = vault();
    let blob = sealed();
    assert_eq!(
        blob.len(),
        HEADER_LEN + NONCE_LEN + PLAINTEXT.len() + TAG_LEN
    );
    assert_eq!(kek.open(CONTEXT, &blob).unwrap().expose(), PLAINTEXT);
    assert_eq!(kek.kind(), KekKind::Passphrase);
    let empty = kek.seal(b"", b"").unwrap();
    assert!(kek.open(b"", &empty).unwrap().is_empty());
}

#[test]
fn round_trip_through_unlock_and_dyn_kek() {
    let (_, verifier) = vault();
    let blob = sealed();
    let kek: Arc<dyn Kek> =
        Arc::new(PassphraseKek::unlock(&pass("test passphrase"), verifier).unwrap());
    assert_eq!(kek.open(CONTEXT, &blob).unwrap().expose(), PLAINTEXT);
    let again = kek.seal(CONTEXT, PLAINTEXT).unwrap();
    assert_eq!(vault().0.open(CONTEXT, &again).unwrap().expose(), PLAINTEXT);
}

#[test]
fn each_seal_uses_a_fresh_nonce() {
    let (a, b) = (sealed(), sealed());
    assert_eq!(a.get(..HEADER_LEN), b.get(..HEADER_LEN));
    assert_ne!(
        a.get(HEADER_LEN..HEADER_LEN + NONCE_LEN),
        b.get(HEADER_LEN..HEADER_LEN + NONCE_LEN)
    );
    assert_ne!(a, b);
}

#[test]
fn wrong_passphrase_is_refused() {
    let (_, verifier) = vault();
    for wrong in ["test passphrasE", "", "test passphrase "] {
        let err = PassphraseKek::unlock(&pass(wrong), verifier).unwrap_err();
        assert_eq!(err, VaultError::WrongPassphrase, "{wrong:?}");
        assert_eq!(err.code(), "wrong_passphrase");
    }
}

#[test]
fn wrong_context_is_corrupt() {
    let (kek, _) = vault();
    let blob = sealed();
    for other in [
        &b"tessera/share/v1|key-7|3"[..],
        b"",
        b"tessera/share/v1|key-7|2\0",
    ] {
        assert_eq!(kek.open(other, &blob).unwrap_err(), VaultError::Corrupt);
    }
    // The verifier is a blob too, bound to its own context.
    assert_eq!(
        kek.open(CONTEXT, &vault().1).unwrap_err(),
        VaultError::Corrupt
    );
}

#[test]
fn flipping_any_byte_is_detected() {
    let (kek, _) = vault();
    let blob = sealed();
    for i in 0..blob.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut bad = blob.clone();
            bad[i] ^= mask;
            let result = kek.open(CONTEXT, &bad);
            assert!(result.is_err(), "byte {i} mask {mask:#x} opened");
        }
    }
}

#[test]
fn flipping_any_verifier_byte_is_detected() {
    let (_, verifier) = vault();
    let passphrase = pass("test passphrase");
    for i in 0..verifier.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut bad = verifier.clone();
            bad[i] ^= mask;
            let result = PassphraseKek::unlock(&passphrase, &bad);
            assert!(result.is_err(), "byte {i} mask {mask:#x} unlocked");
        }
    }
}

#[test]
fn truncation_at_any_length_is_detected() {
    let (kek, verifier) = vault();
    let blob = sealed();
    for len in 0..blob.len() {
        let cut = &blob[..len];
        assert_eq!(
            kek.open(CONTEXT, cut).unwrap_err(),
            VaultError::Corrupt,
            "length {len}"
        );
    }
    let passphrase = pass("test passphrase");
    for len in 0..verifier.len() {
        assert!(
            PassphraseKek::unlock(&passphrase, &verifier[..len]).is_err(),
            "length {len}"
        );
    }
    // Bytes appended after the tag are caught too.
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(kek.open(CONTEXT, &longer).unwrap_err(), VaultError::Corrupt);
}

#[test]
fn blob_from_another_vault_key_is_foreign() {
    let (kek, _) = vault();
    // Same passphrase, new random salt: a different vault key.
    let (other, _) = PassphraseKek::create(&pass("test passphrase"), FAST).unwrap();
    let blob = other.seal(CONTEXT, PLAINTEXT).unwrap();
    let err = kek.open(CONTEXT, &blob).unwrap_err();
    assert_eq!(err, VaultError::ForeignKey);
    assert_eq!(err.code(), "foreign_key");
    // Different parameters are a different key as well.
    let mut bumped = sealed();
    bumped[8] ^= 0x01; // lowest byte of m_kib
    assert_eq!(
        kek.open(CONTEXT, &bumped).unwrap_err(),
        VaultError::ForeignKey
    );
}

#[test]
fn ciphertext_does_not_contain_plaintext() {
    let blob = sealed();
    assert!(!blob.windows(PLAINTEXT.len()).any(|w| w == PLAINTEXT));
    // Nor any 8-byte piece of it.
    for piece in PLAINTEXT.chunks(8).filter(|p| p.len() == 8) {
        assert!(!blob.windows(8).any(|w| w == piece), "{piece:?}");
    }
}

#[test]
fn header_stores_the_keys_params() {
    let (kek, _) = vault();
    let blob = sealed();
    assert_eq!(&blob[..3], b"TVB");
    assert_eq!(blob[3], 1);
    assert_eq!(blob[4], KekKind::Passphrase.tag());
    let be = |at: usize| u32::from_be_bytes(blob[at..at + 4].try_into().unwrap());
    let stored = KdfParams {
        m_kib: be(5),
        t_cost: be(9),
        p_cost: be(13),
    };
    assert_eq!(stored, kek.params());
    assert_eq!(stored, FAST);
    assert_eq!(blob[17], 16);

    let custom = KdfParams {
        m_kib: 128,
        t_cost: 2,
        p_cost: 2,
    };
    let (kek, verifier) = PassphraseKek::create(&pass("p"), custom).unwrap();
    let blob = kek.seal(CONTEXT, PLAINTEXT).unwrap();
    for b in [&blob, &verifier] {
        assert_eq!(b[5..17], [0, 0, 0, 128, 0, 0, 0, 2, 0, 0, 0, 2]);
    }
    assert_eq!(
        PassphraseKek::unlock(&pass("p"), &verifier)
            .unwrap()
            .params(),
        custom
    );
}

#[test]
fn weak_or_huge_params_are_refused() {
    let weak = KdfParams { m_kib: 32, ..FAST };
    assert_eq!(
        PassphraseKek::create(&pass("p"), weak).unwrap_err(),
        VaultError::WeakParams
    );
    // A verifier header claiming an absurd memory cost is refused before any derivation.
    let mut huge = vault().1.clone();
    huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
    let err = PassphraseKek::unlock(&pass("test passphrase"), &huge).unwrap_err();
    assert_eq!(err, VaultError::WeakParams);
    let mut slow = vault().1.clone();
    slow[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
    let err = PassphraseKek::unlock(&pass("test passphrase"), &slow).unwrap_err();
    assert_eq!(err, VaultError::WeakParams);
}

#[test]
fn header_faults_map_to_their_errors() {
    let (kek, verifier) = vault();
    let blob = sealed();
    let with = |at: usize, value: u8| {
        let mut b = blob.clone();
        b[at] = value;
        b
    };
    assert_eq!(
        kek.open(CONTEXT, &with(0, b'X')).unwrap_err(),
        VaultError::Corrupt
    );
    assert_eq!(
        kek.open(CONTEXT, &with(3, 2)).unwrap_err(),
        VaultError::Corrupt
    );
    assert_eq!(
        kek.open(CONTEXT, &with(17, 15)).unwrap_err(),
        VaultError::Corrupt
    );
    for kind in [0, 2, 255] {
        let err = kek.open(CONTEXT, &with(4, kind)).unwrap_err();
        assert_eq!(err, VaultError::UnsupportedKind, "kind {kind}");
    }
    let mut reserved = verifier.clone();
    reserved[4] = 2;
    let err = PassphraseKek::unlock(&pass("test passphrase"), &reserved).unwrap_err();
    assert_eq!(err, VaultError::UnsupportedKind);
}
