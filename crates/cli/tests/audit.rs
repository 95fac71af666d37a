//! The audit chains and receipts end to end through `tessera dev --policy`: real signer and
//! coordinator processes, requests signed with an independent JWT library. Requests waiting for
//! an approval, approved, rejected and denied; receipts checked with `tessera receipt verify`;
//! `GET /v1/audit` paged and verified; `tessera audit verify` before and after one signer's
//! store is edited behind its back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Dev, TESSERA, create_wallet, now, send, token};
use serde_json::{Value, json};
use tessera_audit::{AuditKey, Entry};

const POLICY: &str = r#"
version = 1
[groups]
ops = ["approver-1", "approver-2", "approver-3"]
[[rules]]
name = "raw-needs-one"
clients = ["trader"]
kinds = ["raw"]
action = { approvals = { group = "ops", count = 1 } }
[[limits]]
name = "raw-rate"
scope = "client"
window = "1h"
max_requests = 2
"#;

/// Signs a raw request as `trader` with a token made here, and returns the answer and the
/// request hash the receipts must name.
fn sign(dev: &Dev, wallet: &Value, payload: &[u8], key: &str) -> (Value, String) {
    let path = format!("/v1/wallets/{}/sign", wallet["id"].as_str().unwrap());
    let body =
        serde_json::to_vec(&json!({"payload_hex": hex::encode(payload), "idempotency_key": key}))
            .unwrap();
    let t = token(&dev.key("trader"), "trader", "POST", &path, &body, now());
    let (status, answer) = send(&dev.api, "POST", &path, Some(&t), &body);
    assert_eq!(status, 200, "{answer}");
    let hash = tessera_audit::request_hash(&t, "POST", &path, &body);
    (answer, hex::encode(hash))
}

