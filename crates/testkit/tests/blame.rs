//! A misbehaving party is named: a signer that returns a well-formed share of another message,
//! and DKG messages corrupted or replayed from another session. A failed key generation or
//! refresh leaves nothing half-done and every party on the same key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::path::Path;

use tessera_coordinator::{
    Coordinator, LinkError, SessionError, SignerLink, Tamper, generate_key, refresh_key,
};
use tessera_crypto::protocol::{Inbox, Session, SessionId};
use tessera_crypto::{Commitment, ErrorKind, GroupKey, SignatureShare, SigningPackage};
use tessera_signer::{Progress, Signer};
use tessera_testkit::{cluster, party, two_of_three};
use tessera_testkit::{links, quorum, signers};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};

/// Where the least significant byte of a scalar that ends a frost message sits: scalars are
/// 32 bytes, little-endian for Ed25519 and big-endian for secp256k1. Flipping its low bit
/// keeps the scalar canonical, so the message still decodes and only its value is wrong.
fn scalar_lsb_at_end(scheme: Scheme, payload_len: usize) -> usize {
    match scheme {
        Scheme::FrostEd25519 => payload_len - 32,
        Scheme::FrostSecp256k1Tr => payload_len - 1,
        Scheme::EcdsaSecp256k1 => unreachable!("FROST schemes only"),
    }
}

// ---- 1. a signer that signs another message -----------------------------------------------

/// A compromised signer: asked to sign a package, it signs a package with the same commitments
/// and another message. Its share is well-formed, made with the nonce it was asked for, but
/// is not a share of the signature the coordinator is building.
struct SignsAnotherMessage<'a> {
    inner: &'a mut Signer,
}

impl SignerLink for SignsAnotherMessage<'_> {
    fn party(&self) -> PartyId {
        SignerLink::party(&*self.inner)
    }

    fn dkg_start(&mut self, key_id: &KeyId, session: Session) -> Result<Progress, LinkError> {
        SignerLink::dkg_start(&mut *self.inner, key_id, session)
    }

    fn dkg_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError> {
        SignerLink::dkg_advance(&mut *self.inner, key_id, inbox)
    }

    fn refresh_start(&mut self, key_id: &KeyId, session: SessionId) -> Result<Progress, LinkError> {
        SignerLink::refresh_start(&mut *self.inner, key_id, session)
    }

    fn refresh_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError> {
        SignerLink::refresh_advance(&mut *self.inner, key_id, inbox)
    }

    fn activate(&mut self, key_id: &KeyId, group: &GroupKey) -> Result<(), LinkError> {
        SignerLink::activate(&mut *self.inner, key_id, group)
    }

    fn abort(&mut self, key_id: &KeyId) -> Result<(), LinkError> {
        SignerLink::abort(&mut *self.inner, key_id)
    }

    fn commit(&mut self, key_id: &KeyId, count: usize) -> Result<Vec<Commitment>, LinkError> {
        SignerLink::commit(&mut *self.inner, key_id, count)
    }

    fn sign(
        &mut self,
        key_id: &KeyId,
        package: &SigningPackage,
    ) -> Result<SignatureShare, LinkError> {
        let commitments: Vec<Commitment> = package
            .signers()
            .iter()
            .map(|p| package.commitment(*p).unwrap().clone())
            .collect();
        let mut other = package.message().to_vec();
        other.extend_from_slice(b" (and pay the attacker)");
        let forged = SigningPackage::new(&other, commitments).unwrap();
        SignerLink::sign(&mut *self.inner, key_id, &forged)
    }
}

