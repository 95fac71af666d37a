//! BIP-340 verification vectors through the service's verification path (`crate::verify`),
//! with `k256` as the independent verifier.

use std::panic::catch_unwind;

use tessera_types::Scheme;

use super::kat::k256_accepts;

const BIP340_CSV: &str = include_str!("../../../../test-vectors/bip340.csv");

/// One row of `bip340.csv`.
struct Bip340Row<'a> {
    index: usize,
    secret_key: Vec<u8>,
    public_key: Vec<u8>,
    aux_rand: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
    valid: bool,
    comment: &'a str,
}

fn bip340_rows() -> Vec<Bip340Row<'static>> {
    let mut lines = BIP340_CSV.lines();
    assert_eq!(
        lines.next(),
        Some("index,secret key,public key,aux_rand,message,signature,verification result,comment")
    );
    let rows: Vec<Bip340Row<'static>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.splitn(8, ',').collect();
            assert_eq!(f.len(), 8, "malformed row: {line}");
            Bip340Row {
                index: f[0].parse().unwrap(),
                secret_key: hex::decode(f[1]).unwrap(),
                public_key: hex::decode(f[2]).unwrap(),
                aux_rand: hex::decode(f[3]).unwrap(),
                message: hex::decode(f[4]).unwrap(),
                signature: hex::decode(f[5]).unwrap(),
                valid: match f[6] {
                    "TRUE" => true,
                    "FALSE" => false,
                    other => panic!("row {}: verification result {other:?}", f[0]),
                },
                comment: f[7],
            }
        })
        .collect();
    let indices: Vec<usize> = rows.iter().map(|r| r.index).collect();
    assert_eq!(
        indices,
        (0..=14).collect::<Vec<_>>(),
        "rows 0 to 14, in order"
    );
    rows
}

/// Every row of the BIP-340 file, through the service's verifier and through `k256`: valid
/// exactly when the file says so.
#[test]
fn bip340_vectors_verify_exactly_as_listed() {
    for row in bip340_rows() {
        let i = row.index;
        let ours = verify_no_panic(&row);
        assert_eq!(
            ours.is_ok(),
            row.valid,
            "row {i} ({}): verify returned {ours:?}",
            row.comment
        );
        assert_eq!(
            k256_accepts(&row.public_key, &row.message, &row.signature),
            row.valid,
            "row {i} ({}): k256 disagrees with the vector",
            row.comment
        );
    }
}

/// `crate::verify` on a row, failing the test (with the row) if it panics.
fn verify_no_panic(row: &Bip340Row<'_>) -> Result<(), crate::CryptoError> {
    catch_unwind(|| {
        crate::verify(
            Scheme::FrostSecp256k1Tr,
            &row.public_key,
            &row.message,
            &row.signature,
        )
    })
    .unwrap_or_else(|_| panic!("row {} ({}): verify panicked", row.index, row.comment))
}

/// On every row, the service's verifier and `k256` give the same answer, and every row the
/// file marks invalid is rejected by both.
#[test]
fn bip340_rows_verify_the_same_with_this_crate_and_k256() {
    for row in bip340_rows() {
        let i = row.index;
        let ours = verify_no_panic(&row);
        let theirs = k256_accepts(&row.public_key, &row.message, &row.signature);
        assert_eq!(
            ours.is_ok(),
            theirs,
            "row {i} ({}): verify returned {ours:?}, k256 accepts: {theirs}",
            row.comment
        );
        if !row.valid {
            assert!(ours.is_err(), "row {i} ({}): accepted", row.comment);
        }
    }
}

