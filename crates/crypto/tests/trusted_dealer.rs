//! The off-by-default trusted-dealer import: a whole key split into shares signs under the
//! key's own public key (Ed25519) or its BIP-341 output key (Taproot), like a DKG key.

#![cfg(feature = "spof-trusted-dealer")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::collections::BTreeSet;

use rand::RngCore;
use rand::rngs::OsRng;
use tessera_crypto::trusted_dealer::split_whole_key;
use tessera_crypto::{ErrorKind, SecretBytes, SigningPackage, aggregate, commit, sign};
use tessera_types::{PartyId, Scheme, Threshold};

fn parties(n: u16) -> BTreeSet<PartyId> {
    (1..=n).map(|p| PartyId::new(p).unwrap()).collect()
}

fn random_scalar() -> [u8; 32] {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b[0] &= 0x0f; // below the secp256k1 order (big-endian)
    b[31] &= 0x0f; // below the Ed25519 order (little-endian)
    b
}

#[test]
fn split_keys_sign_under_the_imported_key() {
    for scheme in Scheme::FROST {
        // Ed25519: the scalar 1, whose public key is the base point; secp256k1: a random one.
        let secret = match scheme {
            Scheme::FrostEd25519 => {
                let mut one = [0u8; 32];
                one[0] = 1;
                one
            }
            Scheme::FrostSecp256k1Tr => random_scalar(),
            Scheme::EcdsaSecp256k1 => unreachable!("FROST schemes only"),
        };
        let outs = split_whole_key(
            scheme,
            &SecretBytes::new(secret.to_vec()),
            Threshold::new(2, 3).unwrap(),
            &parties(3),
            &mut OsRng,
        )
        .unwrap();
        let group = &outs[0].group;
        let expected_untweaked = match scheme {
            Scheme::FrostEd25519 => ED25519_BASE_POINT.to_vec(),
            Scheme::FrostSecp256k1Tr => {
                let sk = k256::schnorr::SigningKey::from_bytes(&secret).unwrap();
                sk.verifying_key().to_bytes().to_vec()
            }
            Scheme::EcdsaSecp256k1 => unreachable!("FROST schemes only"),
        };
        match scheme {
            Scheme::FrostEd25519 => assert_eq!(group.public_key(), expected_untweaked),
            Scheme::FrostSecp256k1Tr => {
                assert_ne!(
                    group.public_key(),
                    expected_untweaked,
                    "the BIP-341 tweak is applied"
                )
            }
            Scheme::EcdsaSecp256k1 => unreachable!("FROST schemes only"),
        }
        let n1 = commit(&outs[0].share, &mut OsRng);
        let n3 = commit(&outs[2].share, &mut OsRng);
        let pkg = SigningPackage::new(
            b"imported",
            vec![n1.commitment().clone(), n3.commitment().clone()],
        )
        .unwrap();
        let s1 = sign(&outs[0].share, n1, &pkg).unwrap();
        let s3 = sign(&outs[2].share, n3, &pkg).unwrap();
        let sig = aggregate(group, &pkg, &[s1, s3]).unwrap();
        group.verify(b"imported", &sig).unwrap();
    }
}

/// The encoding of the Ed25519 base point (RFC 8032 section 5.1).
const ED25519_BASE_POINT: [u8; 32] = [
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
];

#[test]
fn threshold_one_is_refused() {
    let err = split_whole_key(
        Scheme::FrostEd25519,
        &SecretBytes::new(random_scalar().to_vec()),
        Threshold::new(1, 1).unwrap(),
        &parties(1),
        &mut OsRng,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
}

#[test]
fn ecdsa_keys_are_not_split() {
    let err = split_whole_key(
        Scheme::EcdsaSecp256k1,
        &SecretBytes::new(random_scalar().to_vec()),
        Threshold::new(2, 3).unwrap(),
        &parties(3),
        &mut OsRng,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
}
