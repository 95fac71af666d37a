use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn key(id: &str) -> KeyRecord {
    KeyRecord {
        key_id: KeyId::new(id).unwrap(),
        scheme: Scheme::FrostSecp256k1Tr,
        party: PartyId::new(2).unwrap(),
        threshold: Threshold::new(2, 3).unwrap(),
        generation: 0,
        group_key: vec![1, 2, 3],
        sealed_share: vec![4, 5, 6],
    }
}

pub(crate) fn booted(path: &Path) -> Store {
    let mut s = Store::open(path).unwrap();
    s.start_boot().unwrap();
    s
}

#[test]
fn files_are_private_to_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signer.sqlite");
    let mut s = booted(&path);
    s.insert_key(&key("k")).unwrap();
    s.record_issued(&KeyId::new("k").unwrap(), 0, &[[7; 32]])
        .unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?} has mode {mode:o}", entry.path());
        seen += 1;
    }
    assert!(seen >= 2, "the database and its WAL exist");
}

#[test]
fn a_nonce_is_consumed_once_and_only_in_its_boot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let k = KeyId::new("k").unwrap();
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let mut s = booted(&path);
    s.insert_key(&key("k")).unwrap();
    s.record_issued(&k, 0, &[a, b]).unwrap();

    s.consume(&k, 0, &a, &[9; 32]).unwrap();
    let again = s.consume(&k, 0, &a, &[8; 32]).unwrap_err();
    assert!(
        matches!(&again, StoreError::NonceUnavailable { reason, .. } if reason == "already consumed")
    );
    assert_eq!(
        s.nonce(&a).unwrap().unwrap().signed_digest,
        Some([9; 32]),
        "first digest kept"
    );

    let unknown = s.consume(&k, 0, &c, &[9; 32]).unwrap_err();
    assert!(
        matches!(&unknown, StoreError::NonceUnavailable { reason, .. } if reason.contains("never issued"))
    );
    let wrong_gen = s.consume(&k, 1, &b, &[9; 32]).unwrap_err();
    assert!(matches!(wrong_gen, StoreError::NonceUnavailable { .. }));
    drop(s);

    // A restart discards what the previous boot issued and did not consume.
    let mut s = booted(&path);
    assert_eq!(s.nonce(&b).unwrap().unwrap().state, NonceState::Discarded);
    assert_eq!(s.nonce(&a).unwrap().unwrap().state, NonceState::Consumed);
    let old = s.consume(&k, 0, &b, &[9; 32]).unwrap_err();
    assert!(
        matches!(&old, StoreError::NonceUnavailable { reason, .. } if reason == "already discarded")
    );
}

#[test]
fn an_issued_nonce_from_an_older_boot_is_refused_even_before_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let k = KeyId::new("k").unwrap();
    let mut first = booted(&path);
    first.insert_key(&key("k")).unwrap();
    // A second handle starts a newer boot while the first is still open.
    let mut second = booted(&path);
    second.record_issued(&k, 0, &[[5; 32]]).unwrap();
    let err = first.consume(&k, 0, &[5; 32], &[0; 32]).unwrap_err();
    assert!(matches!(err, StoreError::NonceUnavailable { .. }));
    second.consume(&k, 0, &[5; 32], &[0; 32]).unwrap();
}

#[test]
fn a_repeated_commitment_aborts_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    s.insert_key(&key("k")).unwrap();
    s.record_issued(&k, 0, &[[1; 32]]).unwrap();
    let err = s.record_issued(&k, 0, &[[2; 32], [1; 32]]).unwrap_err();
    assert!(matches!(err, StoreError::NonceCollision));
    assert!(
        s.nonce(&[2; 32]).unwrap().is_none(),
        "nothing of the batch was written"
    );
}

fn next(rec: &KeyRecord, generation: u32, tag: &[u8]) -> KeyRecord {
    KeyRecord {
        generation,
        group_key: [b"g", tag].concat(),
        sealed_share: [b"s", tag].concat(),
        ..rec.clone()
    }
}

#[test]
fn a_new_key_signs_only_once_activated() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    s.put_pending(&key("k")).unwrap();
    assert!(s.key(&k).unwrap().is_none(), "pending is not active");
    assert!(matches!(
        s.put_pending(&key("k")),
        Err(StoreError::PendingExists(_))
    ));
    assert!(matches!(
        s.activate(&k, b"other"),
        Err(StoreError::PendingMismatch(_))
    ));
    assert!(
        s.key(&k).unwrap().is_none(),
        "a refused activation changes nothing"
    );
    let done = s.activate(&k, &key("k").group_key).unwrap();
    assert_eq!(
        done,
        Activated {
            generation: 0,
            scrubbed: true
        }
    );
    assert_eq!(s.key(&k).unwrap().unwrap(), key("k"));
    assert!(s.pending(&k).unwrap().is_none());
    assert!(matches!(
        s.put_pending(&key("k")),
        Err(StoreError::KeyExists(_))
    ));
    assert!(matches!(
        s.activate(&k, b"g"),
        Err(StoreError::NoPending(_))
    ));
}

