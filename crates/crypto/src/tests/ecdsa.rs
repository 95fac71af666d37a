//! Threshold ECDSA signing (`ecdsa-secp256k1`, `dkls23`): every quorum signs and `k256` 0.13
//! agrees on its own, tampered messages are blamed on their sender where the library can tell,
//! inputs are checked before the library sees them, verification refuses what Ethereum would,
//! and FROST-only functions refuse ECDSA keys. Key generation and refresh are in
//! `ecdsa_keys.rs`.
//!
//! Few key generations run (each takes seconds): most tests share one 2-of-3 key
//! ([`key_2_of_3`]).

use std::collections::BTreeMap;

use dkls23::protocols::signing::{Broadcast3to4, TransmitPhase1to2, TransmitPhase2to3};
use k256_14::{ProjectivePoint, Scalar};
use tessera_types::{PartyId, Scheme, Threshold};

use super::net::{
    all_ok, ecdsa_sign, edit, err_at, hash, honest, k256_accepts, key_2_of_3, one_signature,
    parties, party, run,
};
use crate::ecdsa::dkls::Curve;
use crate::protocol::{ENVELOPE_LEN, Envelope, Inbox, ProtocolKind, Session, SessionId, Step};
use crate::{
    CryptoError, Dkg, EcdsaSign, EcdsaSignature, ErrorKind, KeyShare, SigningPackage, aggregate,
    commit, sign, try_commit, verify,
};

