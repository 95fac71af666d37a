//! `tessera dev` end to end, through the HTTP API contract, with requests signed by an
//! independent JWT library: wallets for both schemes, raw signing checked by independent
//! verifiers, idempotency, replay and role refusals, a signer killed mid-service, a restart from
//! the same data directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Dev, check, create_wallet, send, sign, token, verify_independently};
use serde_json::{Value, json};

fn create_two_of_three(dev: &Dev, name: &str, scheme: &str) -> Value {
    let w = create_wallet(dev, name, scheme);
    assert_eq!(
        (w["threshold"].as_u64(), w["signers"].as_u64()),
        (Some(2), Some(3))
    );
    w
}

fn signed(dev: &Dev, wallet: &Value, payload: &[u8], key: &str) -> Value {
    let (status, r) = sign(dev, wallet, payload, key);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "signed");
    check(wallet, payload, &r);
    r
}

#[test]
fn dev_cluster_serves_the_contract_survives_a_dead_signer_and_restarts_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);

    // dev.json names every client, with absolute PKCS#8 PEM key files.
    let clients = dev.dev_json["clients"].as_array().unwrap();
    for (id, role) in [
        ("trader", "trader"),
        ("approver-1", "approver"),
        ("approver-3", "approver"),
        ("admin-1", "admin"),
        ("admin-3", "admin"),
    ] {
        let c = clients.iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(c["role"], role);
        let path = std::path::Path::new(c["key_file"].as_str().unwrap());
        assert!(path.is_absolute());
        assert!(
            std::fs::read_to_string(path)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
    }
    // Each signer is its own process, with its pid on file.
    let pids: Vec<i32> = (1..=3).map(|n| dev.signer_pid(n)).collect();
    assert!(
        pids.iter()
            .all(|p| *p > 0 && *p != i32::try_from(dev.child.id()).unwrap())
    );

    // Open endpoints.
    let (s, h) = send(&dev.api, "GET", "/healthz", None, b"");
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    let (s, doc) = send(&dev.api, "GET", "/openapi.json", None, b"");
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in ["/v1/wallets", "/v1/wallets/{id}/sign", "/v1/requests/{id}"] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }

    let ed = create_two_of_three(&dev, "hot-ed", "frost-ed25519");
    let tr = create_two_of_three(&dev, "hot-tr", "frost-secp256k1-tr");

    let first = signed(&dev, &ed, b"settle batch 7", "ed-1");
    signed(&dev, &tr, &[7u8; 32], "tr-1");

    // Same idempotency key and body: the same result, nothing new signed.
    let again = signed(&dev, &ed, b"settle batch 7", "ed-1");
    assert_eq!(again["request_id"], first["request_id"]);
    assert_eq!(again["signature_hex"], first["signature_hex"]);
    // Same key, another body: 409.
    let (status, err) = sign(&dev, &ed, b"settle batch 8", "ed-1");
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "idempotency_conflict");

    // The request, its status and its signature.
    let (status, req) = dev.call(
        "trader",
        "GET",
        &format!("/v1/requests/{}", first["request_id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 200, "{req}");
    assert_eq!(req["status"], "signed");
    assert_eq!(req["signature_hex"], first["signature_hex"]);

    // BIP-340 signs 32 bytes only.
    let (status, err) = sign(&dev, &tr, b"short", "tr-short");
    assert_eq!(status, 400, "{err}");

    // Auth: none, replayed, wrong role, foreign key.
    let (status, err) = send(&dev.api, "GET", "/v1/wallets", None, b"");
    assert_eq!(status, 401);
    assert!(err["error"]["code"].is_string() && err["error"]["message"].is_string());
    let t = token(
        &dev.key("trader"),
        "trader",
        "GET",
        "/v1/wallets",
        b"",
        common::now(),
    );
    assert_eq!(send(&dev.api, "GET", "/v1/wallets", Some(&t), b"").0, 200);
    let (status, err) = send(&dev.api, "GET", "/v1/wallets", Some(&t), b"");
    assert_eq!(status, 401, "a second use of a token is refused: {err}");
    let (status, _) = dev.call(
        "trader",
        "POST",
        "/v1/wallets",
        Some(&json!({"name": "x", "scheme": "frost-ed25519"})),
    );
    assert_eq!(status, 403);
    let (status, _) = {
        let path = format!("/v1/wallets/{}/sign", ed["id"].as_str().unwrap());
        dev.call(
            "approver-1",
            "POST",
            &path,
            Some(&json!({"payload_hex": "00", "idempotency_key": "a"})),
        )
    };
    assert_eq!(status, 403);
    let forged = token(
        &dev.key("admin-1"),
        "trader",
        "GET",
        "/v1/wallets",
        b"",
        common::now(),
    );
    assert_eq!(
        send(&dev.api, "GET", "/v1/wallets", Some(&forged), b"").0,
        401
    );

    // Kill a signer: signing goes on with the other two, and `dev` restarts it.
    let victim = dev.signer_pid(1);
    common::signal(u32::try_from(victim).unwrap(), 9);
    for i in 0..4 {
        signed(
            &dev,
            &ed,
            format!("while signer 1 is down {i}").as_bytes(),
            &format!("down-{i}"),
        );
        signed(&dev, &tr, &[i; 32], &format!("down-tr-{i}"));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while dev.signer_pid(1) == victim {
        assert!(Instant::now() < deadline, "dev did not restart signer 1");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (s, metrics) = send(&dev.api, "GET", "/metrics", None, b"");
    assert_eq!(s, 200);
    let text = metrics.as_str().unwrap();
    assert!(text.contains("tessera_signatures_total"), "{text}");

    // Stop cleanly, start again from the same directory: the wallets and requests are there.
    let status = dev.stop();
    assert!(status.success(), "dev exited with {status}");
    for n in 1..=3 {
        assert!(!tmp.path().join(format!("signer-{n}/pid")).exists());
    }
    let dev = Dev::start(tmp.path(), &[]);
    let (status, list) = dev.call("admin-2", "GET", "/v1/wallets", None);
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&ed["id"].as_str().unwrap()) && ids.contains(&tr["id"].as_str().unwrap()));
    let after = signed(&dev, &ed, b"settle batch 7", "ed-1");
    assert_eq!(
        after["signature_hex"], first["signature_hex"],
        "idempotency survives restarts"
    );
    signed(&dev, &ed, b"after restart", "restart-1");
    signed(&dev, &tr, &[9u8; 32], "restart-tr-1");
    assert!(dev.stop().success());
}

#[test]
fn the_cli_client_creates_a_wallet_signs_and_shows_the_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);
    let dir = tmp.path().to_str().unwrap();
    let run = |args: &[&str]| -> Value {
        let out = std::process::Command::new(common::TESSERA)
            .args(args)
            .args(["--dev-dir", dir, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let w = run(&[
        "wallet",
        "create",
        "--name",
        "cli",
        "--scheme",
        "frost-ed25519",
    ]);
    let id = w["id"].as_str().unwrap();
    let s = run(&["sign", "--wallet", id, "--message", "from the command line"]);
    verify_independently(
        "frost-ed25519",
        w["public_key"].as_str().unwrap(),
        b"from the command line",
        s["signature_hex"].as_str().unwrap(),
    );
    let r = run(&["request", "show", s["request_id"].as_str().unwrap()]);
    assert_eq!(r["status"], "signed");
    assert_eq!(r["signature_hex"], s["signature_hex"]);
    let list = run(&["wallet", "list"]);
    assert_eq!(list["wallets"][0]["id"].as_str(), Some(id));

    // Commitments are replenished in the background: the pools fill without any request.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = send(&dev.api, "GET", "/metrics", None, b"");
        let pooled = m
            .as_str()
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("tessera_commitments_pooled "))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if pooled > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "commitment pools stayed empty");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(dev.stop().success());
}
