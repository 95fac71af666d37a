//! Threshold ECDSA keys (`ecdsa-secp256k1`, `dkls23`): key generation (2-of-3 and 3-of-5),
//! its inputs checked before the library sees them, a bad polynomial value and an equivocated
//! broadcast caught, thresholds of one refused, persistence, refresh.

use std::collections::BTreeMap;

use k256_14::Scalar;
use tessera_types::{PartyId, Scheme, Threshold};

use super::net::{
    all_ok, ecdsa_dkg, ecdsa_sign, edit, err_at, hash, honest, k256_accepts, key_2_of_3,
    one_signature, party, run, session,
};
use crate::protocol::{ENVELOPE_LEN, Inbox, Session, SessionId, Step};
use crate::{Dkg, ErrorKind, GroupKey, KeyShare, Refresh};

#[test]
fn three_of_five_key_signs() {
    let t = Threshold::new(3, 5).unwrap();
    let outs = all_ok(ecdsa_dkg(30, t, &mut honest));
    let group = &outs[0].group;
    assert!(outs.iter().all(|o| o.group == *group));
    assert!(outs.iter().all(|o| o.share.belongs_to(group)));
    let h = hash(b"three of five");
    for (k, set) in [[0, 1, 2], [1, 3, 4]].iter().enumerate() {
        let signers: Vec<&KeyShare> = set.iter().map(|i| &outs[*i].share).collect();
        let sig = one_signature(ecdsa_sign(&signers, h, 31 + k as u8, &mut honest));
        assert!(k256_accepts(&group.public_key(), &h, &sig));
    }
    // Two signers are not a quorum of a 3-of-5 key.
    let two: std::collections::BTreeSet<PartyId> = [party(1), party(2)].into();
    let e = Session::for_signing(SessionId([1; 16]), Scheme::EcdsaSecp256k1, t, two, party(1))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameters);
}

#[test]
fn a_share_read_back_from_its_bytes_is_byte_identical_and_signs() {
    let (shares, group) = key_2_of_3();
    let bytes = shares[2].to_secret_bytes().unwrap();
    assert_eq!(&bytes.expose()[..4], b"TKS\x01");
    assert_eq!(bytes.expose()[4], 3, "scheme tag");
    let back = KeyShare::from_secret_bytes(bytes.expose()).unwrap();
    assert_eq!(back.to_secret_bytes().unwrap().expose(), bytes.expose());
    assert!(back.belongs_to(&group));
    assert_eq!(format!("{back:?}").matches("redacted").count(), 1);
    let g = group.to_bytes().unwrap();
    assert_eq!(&g[..5], b"TGK\x01\x03");
    assert_eq!(GroupKey::from_bytes(&g).unwrap(), group);

    let h = hash(b"after a round trip");
    let sig = one_signature(ecdsa_sign(&[&shares[0], &back], h, 40, &mut honest));
    assert!(k256_accepts(&group.public_key(), &h, &sig));

    // A share under another party's header, or truncated, does not load.
    let mut wrong = bytes.expose().to_vec();
    wrong[6] = 1;
    assert_eq!(
        KeyShare::from_secret_bytes(&wrong).unwrap_err().kind,
        ErrorKind::Malformed
    );
    let cut = &bytes.expose()[..bytes.len() - 1];
    assert!(KeyShare::from_secret_bytes(cut).is_err());
    assert!(GroupKey::from_bytes(&g[..g.len() - 1]).is_err());
}

/// Party 2 changes one field of its round-`round` message to party 1; party 1 must name it.
#[test]
fn thresholds_of_one_and_party_numbers_outside_one_to_n_are_refused() {
    for (t, n) in [(1, 1), (1, 3)] {
        let threshold = Threshold::allowing_minority(t, n).unwrap();
        let e = Dkg::start(session(90, threshold, party(1)), &mut rand::rngs::OsRng).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Parameters);
        assert_eq!(e.detail, "ecdsa-secp256k1 needs a threshold of at least 2");
    }
    let t = Threshold::new(2, 3).unwrap();
    for listed in [[1, 2, 4], [1, 2, 300]] {
        let ids = listed.iter().map(|p| party(*p)).collect();
        let s = Session::new(
            SessionId([91; 16]),
            Scheme::EcdsaSecp256k1,
            t,
            ids,
            party(1),
        );
        let e = Dkg::start(s.unwrap(), &mut rand::rngs::OsRng).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Parameters, "{listed:?}");
    }
}

#[test]
fn dkg_inputs_are_checked_before_the_library() {
    let t = Threshold::new(2, 3).unwrap();
    let start = |p| match Dkg::start(session(95, t, party(p)), &mut rand::rngs::OsRng).unwrap() {
        Step::Send(s, out) => (s, out),
        Step::Done(_) => unreachable!(),
    };
    let (_, out2) = start(2);
    let (_, out3) = start(3);
    let from2 = out2.0[&party(1)].clone();
    let from3 = out3.0[&party(1)].clone();

    // A missing sender.
    let (one, _) = start(1);
    let e = one
        .advance(&Inbox([(party(2), from2.clone())].into()))
        .unwrap_err();
    assert_eq!(
        (e.kind, e.culprits),
        (ErrorKind::MissingMessage, vec![party(3)])
    );
    // A sender outside the key.
    let (one, _) = start(1);
    let inbox = [
        (party(2), from2.clone()),
        (party(3), from3.clone()),
        (party(4), from3.clone()),
    ];
    let e = one.advance(&Inbox(inbox.into())).unwrap_err();
    assert_eq!(
        (e.kind, e.culprits),
        (ErrorKind::UnexpectedSender, vec![party(4)])
    );
    // Two polynomial values from one sender (the library would sum them all).
    let (one, _) = start(1);
    let mut doubled = from3.clone();
    doubled.extend_from_slice(&from2[ENVELOPE_LEN..]);
    let e = one
        .advance(&Inbox(
            [(party(2), from2.clone()), (party(3), doubled)].into(),
        ))
        .unwrap_err();
    assert_eq!((e.kind, e.culprits), (ErrorKind::Malformed, vec![party(3)]));
    // The honest round goes on to round 2.
    let (one, _) = start(1);
    let step = one.advance(&Inbox([(party(2), from2), (party(3), from3)].into()));
    assert!(matches!(step, Ok(Step::Send(..))));
}