#[test]
fn two_of_three_key_signs_with_every_pair_and_k256_agrees() {
    let (shares, group) = key_2_of_3();
    assert_eq!(group.scheme(), Scheme::EcdsaSecp256k1);
    let pk = group.public_key();
    assert_eq!(pk.len(), 33);
    assert!(pk[0] == 2 || pk[0] == 3, "compressed SEC1");
    for s in &shares {
        assert!(s.belongs_to(&group));
        assert_eq!(s.public_key(), pk);
        assert_eq!(group.verifying_share(s.party()).map(|v| v.len()), Some(33));
    }
    assert_eq!(group.verifying_share(party(4)), None);
    assert!(!shares[0].belongs_to(&{
        let mut other = group.clone();
        other.parties.remove(&party(3));
        other.threshold = Threshold::allowing_minority(2, 2).unwrap();
        other
    }));

    for (k, pair) in [[0, 1], [1, 2], [0, 2]].iter().enumerate() {
        let h = hash(format!("pay {k}").as_bytes());
        let signers = [&shares[pair[0]], &shares[pair[1]]];
        let sig = one_signature(ecdsa_sign(&signers, h, 10 + k as u8, &mut honest));
        assert!(k256_accepts(&pk, &h, &sig), "pair {pair:?}");
        verify(Scheme::EcdsaSecp256k1, &pk, &h, &sig.to_bytes()).unwrap();
        group.verify_ecdsa(&h, &sig).unwrap();
        assert_eq!(EcdsaSignature::from_bytes(&sig.to_bytes()).unwrap(), sig);
        // Another message does not verify.
        let other = hash(b"something else");
        assert!(!k256_accepts(&pk, &other, &sig));
        let e = verify(Scheme::EcdsaSecp256k1, &pk, &other, &sig.to_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
    }
}

fn tamper_signing(round: u8, change: fn(&mut Vec<u8>)) -> CryptoError {
    let (shares, _) = key_2_of_3();
    let mut hook = |r: u8, from: PartyId, to: PartyId, payload: &mut Vec<u8>| {
        if r == round && from == party(2) && to == party(1) {
            change(payload);
        }
    };
    let results = ecdsa_sign(
        &[&shares[0], &shares[1]],
        hash(b"tamper"),
        50 + round,
        &mut hook,
    );
    err_at(&results, 1).clone()
}

#[test]
fn a_tampered_signing_message_names_its_sender_where_the_library_can() {
    // Round 1, the oblivious-transfer extension: a failed OT check bans the sender.
    let e = tamper_signing(1, |p| {
        edit::<TransmitPhase1to2>(p, |m| m.mul_transmit.u[0][0] ^= 1)
    });
    assert_eq!(e.kind, ErrorKind::BanCounterparty, "{e}");
    assert_eq!(e.culprits, vec![party(2)]);

    // Round 2, a consistency value: banned as well.
    let e = tamper_signing(2, |p| {
        edit::<TransmitPhase2to3<Curve>>(p, |m| {
            m.gamma_u = (ProjectivePoint::from(m.gamma_u) + ProjectivePoint::GENERATOR).to_affine()
        })
    });
    assert_eq!(e.kind, ErrorKind::BanCounterparty, "{e}");
    assert_eq!(e.culprits, vec![party(2)]);

    // Round 1, the commitment to the instance point: opened in round 2 against it, and the
    // library names whose opening failed.
    let e = tamper_signing(1, |p| {
        edit::<TransmitPhase1to2>(p, |m| m.commitment[0] ^= 1)
    });
    assert_eq!(e.kind, ErrorKind::InvalidSecretShare, "{e}");
    assert_eq!(e.culprits, vec![party(2)]);

    // Round 3, the share of the signature: the final check fails and cannot tell who cheated.
    let e = tamper_signing(3, |p| {
        edit::<Broadcast3to4<Curve>>(p, |m| m.u += Scalar::ONE)
    });
    assert_eq!(e.kind, ErrorKind::InvalidSignature, "{e}");
    assert!(e.culprits.is_empty());

    // Bytes that do not decode are blamed on their sender.
    let e = tamper_signing(2, |p| p.truncate(ENVELOPE_LEN + 10));
    assert_eq!(
        (e.kind, e.culprits.clone()),
        (ErrorKind::Malformed, vec![party(2)])
    );
}

#[test]
fn a_message_naming_another_sender_or_receiver_is_refused_before_the_library() {
    // Party 2's round-1 message claims to come from party 3.
    let e = tamper_signing(1, |p| {
        edit::<TransmitPhase1to2>(p, |m| {
            m.parties.sender = dkls23::protocols::PartyIndex::new(3).unwrap()
        })
    });
    assert_eq!(
        (e.kind, e.culprits.clone()),
        (ErrorKind::Malformed, vec![party(2)])
    );
    // ... or to be for party 3.
    let e = tamper_signing(2, |p| {
        edit::<TransmitPhase2to3<Curve>>(p, |m| {
            m.parties.receiver = dkls23::protocols::PartyIndex::new(3).unwrap()
        })
    });
    assert_eq!(
        (e.kind, e.culprits.clone()),
        (ErrorKind::Malformed, vec![party(2)])
    );
}

/// Party 1's state after starting a signature with party 2, and party 2's round-1 messages.
fn started_pair(id: u8) -> (EcdsaSign, BTreeMap<PartyId, Vec<u8>>, Vec<KeyShare>) {
    let (shares, _) = key_2_of_3();
    let signers: std::collections::BTreeSet<PartyId> = [party(1), party(2)].into();
    let s = |me| {
        Session::for_signing(
            SessionId([id; 16]),
            Scheme::EcdsaSecp256k1,
            Threshold::new(2, 3).unwrap(),
            signers.clone(),
            me,
        )
        .unwrap()
    };
    let h = hash(b"inbox checks");
    let (one, _) = EcdsaSign::start(&shares[0], s(party(1)), h).unwrap();
    let (_, out2) = EcdsaSign::start(&shares[1], s(party(2)), h).unwrap();
    assert_eq!(one.round(), 1);
    assert_eq!(one.message_hash(), h);
    (one, out2.0, shares)
}

#[test]
fn missing_extra_and_misaddressed_messages_are_refused_before_the_library() {
    let (one, out2, _) = started_pair(60);
    let debug = format!("{one:?}");
    assert!(
        debug.contains("<redacted>") && !debug.contains("poly_point"),
        "{debug}"
    );
    let payload = out2[&party(1)].clone();

    let e = one.advance(&Inbox::default()).unwrap_err();
    assert_eq!(
        (e.kind, e.culprits),
        (ErrorKind::MissingMessage, vec![party(2)])
    );

    let (one, _, _) = started_pair(60);
    let mut inbox = Inbox::default();
    inbox.0.insert(party(2), payload.clone());
    inbox.0.insert(party(3), payload.clone());
    let e = one.advance(&inbox).unwrap_err();
    assert_eq!(
        (e.kind, e.culprits),
        (ErrorKind::UnexpectedSender, vec![party(3)])
    );

    // Two messages in one payload (a duplicate sender for the library) do not decode.
    let (one, _, _) = started_pair(60);
    let mut doubled = payload.clone();
    doubled.extend_from_slice(&payload[ENVELOPE_LEN..]);
    let inbox = Inbox([(party(2), doubled)].into());
    let e = one.advance(&inbox).unwrap_err();
    assert_eq!((e.kind, e.culprits), (ErrorKind::Malformed, vec![party(2)]));

    // The honest message goes through.
    let (one, _, _) = started_pair(60);
    let inbox = Inbox([(party(2), payload)].into());
    match one.advance(&inbox).unwrap() {
        Step::Send(two, out) => {
            assert_eq!(two.round(), 2);
            assert_eq!(out.0.keys().copied().collect::<Vec<_>>(), vec![party(2)]);
        }
        Step::Done(_) => panic!("signing has three rounds"),
    }
}

#[test]
fn a_message_under_another_envelope_is_refused() {
    let (_, out2, _) = started_pair(61);
    let body = out2[&party(1)][ENVELOPE_LEN..].to_vec();
    let good = Envelope {
        kind: ProtocolKind::EcdsaSign,
        scheme: Scheme::EcdsaSecp256k1,
        session: SessionId([61; 16]),
        round: 1,
    };
    for (what, env) in [
        ("round", Envelope { round: 2, ..good }),
        (
            "session",
            Envelope {
                session: SessionId([62; 16]),
                ..good
            },
        ),
        (
            "scheme",
            Envelope {
                scheme: Scheme::FrostSecp256k1Tr,
                ..good
            },
        ),
        (
            "protocol",
            Envelope {
                kind: ProtocolKind::Dkg,
                ..good
            },
        ),
    ] {
        let (one, _, _) = started_pair(61);
        let inbox = Inbox([(party(2), env.seal(&body))].into());
        let e = one.advance(&inbox).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed, "{what}: {e}");
        assert_eq!(e.culprits, vec![party(2)], "{what}");
    }
    let (one, _, _) = started_pair(61);
    let inbox = Inbox([(party(2), good.seal(&body))].into());
    assert!(one.advance(&inbox).is_ok());
}