#[test]
fn a_discarded_key_generation_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    s.put_pending(&key("k")).unwrap();
    assert!(s.discard_pending(&k).unwrap());
    assert!(!s.discard_pending(&k).unwrap());
    assert!(s.key(&k).unwrap().is_none() && s.pending(&k).unwrap().is_none());
    s.put_pending(&key("k")).unwrap();
}

#[test]
fn refresh_keeps_the_old_share_until_activation_then_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    s.insert_key(&key("k")).unwrap();
    assert!(matches!(
        s.insert_key(&key("k")),
        Err(StoreError::KeyExists(_))
    ));
    s.record_issued(&k, 0, &[[1; 32]]).unwrap();

    assert!(matches!(
        s.put_pending(&next(&key("k"), 2, b"2")),
        Err(StoreError::StaleGeneration {
            expected: 1,
            found: 0,
            ..
        })
    ));
    let refreshed = next(&key("k"), 1, b"1");
    s.put_pending(&refreshed).unwrap();
    assert_eq!(
        s.key(&k).unwrap().unwrap(),
        key("k"),
        "old share active while pending"
    );
    assert_eq!(
        s.nonce(&[1; 32]).unwrap().unwrap().state,
        NonceState::Issued
    );

    assert_eq!(s.activate(&k, &refreshed.group_key).unwrap().generation, 1);
    assert_eq!(s.key(&k).unwrap().unwrap(), refreshed);
    assert_eq!(
        s.nonce(&[1; 32]).unwrap().unwrap().state,
        NonceState::Discarded
    );

    // A failed refresh: the pending result goes, the active share stays.
    s.put_pending(&next(&key("k"), 2, b"2")).unwrap();
    s.discard_pending(&k).unwrap();
    assert_eq!(s.key(&k).unwrap().unwrap(), refreshed);
    assert!(matches!(
        s.put_pending(&next(&key("nope"), 1, b"x")),
        Err(StoreError::NoSuchKey(_))
    ));
}

#[test]
fn replaced_and_discarded_shares_leave_no_bytes_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    let marker = |tag: u8| KeyRecord {
        sealed_share: vec![tag; 200],
        ..key("k")
    };
    s.put_pending(&marker(0xa1)).unwrap();
    s.activate(&k, &key("k").group_key).unwrap();
    s.put_pending(&KeyRecord {
        generation: 1,
        ..marker(0xb2)
    })
    .unwrap();
    s.activate(&k, &key("k").group_key).unwrap();
    s.put_pending(&KeyRecord {
        generation: 2,
        ..marker(0xc3)
    })
    .unwrap();
    s.discard_pending(&k).unwrap();
    let found = |tag: u8| {
        std::fs::read_dir(dir.path()).unwrap().any(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            bytes.windows(200).any(|w| w.iter().all(|b| *b == tag))
        })
    };
    assert!(found(0xb2), "the active share is there: the search works");
    assert!(!found(0xa1), "the refreshed-away share is gone");
    assert!(!found(0xc3), "the discarded share is gone");
}

#[test]
fn a_store_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

/// The v1 store in `golden/` must keep opening with every later build.
#[test]
fn golden_v1_store_still_opens() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/store-v1.sqlite");
    if std::env::var_os("TESSERA_BLESS").is_some() {
        let _ = std::fs::remove_file(&golden);
        let mut s = booted(&golden);
        s.insert_key(&key("golden")).unwrap();
        s.set_meta("vault.verifier", b"verifier").unwrap();
        let k = KeyId::new("golden").unwrap();
        s.record_issued(&k, 0, &[[1; 32], [2; 32]]).unwrap();
        s.consume(&k, 0, &[1; 32], &[3; 32]).unwrap();
        s.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
            .unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("store.sqlite");
    std::fs::copy(&golden, &copy).unwrap();
    let mut s = booted(&copy);
    let rec = s.key(&KeyId::new("golden").unwrap()).unwrap().unwrap();
    assert_eq!(rec, key("golden"));
    assert_eq!(
        s.meta("vault.verifier").unwrap().as_deref(),
        Some(&b"verifier"[..])
    );
    assert_eq!(
        s.nonce(&[1; 32]).unwrap().unwrap().state,
        NonceState::Consumed
    );
    assert_eq!(
        s.nonce(&[2; 32]).unwrap().unwrap().state,
        NonceState::Discarded
    );
    assert_eq!(s.nonces().unwrap().len(), 2);
    // Migrated to the current schema: the two-phase tables work on it.
    let k = KeyId::new("golden").unwrap();
    s.put_pending(&KeyRecord {
        generation: 1,
        ..key("golden")
    })
    .unwrap();
    assert_eq!(
        s.activate(&k, &key("golden").group_key).unwrap().generation,
        1
    );
}