fn blamed_signing(scheme: Scheme, honest: &[u16], cheaters: &[u16]) {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyId::new("k").unwrap();
    let (mut s, group) = cluster(dir.path(), scheme, &key);
    let mut wrapped: Vec<SignsAnotherMessage<'_>> = Vec::new();
    let mut plain: Vec<&mut Signer> = Vec::new();
    for signer in &mut s {
        let p = signer.party().get();
        if cheaters.contains(&p) {
            wrapped.push(SignsAnotherMessage { inner: signer });
        } else if honest.contains(&p) {
            plain.push(signer);
        }
    }
    let mut q: Vec<&mut dyn SignerLink> = Vec::new();
    for w in &mut wrapped {
        q.push(w);
    }
    for h in &mut plain {
        q.push(&mut **h);
    }
    let err = Coordinator::new()
        .sign(&mut q, &key, &group, b"pay 1 coin to bob")
        .unwrap_err();
    let SessionError::Crypto(e) = &err else {
        panic!("{scheme}: expected an aggregation failure, got {err:?}");
    };
    assert_eq!(e.kind, ErrorKind::InvalidSignatureShare, "{scheme}: {e}");
    let expected: Vec<PartyId> = cheaters.iter().copied().map(party).collect();
    assert_eq!(e.culprits, expected, "{scheme}: honest {honest:?}: {e}");
    assert_eq!(err.culprits(), expected);
}

#[test]
fn a_share_of_another_message_is_blamed_on_its_signer_alone() {
    for scheme in Scheme::FROST {
        for (honest, cheater) in [(1, 2), (2, 1), (3, 1), (1, 3)] {
            blamed_signing(scheme, &[honest], &[cheater]);
        }
    }
}

#[test]
fn every_cheating_signer_of_a_quorum_is_blamed() {
    for scheme in Scheme::FROST {
        blamed_signing(scheme, &[], &[1, 3]);
        blamed_signing(scheme, &[2], &[1, 3]);
    }
}

// ---- 2. blame in key generation -----------------------------------------------------------

/// Runs a 2-of-3 DKG of key `k` whose messages pass through `tamper`; it must fail. Returns
/// the signers' refusal.
fn failed_dkg(dir: &Path, scheme: Scheme, tamper: &mut Tamper<'_>) -> (Vec<Signer>, LinkError) {
    let mut s = signers(dir, 3).unwrap();
    let key = KeyId::new("k").unwrap();
    let err = generate_key(
        &mut links(&mut s),
        &key,
        scheme,
        two_of_three(),
        Some(tamper),
    )
    .unwrap_err();
    let SessionError::Signer(e) = err else {
        panic!("{scheme}: expected a signer's refusal, got {err:?}");
    };
    (s, e)
}

/// After a failed DKG nobody holds the key, and the same key id can be generated again.
fn nothing_half_done(s: &mut [Signer], scheme: Scheme) {
    let key = KeyId::new("k").unwrap();
    for signer in s.iter() {
        assert!(
            signer.key_ids().unwrap().is_empty(),
            "{scheme}: {} kept a key from a failed key generation",
            signer.party()
        );
        assert_eq!(signer.pooled_nonces(), 0);
    }
    let group = generate_key(&mut links(s), &key, scheme, two_of_three(), None)
        .unwrap_or_else(|e| panic!("{scheme}: retry after a failed dkg: {e}"));
    for signer in s.iter_mut() {
        assert_eq!(signer.group_key(&key).unwrap(), group);
    }
    Coordinator::new()
        .sign(&mut quorum(s, &[1, 3]), &key, &group, b"retry works")
        .unwrap();
}

#[test]
fn dkg_blames_the_sender_of_a_bad_secret_share() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let mut hit = 0;
        let (mut s, e) = failed_dkg(dir.path(), scheme, &mut |round, from, to, payload| {
            if round == 2 && from == party(2) && to == party(1) {
                let at = scalar_lsb_at_end(scheme, payload.len());
                payload[at] ^= 1;
                hit += 1;
            }
        });
        assert_eq!(hit, 1);
        assert_eq!(e.party, party(1), "{scheme}: {e}");
        assert_eq!(
            e.code,
            ErrorKind::InvalidSecretShare.code(),
            "{scheme}: {e}"
        );
        assert_eq!(e.culprits, vec![party(2)], "{scheme}: {e}");
        nothing_half_done(&mut s, scheme);
    }
}

