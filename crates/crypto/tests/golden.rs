//! Golden files pin every persisted and wire format of this crate: a change that stops old
//! data from loading, or old shares from signing, fails here. Regenerate only on purpose, with
//! `TESSERA_BLESS=1` (and a new format version).
//!
//! The shares in `golden/` are test data of a throwaway key, in the clear on purpose.
//!
//! Threshold ECDSA (`golden/ecdsa-secp256k1/`) has no commitments or signature shares: its
//! golden files are the shares, the group key and a signature. `dkls23` draws its own
//! randomness, so blessing makes a new key each time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use tessera_crypto::protocol::{Inbox, Outbox, Protocol, Session, SessionId, Step};
use tessera_crypto::{
    Commitment, Dkg, EcdsaSign, EcdsaSignature, GroupKey, KeyOutput, KeyShare, SignatureShare,
    SigningPackage, aggregate, commit, sign, verify,
};
use tessera_types::{PartyId, Scheme, Threshold};

fn dir(scheme: Scheme) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(scheme.name())
}

/// Runs every party of an in-process protocol to its end.
fn drive<P: Protocol>(start: BTreeMap<PartyId, (P, Outbox)>) -> Vec<P::Output> {
    let mut states = BTreeMap::new();
    let mut outboxes = BTreeMap::new();
    for (p, (s, out)) in start {
        states.insert(p, s);
        outboxes.insert(p, out);
    }
    loop {
        let mut inboxes: BTreeMap<PartyId, Inbox> = BTreeMap::new();
        for (from, out) in std::mem::take(&mut outboxes) {
            for (to, payload) in out.0 {
                inboxes.entry(to).or_default().0.insert(from, payload);
            }
        }
        let mut done = Vec::new();
        for (p, s) in std::mem::take(&mut states) {
            match s.advance(&inboxes[&p]).unwrap() {
                Step::Send(s, out) => {
                    states.insert(p, s);
                    outboxes.insert(p, out);
                }
                Step::Done(o) => done.push(o),
            }
        }
        if !done.is_empty() {
            return done;
        }
    }
}

fn dkg(scheme: Scheme) -> Vec<KeyOutput> {
    let parties: BTreeSet<PartyId> = (1..=3).map(|p| PartyId::new(p).unwrap()).collect();
    let mut start = BTreeMap::new();
    for p in &parties {
        let session = Session::new(
            SessionId([7; 16]),
            scheme,
            Threshold::new(2, 3).unwrap(),
            parties.clone(),
            *p,
        )
        .unwrap();
        match Dkg::start(session, &mut OsRng).unwrap() {
            Step::Send(s, out) => {
                start.insert(*p, (s, out));
            }
            Step::Done(_) => unreachable!(),
        }
    }
    drive(start)
}

fn bless(scheme: Scheme) {
    let d = dir(scheme);
    std::fs::create_dir_all(&d).unwrap();
    let outs = dkg(scheme);
    std::fs::write(d.join("group.bin"), outs[0].group.to_bytes().unwrap()).unwrap();
    for o in &outs {
        let p = o.share.party().get();
        std::fs::write(
            d.join(format!("share-{p}.bin")),
            o.share.to_secret_bytes().unwrap().expose(),
        )
        .unwrap();
    }
    let n1 = commit(&outs[0].share, &mut OsRng);
    let n2 = commit(&outs[1].share, &mut OsRng);
    let package = SigningPackage::new(
        b"golden message v1",
        vec![n1.commitment().clone(), n2.commitment().clone()],
    )
    .unwrap();
    std::fs::write(
        d.join("commitment-1.bin"),
        n1.commitment().to_bytes().unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("package.bin"), package.to_bytes().unwrap()).unwrap();
    let s1 = sign(&outs[0].share, n1, &package).unwrap();
    let s2 = sign(&outs[1].share, n2, &package).unwrap();
    std::fs::write(d.join("sigshare-1.bin"), s1.to_bytes()).unwrap();
    std::fs::write(d.join("sigshare-2.bin"), s2.to_bytes()).unwrap();
    let sig = aggregate(&outs[0].group, &package, &[s1, s2]).unwrap();
    std::fs::write(d.join("signature.bin"), sig.to_bytes()).unwrap();
}

fn read(scheme: Scheme, name: &str) -> Vec<u8> {
    std::fs::read(dir(scheme).join(name)).unwrap_or_else(|e| panic!("{scheme} {name}: {e}"))
}