pub(crate) fn sign_request(id: &str, jti: &str, token: &str) -> RequestRecord {
    RequestRecord {
        request_id: id.into(),
        client: "trader".into(),
        jti: jti.into(),
        kind: RequestKind::Sign,
        key_id: Some(KeyId::new("k").unwrap()),
        scheme: None,
        message: Some(b"pay bob".to_vec()),
        method: "POST".into(),
        path: "/v1/wallets/k/sign".into(),
        body: b"{}".to_vec(),
        token: token.into(),
        issued_at: 1,
        expires_at: 61,
        registered_at: 0,
        rounds: 0,
        signature: None,
        ruling: Ruling::unruled(),
    }
}

#[test]
fn a_token_registers_once_and_its_jti_never_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut s = booted(&path);
    let r = sign_request("r1", "j1", "token-a");
    assert_eq!(s.register_request(&r).unwrap(), Registration::New);
    assert_eq!(s.register_request(&r).unwrap(), Registration::Again);
    let replay = sign_request("r1", "j1", "token-b");
    assert_eq!(
        s.register_request(&replay).unwrap_err().code(),
        "replayed_request"
    );
    drop(s);
    let mut s = booted(&path);
    assert_eq!(
        s.register_request(&replay).unwrap_err().code(),
        "replayed_request"
    );
    let stored = s.request("r1").unwrap().unwrap();
    assert_eq!(stored.token, "token-a");
    assert_eq!(stored.message.as_deref(), Some(&b"pay bob"[..]));
}

fn round(request_id: &str, max_rounds: u32) -> RoundOf<'_> {
    RoundOf {
        request_id,
        kind: RequestKind::Sign,
        max_rounds,
    }
}

#[test]
fn a_signing_round_and_its_nonce_are_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    s.insert_key(&key("k")).unwrap();
    s.register_request(&sign_request("r1", "j1", "t")).unwrap();
    s.record_issued(&k, 0, &[[1; 32], [2; 32], [3; 32]])
        .unwrap();

    // A nonce that cannot be consumed opens no round.
    let e = s
        .consume_for_request(round("r1", 2), &k, 0, &[9; 32], &[0; 32])
        .unwrap_err();
    assert_eq!(e.code(), "nonce_unavailable");
    assert_eq!(s.request("r1").unwrap().unwrap().rounds, 0);

    assert_eq!(
        s.consume_for_request(round("r1", 2), &k, 0, &[1; 32], &[0; 32])
            .unwrap(),
        1
    );
    assert_eq!(
        s.consume_for_request(round("r1", 2), &k, 0, &[2; 32], &[0; 32])
            .unwrap(),
        2
    );
    // Rounds exhausted: the nonce stays issued.
    let e = s
        .consume_for_request(round("r1", 2), &k, 0, &[3; 32], &[0; 32])
        .unwrap_err();
    assert_eq!(e.code(), "request_closed");
    assert_eq!(
        s.nonce(&[3; 32]).unwrap().unwrap().state,
        NonceState::Issued
    );

    // Unknown request, wrong wallet.
    let e = s
        .consume_for_request(round("nope", 9), &k, 0, &[3; 32], &[0; 32])
        .unwrap_err();
    assert_eq!(e.code(), "unknown_request");
    s.register_request(&sign_request("r2", "j2", "t2")).unwrap();
    let other = KeyId::new("other").unwrap();
    let e = s
        .open_round("r2", RequestKind::Sign, &other, 9)
        .unwrap_err();
    assert_eq!(e.code(), "request_closed");
    let e = s
        .open_round("r2", RequestKind::CreateWallet, &k, 9)
        .unwrap_err();
    assert_eq!(e.code(), "request_closed");
}

#[test]
fn a_complete_request_gives_no_more_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = booted(&dir.path().join("s.sqlite"));
    let k = KeyId::new("k").unwrap();
    s.register_request(&sign_request("r1", "j1", "t")).unwrap();
    s.complete_request("r1", b"sig-1").unwrap();
    s.complete_request("r1", b"sig-2").unwrap();
    assert_eq!(
        s.request("r1").unwrap().unwrap().signature.as_deref(),
        Some(&b"sig-1"[..])
    );
    let e = s.open_round("r1", RequestKind::Sign, &k, 9).unwrap_err();
    assert_eq!(e.code(), "request_closed");
    assert_eq!(
        s.complete_request("nope", b"x").unwrap_err().code(),
        "unknown_request"
    );
}

fn asset(symbol: &str, contract: &str, decimals: u8) -> AssetRecord {
    AssetRecord {
        chain: "ethereum".into(),
        symbol: symbol.into(),
        contract: contract.into(),
        decimals,
    }
}

