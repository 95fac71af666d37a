//! DKG, signing and refresh through real signers (own SQLite store and vault each), for every
//! `1 <= t <= n <= 16` and both FROST schemes; signatures checked by the service's verifier
//! and by an independent crate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use tessera_coordinator::{Coordinator, generate_key, refresh_key};
use tessera_crypto::GroupKey;
use tessera_testkit::{independent_verify, links, quorum, signers};
use tessera_types::{KeyId, Scheme, Threshold};

fn sign_and_check(
    signers: &mut [tessera_signer::Signer],
    key: &KeyId,
    group: &GroupKey,
    parties: &[u16],
    message: &[u8],
) {
    let mut coordinator = Coordinator::new();
    let mut q = quorum(signers, parties);
    let sig = coordinator
        .sign(&mut q, key, group, message)
        .unwrap_or_else(|e| panic!("{} signing with {parties:?}: {e}", group.threshold()));
    group.verify(message, &sig).unwrap();
    assert!(
        independent_verify(group.scheme(), &group.public_key(), message, sig.to_bytes()),
        "{} {}: independent verifier rejects",
        group.scheme(),
        group.threshold()
    );
    let mut tampered = message.to_vec();
    tampered.push(0);
    assert!(!independent_verify(
        group.scheme(),
        &group.public_key(),
        &tampered,
        sig.to_bytes()
    ));
    assert!(group.verify(&tampered, &sig).is_err());
}

fn matrix(scheme: Scheme, sizes: std::ops::RangeInclusive<u16>) {
    for n in sizes {
        for t in 1..=n {
            let dir = tempfile::tempdir().unwrap();
            let mut s = signers(dir.path(), n).unwrap();
            let key = KeyId::new("k").unwrap();
            let threshold = Threshold::allowing_minority(t, n).unwrap();
            let group = generate_key(&mut links(&mut s), &key, scheme, threshold, None)
                .unwrap_or_else(|e| panic!("{scheme} {t}-of-{n} dkg: {e}"));
            assert_eq!(group.threshold(), threshold);
            let first: Vec<u16> = (1..=t).collect();
            let last: Vec<u16> = (n - t + 1..=n).collect();
            sign_and_check(
                &mut s,
                &key,
                &group,
                &first,
                format!("{t}-of-{n}").as_bytes(),
            );

            if t == 1 {
                let err = refresh_key(&mut links(&mut s), &key, None).unwrap_err();
                assert!(
                    err.to_string()
                        .contains("1-of-n key has no shares to refresh"),
                    "{err}"
                );
                sign_and_check(&mut s, &key, &group, &last, b"still signs");
                continue;
            }
            let refreshed = refresh_key(&mut links(&mut s), &key, None)
                .unwrap_or_else(|e| panic!("{scheme} {t}-of-{n} refresh: {e}"));
            assert_eq!(
                refreshed.public_key(),
                group.public_key(),
                "refresh keeps the address"
            );
            assert_ne!(refreshed, group, "refresh changes the public shares");
            for sig in &mut s {
                assert_eq!(sig.group_key(&key).unwrap(), refreshed);
            }
            sign_and_check(&mut s, &key, &refreshed, &last, b"after refresh");
        }
    }
}

#[test]
fn ed25519_every_threshold_up_to_8_parties() {
    matrix(Scheme::FrostEd25519, 1..=8);
}

#[test]
fn ed25519_every_threshold_9_to_16_parties() {
    matrix(Scheme::FrostEd25519, 9..=16);
}

#[test]
fn taproot_every_threshold_up_to_8_parties() {
    matrix(Scheme::FrostSecp256k1Tr, 1..=8);
}

#[test]
fn taproot_every_threshold_9_to_16_parties() {
    matrix(Scheme::FrostSecp256k1Tr, 9..=16);
}

#[test]
fn taproot_key_is_the_bip341_output_key() {
    // The group key must be Q = P + H_TapTweak(P)G for the untweaked DKG key P: a wallet that
    // derives the address from P with an empty script tree (BIP-86) must land on our key.
    // Checked through the signature: BIP-340 verifies under x(Q), which is what we publish,
    // and a spend signed under P would not verify under it.
    let dir = tempfile::tempdir().unwrap();
    let mut s = signers(dir.path(), 3).unwrap();
    let key = KeyId::new("tr").unwrap();
    let group = generate_key(
        &mut links(&mut s),
        &key,
        Scheme::FrostSecp256k1Tr,
        Threshold::new(2, 3).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(group.public_key().len(), 32, "x-only key");
    sign_and_check(&mut s, &key, &group, &[1, 3], b"taproot sighash stand-in");
}
