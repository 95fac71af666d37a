//! Attacks on the signing paths, through real signers (own SQLite store and vault each):
//! a signer that returns a well-formed share of another message, DKG messages corrupted or
//! replayed from another session, old shares kept past a refresh, replayed and foreign nonces,
//! a wrong passphrase and a damaged sealed share. Each test asserts the error's kind or code and
//! whom it blames, and, where it matters, that nothing was left half-done on disk.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tessera_coordinator::{
    Coordinator, LinkError, SessionError, SignerLink, Tamper, generate_key, refresh_key,
};
use tessera_crypto::protocol::{Inbox, Session, SessionId};
use tessera_crypto::{Commitment, ErrorKind, GroupKey, SignatureShare, SigningPackage};
use tessera_signer::{Progress, Signer, SignerError};
use tessera_store::{NonceState, Store};
use tessera_testkit::{links, passphrase, quorum, signers, store_path};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};
use tessera_vault::{Kek, PassphraseKek, VaultError};

// ---- helpers ------------------------------------------------------------------------------

fn party(p: u16) -> PartyId {
    PartyId::new(p).unwrap()
}

fn two_of_three() -> Threshold {
    Threshold::new(2, 3).unwrap()
}

/// Three signers under `dir` holding a 2-of-3 key `key`.
fn cluster(dir: &Path, scheme: Scheme, key: &KeyId) -> (Vec<Signer>, GroupKey) {
    let mut s = signers(dir, 3).unwrap();
    let group = generate_key(&mut links(&mut s), key, scheme, two_of_three(), None)
        .unwrap_or_else(|e| panic!("{scheme} dkg: {e}"));
    (s, group)
}

/// The files SQLite keeps for the store at `db`: the database, its WAL and shared memory.
fn store_files(db: &Path) -> Vec<PathBuf> {
    let name = db.file_name().unwrap().to_str().unwrap();
    [String::new(), "-wal".into(), "-shm".into()]
        .iter()
        .map(|suffix| db.with_file_name(format!("{name}{suffix}")))
        .collect()
}

/// The contents of those of `files` that exist, by path.
fn read_existing(files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<u8>> {
    files
        .iter()
        .filter(|f| f.exists())
        .map(|f| (f.clone(), std::fs::read(f).unwrap()))
        .collect()
}

/// Every file in `dir`, by name, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Where the least significant byte of a scalar that ends a frost message sits: scalars are
/// 32 bytes, little-endian for Ed25519 and big-endian for secp256k1. Flipping its low bit
/// keeps the scalar canonical, so the message still decodes and only its value is wrong.
fn scalar_lsb_at_end(scheme: Scheme, payload_len: usize) -> usize {
    match scheme {
        Scheme::FrostEd25519 => payload_len - 32,
        Scheme::FrostSecp256k1Tr => payload_len - 1,
    }
}

/// The opened (plaintext) share of `signer` for `key`, exactly as the vault holds it.
fn plaintext_share(store: &Store, key: &KeyId) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let rec = store.key(key).unwrap().unwrap();
    let verifier = store.meta("vault.verifier").unwrap().unwrap();
    let kek = PassphraseKek::unlock(&passphrase(), &verifier).unwrap();
    let context = format!(
        "tessera/share/v1|{key}|{}|{}",
        rec.party.get(),
        rec.generation
    );
    let plain = kek.open(context.as_bytes(), &rec.sealed_share).unwrap();
    (plain.expose().to_vec(), rec.sealed_share, rec.group_key)
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
    for scheme in Scheme::ALL {
        for (honest, cheater) in [(1, 2), (2, 1), (3, 1), (1, 3)] {
            blamed_signing(scheme, &[honest], &[cheater]);
        }
    }
}

