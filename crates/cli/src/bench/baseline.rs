//! The two baselines of a run, over the payloads the service signs, in this thread: one
//! ordinary key of the same curve, and the threshold library without the service
//! ([`super::library`]).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore as _};
use tessera_types::{Scheme, Threshold};

use super::library;
use super::stats::Summary;
use super::workload::Workload;
use crate::CliError;
use crate::verify::independent_verify;

/// Untimed operations before each baseline.
const WARM_UP: u64 = 5;

/// Most operations timed per baseline.
const MAX_SAMPLES: u64 = 500;

/// A baseline stops after this long, once it has [`MIN_SAMPLES`].
const TIME_BUDGET: Duration = Duration::from_secs(3);

/// Fewest operations timed per baseline.
const MIN_SAMPLES: u64 = 20;

/// What signs in each baseline, as reported.
pub fn describe(scheme: Scheme) -> (&'static str, &'static str) {
    match scheme {
        Scheme::FrostEd25519 => (
            "ed25519-dalek sign",
            "tessera_crypto frost-ed25519: commit, sign, aggregate (verifies)",
        ),
        Scheme::FrostSecp256k1Tr => (
            "k256 BIP-340 sign_raw with fresh auxiliary randomness",
            "tessera_crypto frost-secp256k1-tr: commit, sign, aggregate (verifies)",
        ),
        Scheme::EcdsaSecp256k1 => (
            "k256 ECDSA sign_prehash_recoverable of the EIP-191 hash",
            "tessera_crypto ecdsa-secp256k1 (dkls23): the EIP-191 hash, 3 rounds, verify, recover",
        ),
    }
}

/// Times `op` on payloads `WARM_UP..`, after `WARM_UP` untimed calls on payloads `0..WARM_UP`.
fn timed(
    work: &Workload,
    mut op: impl FnMut(u64, &[u8]) -> Result<(), CliError>,
) -> Result<Summary, CliError> {
    for i in 0..WARM_UP {
        op(i, &work.payload(i))?;
    }
    let mut latencies = Vec::new();
    let start = Instant::now();
    let mut i = 0;
    while i < MAX_SAMPLES && (i < MIN_SAMPLES || start.elapsed() < TIME_BUDGET) {
        let payload = work.payload(i);
        let t = Instant::now();
        op(i + WARM_UP, &payload)?;
        latencies.push(t.elapsed());
        i += 1;
    }
    Summary::new(latencies, start.elapsed()).ok_or_else(|| CliError::new("no baseline samples"))
}

/// A signing function of a single key, with the key's public key.
type SingleKey = (Vec<u8>, Box<dyn FnMut(&[u8]) -> Result<Vec<u8>, CliError>>);

fn single(e: impl std::fmt::Display) -> CliError {
    CliError::new(format!("single-key baseline: {e}"))
}

/// A fresh key of `scheme`'s curve and what it signs with.
fn single_key_of(scheme: Scheme) -> Result<SingleKey, CliError> {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    Ok(match scheme {
        Scheme::FrostEd25519 => {
            use ed25519_dalek::Signer as _;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let public = key.verifying_key().to_bytes().to_vec();
            (
                public,
                Box::new(move |m| Ok(key.sign(m).to_bytes().to_vec())),
            )
        }
        Scheme::FrostSecp256k1Tr => {
            let key = k256::schnorr::SigningKey::from_bytes(&seed).map_err(single)?;
            let public = key.verifying_key().to_bytes().to_vec();
            let sign = move |m: &[u8]| {
                let mut aux = [0u8; 32];
                OsRng.fill_bytes(&mut aux);
                key.sign_raw(m, &aux)
                    .map(|s| s.to_bytes().to_vec())
                    .map_err(single)
            };
            (public, Box::new(sign))
        }
        Scheme::EcdsaSecp256k1 => {
            let key = k256::ecdsa::SigningKey::from_slice(&seed).map_err(single)?;
            let public = key
                .verifying_key()
                .to_encoded_point(true)
                .as_bytes()
                .to_vec();
            let sign = move |m: &[u8]| {
                let hash = tessera_eth::personal_message_hash(m).0;
                let (sig, v) = key.sign_prehash_recoverable(&hash).map_err(single)?;
                let mut out = sig.to_bytes().to_vec();
                out.push(v.to_byte());
                Ok(out)
            };
            (public, Box::new(sign))
        }
    })
}

/// One ordinary key signing each payload (no verification in the timed part). One signature is
/// checked first with the verifier the service's answers go through.
pub fn single_key(work: &Workload) -> Result<Summary, CliError> {
    let (public_key, mut sign) = single_key_of(work.scheme())?;
    let payload = work.payload(0);
    let signature = sign(&payload)?;
    independent_verify(
        work.scheme(),
        &public_key,
        &work.signed_bytes(&payload),
        &signature,
    )
    .map_err(|e| single(format!("a wrong signature: {e}")))?;
    timed(work, |_, m| {
        black_box(sign(m)?);
        Ok(())
    })
}

/// The threshold library in this thread: a key from its DKG (untimed, its time returned), then
/// the first `t` parties sign each payload. One signature is checked first with the verifier
/// the service's answers go through.
pub fn library(work: &Workload, threshold: Threshold) -> Result<(Summary, Duration), CliError> {
    let scheme = work.scheme();
    let started = Instant::now();
    let keys = library::generate_key(scheme, threshold)?;
    let dkg = started.elapsed();
    let quorum: Vec<_> = keys.iter().take(usize::from(threshold.t())).collect();
    let group = quorum
        .first()
        .map(|k| k.group.public_key())
        .ok_or_else(|| CliError::new("in-process key generation: no key"))?;
    let sign = |n: u64, m: &[u8]| -> Result<Vec<u8>, CliError> {
        match scheme {
            Scheme::EcdsaSecp256k1 => {
                let shares: Vec<_> = quorum.iter().map(|k| &k.share).collect();
                let hash = tessera_eth::personal_message_hash(m).0;
                Ok(library::ecdsa_sign(&shares, hash, n)?.to_bytes().to_vec())
            }
            Scheme::FrostEd25519 | Scheme::FrostSecp256k1Tr => {
                Ok(library::frost_sign(&quorum, m)?.to_bytes().to_vec())
            }
        }
    };
    let payload = work.payload(0);
    let signature = sign(u64::MAX, &payload)?;
    independent_verify(scheme, &group, &work.signed_bytes(&payload), &signature)
        .map_err(|e| CliError::new(format!("library baseline signed wrongly: {e}")))?;
    let summary = timed(work, |n, m| {
        black_box(sign(n, m)?);
        Ok(())
    })?;
    Ok((summary, dkg))
}