#[test]
fn signing_sessions_are_checked_against_the_share() {
    let (shares, _) = key_2_of_3();
    let t = Threshold::new(2, 3).unwrap();
    let h = hash(b"checks");
    let signing = |signers: &[u16], me: u16| Session {
        id: SessionId([70; 16]),
        scheme: Scheme::EcdsaSecp256k1,
        threshold: t,
        parties: signers.iter().map(|p| party(*p)).collect(),
        me: party(me),
    };
    // Three signers for a 2-of-3 key.
    let e = EcdsaSign::start(&shares[0], signing(&[1, 2, 3], 1), h).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameters);
    // A signer outside the key.
    let e = EcdsaSign::start(&shares[0], signing(&[1, 4], 1), h).unwrap_err();
    assert_eq!(
        (e.kind, e.culprits),
        (ErrorKind::Parameters, vec![party(4)])
    );
    let e = EcdsaSign::start(&shares[0], signing(&[1, 300], 1), h).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameters);
    // Another party's session.
    let e = EcdsaSign::start(&shares[0], signing(&[1, 2], 2), h).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Mismatch);
    // Another scheme.
    let mut frost = signing(&[1, 2], 1);
    frost.scheme = Scheme::FrostSecp256k1Tr;
    assert_eq!(
        EcdsaSign::start(&shares[0], frost, h).unwrap_err().kind,
        ErrorKind::Mismatch
    );
    // Session::for_signing checks the count and membership.
    let ids = |v: &[u16]| v.iter().map(|p| party(*p)).collect();
    let id = SessionId([0; 16]);
    let s = Scheme::EcdsaSecp256k1;
    assert!(Session::for_signing(id, s, t, ids(&[1, 2, 3]), party(1)).is_err());
    assert!(Session::for_signing(id, s, t, ids(&[2, 3]), party(1)).is_err());
    assert!(Session::for_signing(id, s, t, ids(&[2, 3]), party(2)).is_ok());
}

