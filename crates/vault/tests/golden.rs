//! Golden files: blobs written once by an earlier build must keep opening.
//!
//! `golden/verifier-v1.bin` and `golden/share-v1.bin` were written by this test with
//! `TESSERA_BLESS=1`. Without it the test only reads them. Re-blessing hides a format break:
//! do it only for a new format version, in new files, and keep the old ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::path::PathBuf;

use tessera_vault::{KdfParams, Kek, PassphraseKek, SecretBytes, VaultError};

const PASSPHRASE: &[u8] = b"golden passphrase";
const CONTEXT: &[u8] = b"tessera/golden/v1";
const PLAINTEXT: &[u8] = b"golden share plaintext v1";

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name)
}

#[test]
fn golden_v1_blobs_still_open() {
    let passphrase = SecretBytes::new(PASSPHRASE.to_vec());
    let (verifier_path, share_path) = (golden("verifier-v1.bin"), golden("share-v1.bin"));

    if std::env::var_os("TESSERA_BLESS").is_some_and(|v| v == "1") {
        let params = KdfParams::INSECURE_FAST_FOR_TESTS;
        let (kek, verifier) = PassphraseKek::create(&passphrase, params).unwrap();
        let share = kek.seal(CONTEXT, PLAINTEXT).unwrap();
        std::fs::create_dir_all(verifier_path.parent().unwrap()).unwrap();
        std::fs::write(&verifier_path, verifier).unwrap();
        std::fs::write(&share_path, share).unwrap();
    }

    let verifier = std::fs::read(&verifier_path).unwrap();
    let share = std::fs::read(&share_path).unwrap();

    // The header is exactly what v1 promises.
    for blob in [&verifier, &share] {
        assert_eq!(&blob[..5], b"TVB\x01\x01");
        assert_eq!(&blob[5..18], b"\0\0\0\x40\0\0\0\x01\0\0\0\x01\x10");
    }
    assert_eq!(share.len(), 58 + PLAINTEXT.len() + 16);

    let kek = PassphraseKek::unlock(&passphrase, &verifier).unwrap();
    assert_eq!(kek.params(), KdfParams::INSECURE_FAST_FOR_TESTS);
    assert_eq!(kek.open(CONTEXT, &share).unwrap().expose(), PLAINTEXT);

    assert_eq!(
        kek.open(b"tessera/golden/v2", &share).unwrap_err(),
        VaultError::Corrupt
    );
    let wrong = SecretBytes::new(b"golden passphrase!".to_vec());
    let err = PassphraseKek::unlock(&wrong, &verifier).unwrap_err();
    assert_eq!(err, VaultError::WrongPassphrase);
}
