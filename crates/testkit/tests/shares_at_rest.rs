//! Shares at rest: a share kept past a refresh signs nothing; a refreshed-away share leaves no
//! bytes in the store files; no plaintext share is ever on disk; a wrong passphrase opens and
//! writes nothing; a damaged sealed share is refused while the other signers go on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::path::PathBuf;

use tessera_coordinator::{Coordinator, SessionError, SignerLink, refresh_key};
use tessera_crypto::ErrorKind;
use tessera_signer::{Signer, SignerError};
use tessera_testkit::{
    cluster, contains, occurrences, party, plaintext_share, read_existing, snapshot, store_files,
};
use tessera_testkit::{links, passphrase, quorum, store_path};
use tessera_types::{KeyId, Scheme};
use tessera_vault::VaultError;

// ---- 3. old shares after a refresh --------------------------------------------------------

#[test]
fn a_share_from_before_a_refresh_signs_nothing() {
    for scheme in Scheme::FROST {
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
    for scheme in Scheme::FROST {
        refreshed_away_share_is_gone(scheme, true);
        refreshed_away_share_is_gone(scheme, false);
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
    for scheme in Scheme::FROST {
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
    for scheme in Scheme::FROST {
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