#[test]
fn a_bad_polynomial_value_aborts_the_dkg_without_a_culprit() {
    let mut hook = |r: u8, from: PartyId, to: PartyId, payload: &mut Vec<u8>| {
        if r == 1 && from == party(2) && to == party(1) {
            edit::<Scalar>(payload, |s| *s += Scalar::ONE);
        }
    };
    let results = ecdsa_dkg(96, Threshold::new(2, 3).unwrap(), &mut hook);
    for p in 1..=3 {
        let e = err_at(&results, p);
        assert_eq!(e.kind, ErrorKind::InvalidSecretShare, "{p}: {e}");
        assert!(e.culprits.is_empty(), "{p}: {e}");
    }
}

#[test]
fn an_equivocated_chain_code_is_caught_by_the_confirmation_round() {
    use crate::ecdsa::dkg::{Round2, Round3};
    // Party 2 commits to and opens another chain-code contribution for party 3 than for
    // party 1: each check of the library passes, but 1 and 3 end with different chain codes.
    let alt_code = [9u8; 32];
    let (alt_commitment, alt_salt) = dkls23::utilities::commits::commit(&alt_code);
    let mut hook = |r: u8, from: PartyId, to: PartyId, payload: &mut Vec<u8>| {
        if from != party(2) || to != party(3) {
            return;
        }
        match r {
            2 => edit::<Round2>(payload, |m| m.chain.cc_commitment = alt_commitment),
            3 => edit::<Round3>(payload, |m| {
                m.chain.aux_chain_code = alt_code;
                m.chain.cc_salt = alt_salt.clone();
            }),
            _ => {}
        }
    };
    let results = ecdsa_dkg(97, Threshold::new(2, 3).unwrap(), &mut hook);
    for p in 1..=3 {
        assert_eq!(err_at(&results, p).kind, ErrorKind::Inconsistent, "{p}");
    }
    assert_eq!(err_at(&results, 1).culprits, vec![party(3)]);
    assert_eq!(err_at(&results, 3).culprits, vec![party(1), party(2)]);
}

fn refresh_all(shares: Vec<KeyShare>, group: &GroupKey, id: u8) -> Vec<crate::KeyOutput> {
    let mut start = BTreeMap::new();
    for share in shares {
        let p = share.party();
        let s = session(id, group.threshold(), p);
        match Refresh::start(s, share, group, &mut rand::rngs::OsRng).unwrap() {
            Step::Send(s, out) => {
                start.insert(p, (s, out));
            }
            Step::Done(_) => unreachable!(),
        }
    }
    all_ok(run(start, &mut honest))
}

#[test]
fn refresh_keeps_the_key_and_old_shares_do_not_sign_with_new_ones() {
    let (shares, group) = key_2_of_3();
    let (old, _) = key_2_of_3();
    let outs = refresh_all(shares, &group, 100);
    let new_group = &outs[0].group;
    assert!(outs.iter().all(|o| o.group == *new_group));
    assert_eq!(new_group.public_key(), group.public_key());
    assert_ne!(*new_group, group, "public shares move");
    assert_ne!(
        new_group.verifying_share(party(1)),
        group.verifying_share(party(1))
    );
    for o in &outs {
        assert!(o.share.belongs_to(new_group));
        assert!(!o.share.belongs_to(&group));
        assert_ne!(
            o.share.to_secret_bytes().unwrap().expose(),
            old[usize::from(o.share.party().get()) - 1]
                .to_secret_bytes()
                .unwrap()
                .expose()
        );
    }

    let h = hash(b"after refresh");
    let sig = one_signature(ecdsa_sign(
        &[&outs[0].share, &outs[2].share],
        h,
        101,
        &mut honest,
    ));
    assert!(k256_accepts(&group.public_key(), &h, &sig));

    // An old share and a new one do not sign together, in either order.
    for (k, pair) in [[&old[0], &outs[1].share], [&outs[0].share, &old[1]]]
        .iter()
        .enumerate()
    {
        let results = ecdsa_sign(pair, h, 102 + k as u8, &mut honest);
        for (p, r) in &results {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.kind, ErrorKind::Mismatch, "{p}: {e}");
            assert!(e.culprits.is_empty());
        }
    }

    // A share refreshed under a mismatched group key is refused at once.
    let (shares, _) = key_2_of_3();
    let mut it = shares.into_iter();
    let first = it.next().unwrap();
    let e = Refresh::start(
        session(103, group.threshold(), party(1)),
        first,
        new_group,
        &mut rand::rngs::OsRng,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Mismatch);
}