#[test]
fn an_asset_symbol_and_contract_are_registered_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut s = booted(&path);
    let mut add = sign_request("a1", "j1", "t1");
    add.kind = RequestKind::AddAsset;
    add.key_id = None;
    s.register_request(&add).unwrap();
    let usdc = asset("USDC", "0x00000000000000000000000000000000000000aa", 6);
    assert_eq!(s.add_asset(&usdc, "a1").unwrap(), AssetAdded::New);
    assert_eq!(s.add_asset(&usdc, "a1").unwrap(), AssetAdded::Same);
    // Another contract or decimals under the symbol, or the contract under another symbol.
    for conflict in [
        asset("USDC", "0x00000000000000000000000000000000000000bb", 6),
        asset("USDC", "0x00000000000000000000000000000000000000aa", 18),
        asset("USDT", "0x00000000000000000000000000000000000000aa", 6),
    ] {
        assert_eq!(
            s.add_asset(&conflict, "a1").unwrap_err().code(),
            "asset_exists"
        );
    }
    drop(s);
    let s = booted(&path);
    assert_eq!(s.asset("ethereum", "USDC").unwrap(), Some(usdc.clone()));
    assert_eq!(s.asset("ethereum", "USDT").unwrap(), None);
    assert_eq!(s.assets("ethereum").unwrap(), vec![usdc]);
    assert_eq!(
        s.request("a1").unwrap().unwrap().kind,
        RequestKind::AddAsset
    );
}

fn bound(hash: u8, request: &str, nonce: u64, max_fee: u128) -> EthTxRecord {
    EthTxRecord {
        signing_hash: [hash; 32],
        request_id: request.into(),
        key_id: KeyId::new("k").unwrap(),
        nonce,
        max_fee,
        priority_fee: 1,
        unsigned_tx: vec![2, hash],
        signature: None,
    }
}

#[test]
fn every_transaction_of_a_transfer_request_has_the_same_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut s = booted(&path);
    for (id, jti) in [("r1", "j1"), ("r2", "j2")] {
        let mut r = sign_request(id, jti, jti);
        r.kind = RequestKind::Transfer;
        r.message = None;
        s.register_request(&r).unwrap();
    }
    assert_eq!(s.bind_eth_tx(&bound(1, "r1", 7, 100)).unwrap().nonce, 7);
    // The same transaction again is found, not bound twice.
    assert_eq!(
        s.bind_eth_tx(&bound(1, "r1", 7, 100)).unwrap(),
        bound(1, "r1", 7, 100)
    );
    // A replacement with the same nonce is bound; another nonce is refused.
    s.bind_eth_tx(&bound(2, "r1", 7, 200)).unwrap();
    assert_eq!(
        s.bind_eth_tx(&bound(3, "r1", 8, 300)).unwrap_err().code(),
        "wrong_nonce"
    );
    let mut other_wallet = bound(4, "r1", 7, 300);
    other_wallet.key_id = KeyId::new("other").unwrap();
    assert_eq!(
        s.bind_eth_tx(&other_wallet).unwrap_err().code(),
        "wrong_nonce"
    );
    // One transaction belongs to one request.
    assert_eq!(
        s.bind_eth_tx(&bound(1, "r2", 7, 100)).unwrap_err().code(),
        "wrong_nonce"
    );
    s.sign_eth_tx(&[2; 32], b"sig-a").unwrap();
    s.sign_eth_tx(&[2; 32], b"sig-b").unwrap();
    drop(s);
    let s = booted(&path);
    let txs = s.eth_txs("r1").unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[1].signature.as_deref(), Some(&b"sig-a"[..]));
    assert_eq!(txs[1].max_fee, 200);
    assert!(s.eth_txs("r2").unwrap().is_empty());
}

#[test]
fn a_v3_store_migrates_its_requests_to_v4() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for ddl in [crate::schema::V1, crate::schema::V2, crate::schema::V3] {
            conn.execute_batch(ddl).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute(
            "INSERT INTO requests (request_id, client, jti, kind, key_id, message, method, path,
                                   body, token, issued_at, expires_at, registered_at)
             VALUES ('r1', 'trader', 'j1', 'sign', 'k', x'01', 'POST', '/p', x'7b7d', 't', 1, 2, 3)",
            [],
        )
        .unwrap();
    }
    let s = booted(&path);
    let r = s.request("r1").unwrap().unwrap();
    assert_eq!(r.key_id, Some(KeyId::new("k").unwrap()));
    assert_eq!(r.message.as_deref(), Some(&[1u8][..]));
    // A request with no wallet is only an asset registration.
    let mut bad = sign_request("r2", "j2", "t2");
    bad.key_id = None;
    let mut s = s;
    assert!(s.register_request(&bad).is_err());
}
