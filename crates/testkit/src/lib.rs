//! Test support, not shipped: clusters of real signers (each with its own SQLite store) in one
//! process, and signature checks by verifiers independent of the signing library.

use std::path::Path;

use tessera_coordinator::SignerLink;
use tessera_crypto::SecretBytes;
use tessera_signer::Signer;
use tessera_types::{PartyId, Scheme};
use tessera_vault::KdfParams;

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
/// strict for Ed25519, `k256`'s BIP-340 for Taproot): the demo's own check.
pub fn independent_verify(
    scheme: Scheme,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    tessera_cli::independent_verify(scheme, public_key, message, signature).is_ok()
}
