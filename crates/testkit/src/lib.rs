//! Test support, not shipped: clusters of real signers (each with its own SQLite store) in one
//! process, signature checks by verifiers independent of the signing library, and helpers that
//! read what a signer left on disk.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failure should stop the test that called it"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tessera_coordinator::{SignerLink, generate_key};
use tessera_crypto::{GroupKey, SecretBytes};
use tessera_signer::Signer;
use tessera_store::Store;
use tessera_types::{KeyId, PartyId, Scheme, Threshold};
use tessera_vault::{KdfParams, Kek, PassphraseKek};

/// Passphrase of every test signer.
pub const TEST_PASSPHRASE: &str = "tessera test passphrase";

/// The test passphrase as the vault takes it.
pub fn passphrase() -> SecretBytes {
    SecretBytes::new(TEST_PASSPHRASE.as_bytes().to_vec())
}

/// Path of party `p`'s store under `dir`.
pub fn store_path(dir: &Path, p: u16) -> std::path::PathBuf {
    dir.join(format!("signer-{p}.sqlite"))
}

/// Creates signers 1..=n under `dir`, with cheap vault parameters.
pub fn signers(dir: &Path, n: u16) -> Result<Vec<Signer>, Box<dyn std::error::Error>> {
    (1..=n)
        .map(|p| {
            Ok(Signer::create(
                &store_path(dir, p),
                PartyId::new(p)?,
                &passphrase(),
                KdfParams::INSECURE_FAST_FOR_TESTS,
            )?)
        })
        .collect()
}

/// Links to every signer in `signers`.
pub fn links(signers: &mut [Signer]) -> Vec<&mut dyn SignerLink> {
    signers
        .iter_mut()
        .map(|s| s as &mut dyn SignerLink)
        .collect()
}

/// Links to the signers of `signers` whose party is in `quorum`.
pub fn quorum<'a>(signers: &'a mut [Signer], quorum: &[u16]) -> Vec<&'a mut dyn SignerLink> {
    signers
        .iter_mut()
        .filter(|s| quorum.contains(&s.party().get()))
        .map(|s| s as &mut dyn SignerLink)
        .collect()
}

/// Whether a library other than the one that signed accepts the signature (`ed25519-dalek`
/// strict for Ed25519, `k256`'s BIP-340 for Taproot, `k256` 0.13's ECDSA with key recovery
/// for threshold ECDSA): the demo's own check.
pub fn independent_verify(
    scheme: Scheme,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    tessera_cli::independent_verify(scheme, public_key, message, signature).is_ok()
}

/// Party `p`.
pub fn party(p: u16) -> PartyId {
    PartyId::new(p).unwrap()
}

/// The threshold most tests use.
pub fn two_of_three() -> Threshold {
    Threshold::new(2, 3).unwrap()
}

/// Three signers under `dir` holding a 2-of-3 key `key`.
pub fn cluster(dir: &Path, scheme: Scheme, key: &KeyId) -> (Vec<Signer>, GroupKey) {
    let mut s = signers(dir, 3).unwrap();
    let group = generate_key(&mut links(&mut s), key, scheme, two_of_three(), None)
        .unwrap_or_else(|e| panic!("{scheme} dkg: {e}"));
    (s, group)
}

/// The files SQLite keeps for the store at `db`: the database, its WAL and shared memory.
pub fn store_files(db: &Path) -> Vec<PathBuf> {
    let name = db.file_name().unwrap().to_str().unwrap();
    [String::new(), "-wal".into(), "-shm".into()]
        .iter()
        .map(|suffix| db.with_file_name(format!("{name}{suffix}")))
        .collect()
}

/// The contents of those of `files` that exist, by path.
pub fn read_existing(files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<u8>> {
    files
        .iter()
        .filter(|f| f.exists())
        .map(|f| (f.clone(), std::fs::read(f).unwrap()))
        .collect()
}

/// Every file in `dir`, by name, with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Whether `needle` (non-empty) occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every offset of `needle` in `haystack`.
pub fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The opened (plaintext) share of `signer` for `key`, exactly as the vault holds it.
pub fn plaintext_share(store: &Store, key: &KeyId) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let rec = store.key(key).unwrap().unwrap();
    let verifier = store.meta("vault.verifier").unwrap().unwrap();
    let kek = PassphraseKek::unlock(&passphrase(), &verifier).unwrap();
    let context = format!(
        "tessera/share/v1|{key}|{}|{}",
        rec.party.get(),
        rec.generation
    );
    let plain = kek.open(context.as_bytes(), &rec.sealed_share).unwrap();
    (plain.expose().to_vec(), rec.sealed_share, rec.group_key)
}