#[test]
fn every_cheating_signer_of_a_quorum_is_blamed() {
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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

// ---- 3. old shares after a refresh --------------------------------------------------------

#[test]
fn a_share_from_before_a_refresh_signs_nothing() {
    for scheme in Scheme::ALL {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (s, old_group) = cluster(dir.path(), scheme, &key);
        drop(s);

        // An attacker's copy of party 1's store from before the refresh.
        let stolen = tempfile::tempdir().unwrap();
        let live = store_path(dir.path(), 1);
        for f in store_files(&live) {
            if f.exists() {
                std::fs::copy(&f, stolen.path().join(f.file_name().unwrap())).unwrap();
            }
        }
        let stolen_db = stolen.path().join(live.file_name().unwrap());

        let mut s: Vec<Signer> = (1..=3)
            .map(|p| Signer::open(&store_path(dir.path(), p), &passphrase()).unwrap())
            .collect();
        let new_group = refresh_key(&mut links(&mut s), &key, None).unwrap();
        assert_eq!(new_group.public_key(), old_group.public_key());

        let mut old1 = Signer::open(&stolen_db, &passphrase()).unwrap();
        assert_eq!(old1.group_key(&key).unwrap(), old_group);

        for (group, culprit) in [(&new_group, 1), (&old_group, 2)] {
            // Under the new key party 1's old share is the bad one; under the old key it is
            // party 2's new share. Either way nothing signs.
            let mut q: Vec<&mut dyn SignerLink> = vec![&mut old1, &mut s[1]];
            let err = Coordinator::new()
                .sign(&mut q, &key, group, b"old and new")
                .unwrap_err();
            let SessionError::Crypto(e) = &err else {
                panic!("{scheme}: expected an aggregation failure, got {err:?}");
            };
            assert_eq!(e.kind, ErrorKind::InvalidSignatureShare, "{scheme}: {e}");
            assert_eq!(e.culprits, vec![party(culprit)], "{scheme}: {e}");
        }
        // The refreshed parties still sign.
        Coordinator::new()
            .sign(&mut quorum(&mut s, &[1, 2]), &key, &new_group, b"new only")
            .unwrap();
    }
}

/// The sealed share a refresh replaced, searched for in the live store's files while the
/// signer runs and after it stops. `restart` stops the signers between the key generation
/// and the refresh (the old share then lies in the database file; otherwise in the WAL).
fn refreshed_away_share_is_gone(scheme: Scheme, restart: bool) {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyId::new("k").unwrap();
    let (mut s, _) = cluster(dir.path(), scheme, &key);
    if restart {
        drop(s);
        s = (1..=3)
            .map(|p| Signer::open(&store_path(dir.path(), p), &passphrase()).unwrap())
            .collect();
    }
    let old_sealed = s[0].store().key(&key).unwrap().unwrap().sealed_share;
    let files = store_files(&store_path(dir.path(), 1));
    assert!(
        read_existing(&files)
            .values()
            .any(|bytes| contains(bytes, &old_sealed)),
        "{scheme}: the sealed share is not in the store files, so the search is broken"
    );
    let group = refresh_key(&mut links(&mut s), &key, None).unwrap();
    Coordinator::new()
        .sign(&mut quorum(&mut s, &[1, 2]), &key, &group, b"after refresh")
        .unwrap();
    for running in [true, false] {
        if !running {
            s.clear();
        }
        for (path, bytes) in read_existing(&files) {
            assert!(
                !contains(&bytes, &old_sealed),
                "{scheme} (restart before refresh: {restart}, running: {running}): the \
                 pre-refresh sealed share is still in `{}`",
                path.display()
            );
        }
    }
}

#[test]
fn a_refreshed_away_sealed_share_is_gone_from_the_store_files() {
    for scheme in Scheme::ALL {
        refreshed_away_share_is_gone(scheme, true);
        refreshed_away_share_is_gone(scheme, false);
    }
}

#[test]
fn a_failed_refresh_leaves_every_party_on_the_same_share() {
    // 2-of-2: if the parties end a failed refresh on different generations, the key is lost.
    for scheme in Scheme::ALL {
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

// ---- 4. no plaintext share on disk --------------------------------------------------------

/// Whether a 16-byte window of a plaintext share is secret material: not found in the public
/// bytes, and not structure such as an identifier's run of zeros followed by one byte (which
/// SQLite's own files contain by chance). Random bytes have fewer than 8 distinct values in a
/// 16-byte window with probability below 10^-11.
fn is_secret_window(window: &[u8], public: &[u8]) -> bool {
    let distinct: std::collections::BTreeSet<u8> = window.iter().copied().collect();
    distinct.len() >= 8 && !contains(public, window)
}

/// Asserts that no secret 16-byte window of `plain` appears in any of `files`, and that
/// `sealed` does (so the search itself works).
fn assert_not_on_disk(what: &str, files: &[PathBuf], plain: &[u8], sealed: &[u8], public: &[u8]) {
    let on_disk = read_existing(files);
    assert!(!on_disk.is_empty(), "{what}: no store files");
    assert!(
        on_disk.values().any(|bytes| contains(bytes, sealed)),
        "{what}: the sealed share is not in the store files, so the search is broken"
    );
    let mut secret_windows = 0;
    for window in plain.windows(16) {
        if !is_secret_window(window, public) {
            continue;
        }
        secret_windows += 1;
        for (path, bytes) in &on_disk {
            assert!(
                !contains(bytes, window),
                "{what}: plaintext share bytes {} found in `{}`",
                hex::encode(window),
                path.display()
            );
        }
    }
    // The signing share is 32 bytes: at least 17 windows fall inside it.
    assert!(
        secret_windows >= 17,
        "{what}: only {secret_windows} windows"
    );
}

#[test]
fn share_files_hold_no_plaintext_share() {
    for scheme in Scheme::ALL {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (mut s, group) = cluster(dir.path(), scheme, &key);
        let mut before = Vec::new();
        for signer in &s {
            before.push(plaintext_share(signer.store(), &key));
        }
        Coordinator::new()
            .sign(&mut quorum(&mut s, &[1, 2]), &key, &group, b"one")
            .unwrap();
        Coordinator::new()
            .sign(&mut quorum(&mut s, &[2, 3]), &key, &group, b"two")
            .unwrap();
        let refreshed = refresh_key(&mut links(&mut s), &key, None).unwrap();
        Coordinator::new()
            .sign(&mut quorum(&mut s, &[1, 3]), &key, &refreshed, b"three")
            .unwrap();

        let mut after = Vec::new();
        for signer in &s {
            let (plain, sealed, public) = plaintext_share(signer.store(), &key);
            assert_ne!(plain, before[after.len()].0, "refresh changes the share");
            after.push((plain, sealed, public));
        }
        // Checked while the signers run, then after they stop and SQLite checkpoints.
        for running in [true, false] {
            if !running {
                s.clear();
            }
            for (i, (plain, sealed, public)) in after.iter().enumerate() {
                let p = u16::try_from(i + 1).unwrap();
                let files = store_files(&store_path(dir.path(), p));
                let what = format!("{scheme} party {p} (running: {running})");
                assert_not_on_disk(&what, &files, plain, sealed, public);
                // Nor the share from before the refresh, public parts aside.
                let (old_plain, _, old_public) = &before[i];
                let public_either = [public.as_slice(), old_public.as_slice()].concat();
                let on_disk = read_existing(&files);
                for window in old_plain.windows(16) {
                    if !is_secret_window(window, &public_either) {
                        continue;
                    }
                    for (path, bytes) in &on_disk {
                        assert!(
                            !contains(bytes, window),
                            "{what}: pre-refresh plaintext share bytes {} in `{}`",
                            hex::encode(window),
                            path.display()
                        );
                    }
                }
            }
        }
    }
}

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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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
    for scheme in Scheme::ALL {
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

// ---- 6. the vault -------------------------------------------------------------------------

#[test]
fn a_wrong_passphrase_opens_nothing_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyId::new("k").unwrap();
    let (s, _) = cluster(dir.path(), Scheme::FrostEd25519, &key);
    drop(s);
    let before = snapshot(dir.path());
    let wrong = tessera_crypto::SecretBytes::new(b"tessera test passphrasE".to_vec());
    let err = Signer::open(&store_path(dir.path(), 1), &wrong).unwrap_err();
    assert!(
        matches!(err, SignerError::Vault(VaultError::WrongPassphrase)),
        "{err:?}"
    );
    assert_eq!(err.code(), "wrong_passphrase");
    let after = snapshot(dir.path());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &before {
        assert!(after[name] == *bytes, "`{name}` changed");
    }
}

#[test]
fn a_damaged_sealed_share_is_refused_and_the_others_still_sign() {
    for scheme in Scheme::ALL {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyId::new("k").unwrap();
        let (s, group) = cluster(dir.path(), scheme, &key);
        let sealed = s[0].store().key(&key).unwrap().unwrap().sealed_share;
        drop(s);

        // Stopped cleanly, the store is one file; flip the last byte (the AEAD tag) of the
        // sealed share where it lies in it.
        let db = store_path(dir.path(), 1);
        assert!(!store_files(&db)[1].exists(), "WAL left after shutdown");
        let mut bytes = std::fs::read(&db).unwrap();
        let at = occurrences(&bytes, &sealed);
        assert_eq!(
            at.len(),
            1,
            "{scheme}: sealed share found {} times",
            at.len()
        );
        bytes[at[0] + sealed.len() - 1] ^= 1;
        std::fs::write(&db, &bytes).unwrap();

        let mut s: Vec<Signer> = (1..=3)
            .map(|p| Signer::open(&store_path(dir.path(), p), &passphrase()).unwrap())
            .collect();
        let damaged = s[0].store().key(&key).unwrap().unwrap().sealed_share;
        assert_ne!(
            damaged, sealed,
            "{scheme}: the edit did not reach the store"
        );
        assert_eq!(s[0].group_key(&key).unwrap(), group);

        let err = s[0].commit(&key, 1).unwrap_err();
        assert!(
            matches!(err, SignerError::Vault(VaultError::Corrupt)),
            "{scheme}: {err:?}"
        );
        assert_eq!(err.code(), "corrupt_blob");
        assert_eq!(s[0].pooled_nonces(), 0);

        let err = Coordinator::new()
            .sign(&mut quorum(&mut s, &[1, 2]), &key, &group, b"with party 1")
            .unwrap_err();
        let SessionError::Signer(e) = &err else {
            panic!("{scheme}: expected party 1's refusal, got {err:?}");
        };
        assert_eq!((e.party, e.code.as_str()), (party(1), "corrupt_blob"));
        assert!(e.culprits.is_empty());

        let err = refresh_key(&mut links(&mut s), &key, None).unwrap_err();
        let SessionError::Signer(e) = &err else {
            panic!("{scheme}: expected party 1's refusal, got {err:?}");
        };
        assert_eq!((e.party, e.code.as_str()), (party(1), "corrupt_blob"));

        Coordinator::new()
            .sign(
                &mut quorum(&mut s, &[2, 3]),
                &key,
                &group,
                b"without party 1",
            )
            .unwrap();
    }
}