/// For the rows with a secret key: `k256` derives the listed public key, and the final-BIP-340
/// signature `k256` makes with the row's key, aux_rand and message is accepted by the
/// service's verifier (and rejected for a message with one bit flipped).
#[test]
fn bip340_secret_keys_derive_the_listed_public_keys_and_sign_verifiably() {
    let mut with_secret = 0;
    for row in bip340_rows() {
        let i = row.index;
        if row.secret_key.is_empty() {
            assert!(row.aux_rand.is_empty(), "row {i}: aux_rand without a key");
            continue;
        }
        with_secret += 1;
        let sk = k256::schnorr::SigningKey::from_bytes(&row.secret_key).unwrap();
        assert_eq!(
            hex::encode(sk.verifying_key().to_bytes()),
            hex::encode(&row.public_key),
            "row {i}: public key"
        );
        let aux: [u8; 32] = row.aux_rand.as_slice().try_into().unwrap();
        let sig = sk.sign_raw(&row.message, &aux).unwrap().to_bytes();
        assert_eq!(
            hex::encode(sig),
            hex::encode(&row.signature),
            "row {i}: k256 reproduces the listed signature"
        );
        crate::verify(
            Scheme::FrostSecp256k1Tr,
            &row.public_key,
            &row.message,
            &sig,
        )
        .unwrap_or_else(|e| panic!("row {i}: verify rejects k256's signature: {e:?}"));
        let mut tampered = row.message.clone();
        tampered[0] ^= 0x01;
        assert!(
            crate::verify(Scheme::FrostSecp256k1Tr, &row.public_key, &tampered, &sig).is_err(),
            "row {i}: verify accepts the signature on a different message"
        );
    }
    assert_eq!(with_secret, 4, "rows 0 to 3 carry a secret key");
}

/// `k·G` for the smallest `k` whose point has the requested y parity.
fn nonce_with_y_parity(odd: bool) -> (k256::Scalar, k256::AffinePoint) {
    use k256::elliptic_curve::point::AffineCoordinates;
    (1u64..)
        .map(|k| {
            let k = k256::Scalar::from(k);
            (k, (k256::ProjectivePoint::GENERATOR * k).to_affine())
        })
        .find(|(_, r)| bool::from(r.y_is_odd()) == odd)
        .unwrap()
}

/// A Schnorr signature `(x(R), k + e·d)` on `message` with the nonce point `R = k·G` of the
/// given y parity, computed by hand so that `R` can have an odd y, which BIP-340 forbids.
fn schnorr_with_nonce_parity(secret_key: &[u8], message: &[u8], odd: bool) -> (Vec<u8>, Vec<u8>) {
    use k256::elliptic_curve::ops::Reduce;
    use k256::elliptic_curve::point::AffineCoordinates;
    use sha2::{Digest, Sha256};

    let sk = k256::schnorr::SigningKey::from_bytes(secret_key).unwrap();
    let x_only = sk.verifying_key().to_bytes().to_vec();
    // The secret for the even-y public key, as BIP-340 uses it.
    let d = {
        let d = *sk.as_nonzero_scalar().as_ref();
        let p = (k256::ProjectivePoint::GENERATOR * d).to_affine();
        if bool::from(p.y_is_odd()) { -d } else { d }
    };
    let (k, r) = nonce_with_y_parity(odd);
    let tag = Sha256::digest(b"BIP0340/challenge");
    let challenge = Sha256::new()
        .chain_update(tag)
        .chain_update(tag)
        .chain_update(r.x())
        .chain_update(&x_only)
        .chain_update(message)
        .finalize();
    let e = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&challenge);
    let s = k + e * d;
    let mut sig = r.x().to_vec();
    sig.extend_from_slice(&s.to_bytes());
    (x_only, sig)
}

/// The property the final BIP-340 vector 6 ("has_even_y(R) is false") checks, which the
/// draft file's row 6 does not: a signature satisfying `s·G = R + e·P` whose `R` has an odd y
/// is rejected. The same construction with an even-y `R` is accepted, so the rejection is
/// the parity check and nothing else.
#[test]
fn bip340_signature_with_odd_y_nonce_point_is_rejected() {
    let rows = bip340_rows();
    let row = &rows[1];
    for odd in [false, true] {
        let (pk, sig) = schnorr_with_nonce_parity(&row.secret_key, &row.message, odd);
        assert_eq!(pk, row.public_key);
        let ours = crate::verify(Scheme::FrostSecp256k1Tr, &pk, &row.message, &sig);
        let theirs = k256_accepts(&pk, &row.message, &sig);
        assert_eq!(
            ours.is_ok(),
            !odd,
            "odd y R: {odd}, verify returned {ours:?}"
        );
        assert_eq!(theirs, !odd, "odd y R: {odd}, k256 accepts: {theirs}");
    }
}
