//! The policy end to end through `tessera dev --policy`: real signer and coordinator processes,
//! requests signed with an independent JWT library. Raw signing needs two approvals from `ops`;
//! a rate limit counts raw requests per client; approvals, rejections, denials naming the limit,
//! and the limit surviving a restart of every node.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Dev, check, create_wallet, sign};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
[groups]
ops = ["approver-1", "approver-2", "approver-3"]
[[rules]]
name = "raw-needs-two"
clients = ["trader"]
kinds = ["raw"]
action = { approvals = { group = "ops", count = 2 } }
[[limits]]
name = "raw-rate"
scope = "client"
window = "1h"
max_requests = 3
"#;

fn verdict(dev: &Dev, who: &str, id: &str, what: &str) -> (u16, Value) {
    dev.call(
        who,
        "POST",
        &format!("/v1/requests/{id}/{what}"),
        Some(&json!({})),
    )
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

#[test]
fn approvals_rejections_and_a_durable_limit_through_the_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let data = tmp.path().join("dev");
    let dev = Dev::start(&data, &["--policy", file.to_str().unwrap()]);

    // The policy the signers pinned is the file's.
    let expected = tessera_policy::Policy::parse(POLICY).unwrap();
    let (status, p) = dev.call("trader", "GET", "/v1/policy", None);
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["version"], 1);
    assert_eq!(p["hash"], expected.hash().to_string());
    assert_eq!(p["signers"].as_array().unwrap().len(), 3);

    let w = create_wallet(&dev, "hot", "frost-ed25519");

    // A: waits for two approvals from `ops`, then is signed.
    let (status, a) = sign(&dev, &w, b"pay alice", "a");
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["status"], "pending_approval", "{a}");
    assert!(a.get("signature_hex").is_none());
    assert!(
        a["reason"].as_str().unwrap().contains("raw-needs-two"),
        "{a}"
    );
    let id_a = a["request_id"].as_str().unwrap().to_owned();
    // Only approvers give verdicts.
    let (status, e) = verdict(&dev, "trader", &id_a, "approve");
    assert_eq!(status, 403, "{e}");
    let (status, e) = verdict(&dev, "admin-1", &id_a, "approve");
    assert_eq!(status, 403, "{e}");
    let (status, v) = verdict(&dev, "approver-1", &id_a, "approve");
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["approvals"].as_u64()),
        (Some("pending_approval"), Some(1))
    );
    // One approver counts once.
    let (status, e) = verdict(&dev, "approver-1", &id_a, "approve");
    assert_eq!(status, 409, "{e}");
    let (status, v) = verdict(&dev, "approver-2", &id_a, "approve");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    let signed = wait_signed(&dev, &id_a);
    check(&w, b"pay alice", &signed);

    // B: one rejection ends it; it stops counting against the limit.
    let (_, b) = sign(&dev, &w, b"pay mallory", "b");
    let id_b = b["request_id"].as_str().unwrap().to_owned();
    let (status, v) = verdict(&dev, "approver-3", &id_b, "reject");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "rejected", "{v}");
    let (status, e) = verdict(&dev, "approver-1", &id_b, "approve");
    assert_eq!(status, 409, "{e}");
    let (_, again) = sign(&dev, &w, b"pay mallory", "b");
    assert_eq!(again["status"], "rejected", "{again}");

    // C and D wait; with A they fill the limit of 3 raw requests an hour.
    for key in ["c", "d"] {
        let (_, r) = sign(&dev, &w, key.as_bytes(), key);
        assert_eq!(r["status"], "pending_approval", "{r}");
    }
    let (status, e) = sign(&dev, &w, b"one too many", "e");
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["status"], "denied", "{e}");
    assert!(e["reason"].as_str().unwrap().contains("raw-rate"), "{e}");

    // Every node restarts: the limit still holds, and the pinned policy is kept.
    assert!(dev.stop().success());
    let dev = Dev::start(&data, &[]);
    let (_, f) = sign(&dev, &w, b"after the restart", "f");
    assert_eq!(f["status"], "denied", "{f}");
    assert!(f["reason"].as_str().unwrap().contains("raw-rate"), "{f}");
    let (_, p) = dev.call("trader", "GET", "/v1/policy", None);
    assert_eq!(p["hash"], expected.hash().to_string());
    // Restarting the deployment with another bootstrap policy is refused.
    assert!(dev.stop().success());
    let other = tmp.path().join("other.toml");
    std::fs::write(
        &other,
        POLICY.replace("max_requests = 3", "max_requests = 300"),
    )
    .unwrap();
    let out = std::process::Command::new(common::TESSERA)
        .args(["dev", "--listen", "127.0.0.1:0", "--fast-kdf", "--data-dir"])
        .arg(&data)
        .args(["--policy", other.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("proposal"));
}

#[test]
fn policy_check_names_the_hash_of_a_good_file_and_the_fault_of_a_bad_one() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.toml");
    std::fs::write(&good, POLICY).unwrap();
    let out = std::process::Command::new(common::TESSERA)
        .args(["policy", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    let hash = tessera_policy::Policy::parse(POLICY)
        .unwrap()
        .hash()
        .to_string();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&hash));
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        POLICY.replace("group = \"ops\"", "group = \"nobody\""),
    )
    .unwrap();
    let out = std::process::Command::new(common::TESSERA)
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
}