#[test]
fn dkg_blames_the_sender_of_a_bad_round1_broadcast() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, e) = failed_dkg(dir.path(), scheme, &mut |round, from, to, payload| {
            if round == 1 && from == party(3) && to == party(1) {
                // The payload ends with the proof of knowledge's response scalar.
                let at = scalar_lsb_at_end(scheme, payload.len());
                payload[at] ^= 1;
            }
        });
        assert_eq!(e.party, party(1), "{scheme}: {e}");
        assert_eq!(
            e.code,
            ErrorKind::InvalidProofOfKnowledge.code(),
            "{scheme}: {e}"
        );
        assert_eq!(e.culprits, vec![party(3)], "{scheme}: {e}");
        nothing_half_done(&mut s, scheme);
    }
}

#[test]
fn dkg_blames_the_sender_of_a_bad_confirmation() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, e) = failed_dkg(dir.path(), scheme, &mut |round, from, to, payload| {
            if round == 3 && from == party(2) && to == party(1) {
                *payload.last_mut().unwrap() ^= 0x80;
            }
        });
        assert_eq!(e.party, party(1), "{scheme}: {e}");
        assert_eq!(e.code, "inconsistent_key_generation", "{scheme}: {e}");
        assert_eq!(e.code, ErrorKind::Inconsistent.code());
        assert_eq!(e.culprits, vec![party(2)], "{scheme}: {e}");
        nothing_half_done(&mut s, scheme);
    }
}

#[test]
fn dkg_blames_the_sender_of_a_message_from_another_session() {
    for scheme in Scheme::FROST {
        // A genuine round-1 message of party 3 in another run of the DKG.
        let elsewhere = tempfile::tempdir().unwrap();
        let mut other = signers(elsewhere.path(), 3).unwrap();
        let mut captured: Option<Vec<u8>> = None;
        generate_key(
            &mut links(&mut other),
            &KeyId::new("k").unwrap(),
            scheme,
            two_of_three(),
            Some(&mut |round, from, to, payload: &mut Vec<u8>| {
                if round == 1 && from == party(3) && to == party(1) {
                    captured = Some(payload.clone());
                }
            }),
        )
        .unwrap();
        let captured = captured.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let (mut s, e) = failed_dkg(dir.path(), scheme, &mut |round, from, to, payload| {
            if round == 1 && from == party(3) && to == party(1) {
                assert_ne!(*payload, captured);
                payload.clone_from(&captured);
            }
        });
        assert_eq!(e.party, party(1), "{scheme}: {e}");
        assert_eq!(e.code, ErrorKind::Malformed.code(), "{scheme}: {e}");
        assert!(e.message.contains("another session"), "{scheme}: {e}");
        assert_eq!(e.culprits, vec![party(3)], "{scheme}: {e}");
        nothing_half_done(&mut s, scheme);
    }
}

#[test]
fn a_failed_refresh_leaves_every_party_on_the_same_share() {
    // 2-of-2: if the parties end a failed refresh on different generations, the key is lost.
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let mut s = signers(dir.path(), 2).unwrap();
        let threshold = Threshold::new(2, 2).unwrap();
        let group = generate_key(&mut links(&mut s), &key, scheme, threshold, None).unwrap();
        let err = refresh_key(
            &mut links(&mut s),
            &key,
            Some(&mut |round, from, to, payload: &mut Vec<u8>| {
                if round == 3 && from == party(2) && to == party(1) {
                    *payload.last_mut().unwrap() ^= 0x80;
                }
            }),
        )
        .unwrap_err();
        let SessionError::Signer(e) = &err else {
            panic!("{scheme}: expected a signer's refusal, got {err:?}");
        };
        assert_eq!(e.party, party(1), "{scheme}: {e}");
        assert_eq!(e.code, ErrorKind::Inconsistent.code(), "{scheme}: {e}");
        assert_eq!(e.culprits, vec![party(2)], "{scheme}: {e}");
        let generations: Vec<u32> = s
            .iter()
            .map(|signer| signer.store().key(&key).unwrap().unwrap().generation)
            .collect();
        assert_eq!(
            generations,
            [0, 0],
            "{scheme}: a failed refresh moved some parties to a new share"
        );
        Coordinator::new()
            .sign(&mut links(&mut s), &key, &group, b"still mine")
            .unwrap_or_else(|e| panic!("{scheme}: the key no longer signs: {e}"));
    }
}