#[test]
fn frost_operations_refuse_ecdsa_keys_without_panicking() {
    let (shares, group) = key_2_of_3();
    let nonces = commit(&shares[0], &mut rand::rngs::OsRng);
    assert_eq!(nonces.commitment().scheme(), Scheme::EcdsaSecp256k1);
    assert_eq!(
        nonces.commitment().id().unwrap_err().kind,
        ErrorKind::Unsupported
    );
    assert_eq!(
        nonces.commitment().to_bytes().unwrap_err().kind,
        ErrorKind::Unsupported
    );
    let _ = format!("{nonces:?}");
    let e = try_commit(&shares[0], &mut rand::rngs::OsRng).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let e = SigningPackage::new(b"m", vec![nonces.commitment().clone()]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);

    // A FROST package, share and nonces, handed an ECDSA share or group key.
    let frost = all_ok(frost_dkg());
    let n1 = commit(&frost[0].share, &mut rand::rngs::OsRng);
    let n2 = commit(&frost[1].share, &mut rand::rngs::OsRng);
    let pkg =
        SigningPackage::new(b"m", vec![n1.commitment().clone(), n2.commitment().clone()]).unwrap();
    let e = sign(&shares[0], n1, &pkg).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let s2 = sign(&frost[1].share, n2, &pkg).unwrap();
    let e = aggregate(&group, &pkg, &[s2]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    // And the reverse: a FROST share in an ECDSA session.
    let session = Session::for_signing(
        SessionId([1; 16]),
        Scheme::EcdsaSecp256k1,
        Threshold::new(2, 3).unwrap(),
        [party(1), party(2)].into(),
        party(1),
    )
    .unwrap();
    let e = EcdsaSign::start(&frost[0].share, session, [0; 32]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    // A FROST share does not belong to an ECDSA group, nor the reverse.
    assert!(!frost[0].share.belongs_to(&group));
    assert!(!shares[0].belongs_to(&frost[0].group));
}

fn frost_dkg() -> BTreeMap<PartyId, Result<crate::KeyOutput, CryptoError>> {
    let t = Threshold::new(2, 3).unwrap();
    let mut start = BTreeMap::new();
    for p in parties(3) {
        let s = Session::new(
            SessionId([2; 16]),
            Scheme::FrostSecp256k1Tr,
            t,
            parties(3),
            p,
        );
        match Dkg::start(s.unwrap(), &mut rand::rngs::OsRng).unwrap() {
            Step::Send(s, out) => {
                start.insert(p, (s, out));
            }
            Step::Done(_) => unreachable!(),
        }
    }
    run(start, &mut honest)
}

#[test]
fn verify_refuses_high_s_wrong_recovery_ids_and_non_hash_messages() {
    let (shares, group) = key_2_of_3();
    let pk = group.public_key();
    let h = hash(b"verify");
    let sig = one_signature(ecdsa_sign(&[&shares[1], &shares[2]], h, 80, &mut honest));
    let good = sig.to_bytes();
    verify(Scheme::EcdsaSecp256k1, &pk, &h, &good).unwrap();

    // The same signature with s replaced by n - s is valid ECDSA, but high-S.
    let s = k256::ecdsa::Signature::from_scalars(sig.r, sig.s).unwrap();
    let high =
        k256::ecdsa::Signature::from_scalars(s.r().to_bytes(), (-*s.s()).to_bytes()).unwrap();
    let mut high_bytes = good;
    high_bytes[32..64].copy_from_slice(&high.s().to_bytes());
    let e = verify(Scheme::EcdsaSecp256k1, &pk, &h, &high_bytes).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidSignature, "{e}");

    let mut flipped = good;
    flipped[64] ^= 1;
    let e = verify(Scheme::EcdsaSecp256k1, &pk, &h, &flipped).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidSignature, "{e}");
    let mut v2 = good;
    v2[64] = 2;
    assert_eq!(
        verify(Scheme::EcdsaSecp256k1, &pk, &h, &v2)
            .unwrap_err()
            .kind,
        ErrorKind::Malformed
    );
    let e = verify(Scheme::EcdsaSecp256k1, &pk, b"not a hash", &good).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Malformed);
    assert!(verify(Scheme::EcdsaSecp256k1, &pk, &h, &good[..64]).is_err());
    assert!(verify(Scheme::EcdsaSecp256k1, &pk[1..], &h, &good).is_err());
    let mut zero_r = good;
    zero_r[..32].fill(0);
    assert!(verify(Scheme::EcdsaSecp256k1, &pk, &h, &zero_r).is_err());
    // Another key.
    let other = k256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
    let other_pk = other.verifying_key().to_encoded_point(true);
    assert!(verify(Scheme::EcdsaSecp256k1, other_pk.as_bytes(), &h, &good).is_err());
}

#[test]
fn signature_bytes_round_trip_and_bad_lengths_are_refused() {
    let sig = EcdsaSignature {
        r: [1; 32],
        s: [2; 32],
        recovery_id: 1,
    };
    let b = sig.to_bytes();
    assert_eq!(b.len(), 65);
    assert_eq!(
        (&b[..32], &b[32..64], b[64]),
        (&[1u8; 32][..], &[2u8; 32][..], 1)
    );
    assert_eq!(EcdsaSignature::from_bytes(&b).unwrap(), sig);
    assert!(EcdsaSignature::from_bytes(&b[..64]).is_err());
    let mut v = b;
    v[64] = 27;
    assert_eq!(
        EcdsaSignature::from_bytes(&v).unwrap_err().kind,
        ErrorKind::Malformed
    );
}