fn tessera(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(TESSERA).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn receipt_verify(
    dir: &Path,
    file: &Path,
    t: &str,
    policy: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let mut args = vec![
        "receipt",
        "verify",
        "--receipts",
        file.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
        "--threshold",
        t,
        "--policy",
        policy,
    ];
    args.extend_from_slice(extra);
    tessera(&args)
}

fn wait_signed(dev: &Dev, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, r) = dev.call("trader", "GET", &format!("/v1/requests/{id}"), None);
        assert_eq!(status, 200, "{r}");
        if r["status"] == "signed" {
            return r;
        }
        assert!(Instant::now() < deadline, "not signed: {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every entry of a node's chain through `GET /v1/audit`, `limit` at a time.
fn all_pages(dev: &Dev, node: &str, limit: u32) -> (Vec<Entry>, Value) {
    let mut after = 0u64;
    let mut entries = Vec::new();
    loop {
        let (status, page) = dev.call(
            "approver-2",
            "GET",
            &format!("/v1/audit?node={node}&after={after}&limit={limit}"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        let got = page["entries"].as_array().unwrap();
        assert!(got.len() <= limit as usize);
        for e in got {
            entries.push(serde_json::from_value::<Entry>(e.clone()).unwrap());
        }
        match page["next_after"].as_u64() {
            Some(next) => {
                assert_eq!(
                    got.len(),
                    limit as usize,
                    "a page short of the limit is the last"
                );
                after = next;
            }
            None => return (entries, page["head"].clone()),
        }
    }
}

fn public_key(file: &Path) -> tessera_audit::AuditPublicKey {
    AuditKey::read_from(file).unwrap().public()
}

#[test]
fn chains_receipts_and_tampering_through_the_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let data = tmp.path().join("dev");
    let dev = Dev::start(&data, &["--policy", file.to_str().unwrap()]);
    let policy = tessera_policy::Policy::parse(POLICY)
        .unwrap()
        .hash()
        .to_string();
    let w = create_wallet(&dev, "hot", "frost-ed25519");

    // A waits for one approval: each signer's receipt says so.
    let (a, hash_a) = sign(&dev, &w, b"pay alice", "a");
    assert_eq!(a["status"], "pending_approval", "{a}");
    assert_eq!(a["receipts"].as_array().unwrap().len(), 3, "{a}");
    let pending = tmp.path().join("pending.json");
    std::fs::write(&pending, a.to_string()).unwrap();
    let (ok, out, err) = receipt_verify(
        &data,
        &pending,
        "2",
        &policy,
        &["--decision", "pending_approval", "--request-hash", &hash_a],
    );
    assert!(ok, "{out}{err}");
    let id_a = a["request_id"].as_str().unwrap().to_owned();

    // Approved: the verdict's answer carries the signers' `allow` receipts.
    let (status, v) = dev.call(
        "approver-1",
        "POST",
        &format!("/v1/requests/{id_a}/approve"),
        Some(&json!({})),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    assert!(
        v["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["decision"] == "allow"),
        "{v}"
    );
    let signed = wait_signed(&dev, &id_a);
    assert!(signed["signature_hex"].is_string());
    let receipts = tmp.path().join("signed.json");
    std::fs::write(&receipts, signed.to_string()).unwrap();
    let (ok, out, err) =
        receipt_verify(&data, &receipts, "3", &policy, &["--request-hash", &hash_a]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("quorum: 3 of 3"), "{out}");
    // Under another policy, for another request, or with a receipt altered: no quorum, and
    // each receipt that did not count is named with its reason.
    let other_policy = "0".repeat(64);
    let (ok, out, err) = receipt_verify(&data, &receipts, "2", &other_policy, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("other_policy") && err.contains("no quorum"),
        "{out}{err}"
    );
    let (ok, out, _) = receipt_verify(
        &data,
        &receipts,
        "2",
        &policy,
        &["--request-hash", &"1".repeat(64)],
    );
    assert!(!ok && out.contains("other_request"), "{out}");
    let mut altered = signed.clone();
    altered["receipts"][1]["audit_seq"] =
        json!(altered["receipts"][1]["audit_seq"].as_u64().unwrap() + 1);
    let altered_file = tmp.path().join("altered.json");
    std::fs::write(&altered_file, altered.to_string()).unwrap();
    let (ok, out, _) = receipt_verify(
        &data,
        &altered_file,
        "3",
        &policy,
        &["--request-hash", &hash_a],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("#1 from `signer-2`: bad_signature"), "{out}");

    // B is rejected; C fills the limit; D is denied by it (at the pre-check: no signer sees it).
    let (b, _) = sign(&dev, &w, b"pay mallory", "b");
    let id_b = b["request_id"].as_str().unwrap();
    let (status, v) = dev.call(
        "approver-3",
        "POST",
        &format!("/v1/requests/{id_b}/reject"),
        Some(&json!({})),
    );
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("rejected")),
        "{v}"
    );
    let rejected = tmp.path().join("rejected.json");
    std::fs::write(&rejected, v.to_string()).unwrap();
    let (ok, out, err) =
        receipt_verify(&data, &rejected, "2", &policy, &["--decision", "rejected"]);
    assert!(ok, "{out}{err}");
    let (c, _) = sign(&dev, &w, b"pay carol", "c");
    assert_eq!(c["status"], "pending_approval", "{c}");
    let (d, _) = sign(&dev, &w, b"one too many", "d");
    assert_eq!(d["status"], "denied", "{d}");
    // Denied by the pre-check, and registered with the signers all the same: each records the
    // denial and hands back its receipt.
    let denial_receipts = d["receipts"].as_array().unwrap();
    assert_eq!(denial_receipts.len(), 3, "{d}");
    assert!(
        denial_receipts.iter().all(|r| r["decision"] == "deny"),
        "{d}"
    );

    // The chains through the API, a page at a time, verify under the nodes' keys.
    let (entries, head) = all_pages(&dev, "coordinator", 3);
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "request",
        "precheck",
        "verdict",
        "ruling",
        "signature",
        "wallet_created",
    ] {
        assert!(kinds.contains(&kind), "no `{kind}` in {kinds:?}");
    }
    let key = public_key(&data.join("coordinator-audit.key"));
    let verified = tessera_audit::verify_entries(entries, &key, &[]).unwrap();
    assert_eq!(Some(verified.entries), head["seq"].as_u64());
    let (entries, _) = all_pages(&dev, "2", 4);
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    // (`share` only at the signers of the quorum, which is chosen at random.)
    for kind in [
        "policy_pin",
        "key_activated",
        "request",
        "verdict",
        "signature",
    ] {
        assert!(kinds.contains(&kind), "no `{kind}` in {kinds:?}");
    }
    let key = public_key(&data.join("signer-2").join("audit.key"));
    tessera_audit::verify_entries(entries, &key, &[]).unwrap();
    let (status, e) = dev.call("trader", "GET", "/v1/audit?node=9", None);
    assert_eq!(status, 404, "{e}");
    let (status, e) = dev.call("trader", "GET", "/v1/audit?limit=x", None);
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_query")),
        "{e}"
    );

    // Every chain on disk verifies, and each one still passes through the receipts' anchors.
    assert!(dev.stop().success());
    let dir = data.to_str().unwrap();
    let (ok, out, err) = tessera(&[
        "audit",
        "verify",
        "--data-dir",
        dir,
        "--receipts",
        receipts.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, node) in lines
        .iter()
        .zip(["coordinator", "signer-1", "signer-2", "signer-3"])
    {
        assert!(
            line.starts_with(&format!("{node}: ")) && line.ends_with(": ok"),
            "{line}"
        );
    }
    let (ok, export, _) = tessera(&["audit", "export", "--data-dir", dir, "--node", "3"]);
    assert!(ok);
    let key = public_key(&data.join("signer-3").join("audit.key"));
    tessera_audit::verify_jsonl(export.as_bytes(), &key, &[]).unwrap();

    // One edited body in signer 2's store: named, with its position and code.
    let seq: i64 = {
        let c = rusqlite::Connection::open(data.join("signer-2").join("signer.sqlite")).unwrap();
        let seq = c
            .query_row(
                "SELECT seq FROM audit_log WHERE kind = 'verdict' ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        c.execute(
            "UPDATE audit_log SET body = replace(body, '\"allow\"', '\"deny\"') WHERE seq = ?1",
            [seq],
        )
        .unwrap();
        seq
    };
    let (ok, out, err) = tessera(&["audit", "verify", "--data-dir", dir]);
    assert!(!ok, "{out}");
    assert!(err.contains("1 of 4 audit chains do not verify"), "{err}");
    let bad: Vec<&str> = out.lines().filter(|l| !l.ends_with(": ok")).collect();
    assert_eq!(bad.len(), 1, "{out}");
    assert!(bad[0].starts_with("signer-2: "), "{out}");
    assert!(
        bad[0].contains(&format!("bad entry {seq} (hash_mismatch)")),
        "{out}"
    );

    // A directory without chains is no success either.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (ok, _, err) = tessera(&["audit", "verify", "--data-dir", empty.to_str().unwrap()]);
    assert!(!ok && err.contains("no audit chain"), "{err}");
}