fn check(scheme: Scheme) {
    let group = GroupKey::from_bytes(&read(scheme, "group.bin")).unwrap();
    assert_eq!(group.scheme(), scheme);
    assert_eq!(group.threshold(), Threshold::new(2, 3).unwrap());
    assert_eq!(
        group.to_bytes().unwrap(),
        read(scheme, "group.bin"),
        "re-encoding is stable"
    );
    let shares: Vec<KeyShare> = (1..=3)
        .map(|p| KeyShare::from_secret_bytes(&read(scheme, &format!("share-{p}.bin"))).unwrap())
        .collect();
    for s in &shares {
        assert!(s.belongs_to(&group));
        assert_eq!(
            s.to_secret_bytes().unwrap().expose(),
            &read(scheme, &format!("share-{}.bin", s.party().get()))[..]
        );
    }

    // Old wire messages still parse, and the old signature still verifies.
    let c1 = Commitment::from_bytes(&read(scheme, "commitment-1.bin")).unwrap();
    let package = SigningPackage::from_bytes(&read(scheme, "package.bin")).unwrap();
    assert_eq!(package.commitment(PartyId::new(1).unwrap()), Some(&c1));
    assert_eq!(package.to_bytes().unwrap(), read(scheme, "package.bin"));
    let old_shares: Vec<SignatureShare> = ["sigshare-1.bin", "sigshare-2.bin"]
        .iter()
        .map(|f| SignatureShare::from_bytes(&read(scheme, f)).unwrap())
        .collect();
    let again = aggregate(&group, &package, &old_shares).unwrap();
    assert_eq!(again.to_bytes(), &read(scheme, "signature.bin")[..]);
    verify(
        scheme,
        &group.public_key(),
        b"golden message v1",
        &read(scheme, "signature.bin"),
    )
    .unwrap();

    // Old shares still sign, with any quorum.
    let n2 = commit(&shares[1], &mut OsRng);
    let n3 = commit(&shares[2], &mut OsRng);
    let fresh = SigningPackage::new(
        b"signed today",
        vec![n2.commitment().clone(), n3.commitment().clone()],
    )
    .unwrap();
    let s2 = sign(&shares[1], n2, &fresh).unwrap();
    let s3 = sign(&shares[2], n3, &fresh).unwrap();
    let sig = aggregate(&group, &fresh, &[s2, s3]).unwrap();
    group.verify(b"signed today", &sig).unwrap();
}

#[test]
fn golden_formats_still_load_and_sign() {
    for scheme in Scheme::FROST {
        if std::env::var_os("TESSERA_BLESS").is_some() {
            bless(scheme);
        }
        check(scheme);
    }
}

const ECDSA: Scheme = Scheme::EcdsaSecp256k1;

fn golden_hash() -> [u8; 32] {
    Sha256::digest(b"golden message v1").into()
}

/// A threshold ECDSA signature of `hash` by `shares`, in process.
fn ecdsa_sign(shares: &[&KeyShare], hash: [u8; 32], id: u8) -> EcdsaSignature {
    let signers: BTreeSet<PartyId> = shares.iter().map(|s| s.party()).collect();
    let mut start = BTreeMap::new();
    for share in shares {
        let session = Session::for_signing(
            SessionId([id; 16]),
            ECDSA,
            share.threshold(),
            signers.clone(),
            share.party(),
        )
        .unwrap();
        start.insert(
            share.party(),
            EcdsaSign::start(share, session, hash).unwrap(),
        );
    }
    let sigs = drive(start);
    assert!(sigs.windows(2).all(|w| w[0] == w[1]));
    sigs[0]
}

fn bless_ecdsa() {
    let d = dir(ECDSA);
    std::fs::create_dir_all(&d).unwrap();
    let outs = dkg(ECDSA);
    std::fs::write(d.join("group.bin"), outs[0].group.to_bytes().unwrap()).unwrap();
    for o in &outs {
        let p = o.share.party().get();
        std::fs::write(
            d.join(format!("share-{p}.bin")),
            o.share.to_secret_bytes().unwrap().expose(),
        )
        .unwrap();
    }
    let sig = ecdsa_sign(&[&outs[0].share, &outs[1].share], golden_hash(), 8);
    std::fs::write(d.join("signature.bin"), sig.to_bytes()).unwrap();
}

#[test]
fn ecdsa_golden_formats_still_load_and_sign() {
    if std::env::var_os("TESSERA_BLESS").is_some() {
        bless_ecdsa();
    }
    let group = GroupKey::from_bytes(&read(ECDSA, "group.bin")).unwrap();
    assert_eq!(group.scheme(), ECDSA);
    assert_eq!(group.threshold(), Threshold::new(2, 3).unwrap());
    assert_eq!(group.public_key().len(), 33);
    assert_eq!(
        group.to_bytes().unwrap(),
        read(ECDSA, "group.bin"),
        "re-encoding is stable"
    );
    let shares: Vec<KeyShare> = (1..=3)
        .map(|p| KeyShare::from_secret_bytes(&read(ECDSA, &format!("share-{p}.bin"))).unwrap())
        .collect();
    for s in &shares {
        assert!(s.belongs_to(&group));
        assert_eq!(
            s.to_secret_bytes().unwrap().expose(),
            &read(ECDSA, &format!("share-{}.bin", s.party().get()))[..]
        );
    }

    // The old signature still parses and verifies.
    let old = read(ECDSA, "signature.bin");
    let parsed = EcdsaSignature::from_bytes(&old).unwrap();
    assert_eq!(parsed.to_bytes().to_vec(), old);
    verify(ECDSA, &group.public_key(), &golden_hash(), &old).unwrap();
    group.verify_ecdsa(&golden_hash(), &parsed).unwrap();

    // Old shares still sign, with another quorum.
    let hash: [u8; 32] = Sha256::digest(b"signed today").into();
    let sig = ecdsa_sign(&[&shares[1], &shares[2]], hash, 9);
    verify(ECDSA, &group.public_key(), &hash, &sig.to_bytes()).unwrap();
}
