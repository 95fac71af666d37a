//! Nonces a signer must refuse: replayed, consumed for another message, issued by another
//! process, issued before a restart, issued for another key; and packages that do not ask this
//! signer to sign. Each refusal has a stable code and leaves no share.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use tessera_coordinator::generate_key;
use tessera_crypto::{Commitment, SigningPackage};
use tessera_signer::Signer;
use tessera_store::NonceState;
use tessera_testkit::{cluster, party, two_of_three};
use tessera_testkit::{links, passphrase, store_path};
use tessera_types::{KeyId, Scheme};

// ---- 5. nonces the signer must refuse -----------------------------------------------------

/// Consumed nonces in `signer`'s ledger.
fn consumed(signer: &Signer) -> usize {
    signer
        .store()
        .nonces()
        .unwrap()
        .iter()
        .filter(|n| n.state == NonceState::Consumed)
        .count()
}

/// `signer` refuses `package` with `code`, and records no new signature.
fn refuses(signer: &mut Signer, key: &KeyId, package: &SigningPackage, code: &str, case: &str) {
    let spent = consumed(signer);
    let err = signer.sign(key, package).unwrap_err();
    assert_eq!(err.code(), code, "{case}: {err}");
    assert_eq!(
        consumed(signer),
        spent,
        "{case}: a refused nonce was consumed"
    );
}

fn one(signer: &mut Signer, key: &KeyId) -> Commitment {
    signer.commit(key, 1).unwrap().pop().unwrap()
}

#[test]
fn a_replayed_package_is_refused() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (mut s, _) = cluster(dir.path(), scheme, &key);
        let c1 = one(&mut s[0], &key);
        let c2 = one(&mut s[1], &key);
        let package = SigningPackage::new(b"once", vec![c1, c2]).unwrap();
        s[0].sign(&key, &package).unwrap();
        let case = format!("{scheme} replay");
        refuses(&mut s[0], &key, &package, "nonce_unavailable", &case);
    }
}

#[test]
fn a_consumed_nonce_is_refused_for_another_message() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (mut s, _) = cluster(dir.path(), scheme, &key);
        let c1 = one(&mut s[0], &key);
        let c2 = one(&mut s[1], &key);
        let first = SigningPackage::new(b"pay bob 1", vec![c1.clone(), c2.clone()]).unwrap();
        s[0].sign(&key, &first).unwrap();
        // Two messages under one nonce would give away the share.
        let second = SigningPackage::new(b"pay mallory 1000", vec![c1, c2]).unwrap();
        let case = format!("{scheme} same nonce, other message");
        refuses(&mut s[0], &key, &second, "nonce_unavailable", &case);
    }
}

#[test]
fn a_nonce_issued_by_another_signer_process_is_refused() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (mut s, _) = cluster(dir.path(), scheme, &key);

        // Another process of the same signer, on the same store, issues a commitment.
        let mut twin = Signer::open(&store_path(dir.path(), 1), &passphrase()).unwrap();
        let theirs = one(&mut twin, &key);
        let c2 = one(&mut s[1], &key);
        let package = SigningPackage::new(b"twin", vec![theirs, c2]).unwrap();
        let case = format!("{scheme} twin's nonce");
        refuses(&mut s[0], &key, &package, "nonce_unavailable", &case);
        drop(twin);

        // Party 2's commitment, relabelled as party 1's.
        let mut bytes = one(&mut s[1], &key).to_bytes().unwrap();
        bytes[5..7].copy_from_slice(&1u16.to_be_bytes());
        let relabelled = Commitment::from_bytes(&bytes).unwrap();
        assert_eq!(relabelled.party(), party(1));
        let c3 = one(&mut s[2], &key);
        let package = SigningPackage::new(b"relabelled", vec![relabelled, c3]).unwrap();
        let case = format!("{scheme} party 2's nonce");
        refuses(&mut s[0], &key, &package, "nonce_unavailable", &case);
    }
}

#[test]
fn a_nonce_issued_before_a_restart_is_refused() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (mut s, _) = cluster(dir.path(), scheme, &key);
        let c1 = one(&mut s[0], &key);
        let id = c1.id().unwrap();
        s[0] = Signer::open(&store_path(dir.path(), 1), &passphrase()).unwrap();
        assert_eq!(
            s[0].store().nonce(&id.0).unwrap().unwrap().state,
            NonceState::Discarded
        );
        let c2 = one(&mut s[1], &key);
        let package = SigningPackage::new(b"after restart", vec![c1, c2]).unwrap();
        let case = format!("{scheme} restart");
        refuses(&mut s[0], &key, &package, "nonce_unavailable", &case);
    }
}

#[test]
fn a_nonce_issued_for_another_key_is_refused_and_burnt() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let other = KeyId::new("other").unwrap();
        let (mut s, _) = cluster(dir.path(), scheme, &key);
        generate_key(&mut links(&mut s), &other, scheme, two_of_three(), None).unwrap();

        let for_other = one(&mut s[0], &other);
        let c2 = one(&mut s[1], &key);
        let package = SigningPackage::new(b"cross key", vec![for_other.clone(), c2]).unwrap();
        let case = format!("{scheme} other key's nonce");
        refuses(&mut s[0], &key, &package, "nonce_unavailable", &case);

        // The secret nonce left the pool with the refusal: it cannot sign for its own key
        // either.
        let c2 = one(&mut s[1], &other);
        let package = SigningPackage::new(b"own key", vec![for_other, c2]).unwrap();
        let case = format!("{scheme} nonce after a cross-key attempt");
        refuses(&mut s[0], &other, &package, "nonce_unavailable", &case);
    }
}

#[test]
fn a_package_without_the_signer_is_refused() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (mut s, _) = cluster(dir.path(), scheme, &key);
        let _unused = one(&mut s[0], &key);
        let c2 = one(&mut s[1], &key);
        let c3 = one(&mut s[2], &key);
        let package = SigningPackage::new(b"not you", vec![c2, c3]).unwrap();
        let case = format!("{scheme} not a signer");
        refuses(&mut s[0], &key, &package, "not_a_signer", &case);
        assert_eq!(s[0].pooled_nonces(), 1, "{case}: pool untouched");
    }
}

#[test]
fn a_package_with_too_few_signers_is_refused_before_the_nonce_is_touched() {
    for scheme in Scheme::FROST {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (mut s, _) = cluster(dir.path(), scheme, &key);
        let c1 = one(&mut s[0], &key);
        let package = SigningPackage::new(b"alone", vec![c1.clone()]).unwrap();
        let err = s[0].sign(&key, &package).unwrap_err();
        assert_eq!(err.code(), "bad_signing_package", "{scheme}: {err}");
        assert_eq!(
            s[0].pooled_nonces(),
            1,
            "{scheme}: the nonce stays in the pool"
        );
        let id = c1.id().unwrap();
        let state = s[0].store().nonce(&id.0).unwrap().unwrap().state;
        assert_eq!(
            state,
            NonceState::Issued,
            "{scheme}: the nonce is not burnt"
        );
    }
}
