//! Policy changes end to end through `tessera dev --policy`: a proposal by one admin, the
//! approvals of a quorum of distinct admins, the time lock of the policy in force, and the new
//! policy pinned by every signer and followed by the coordinator's pre-check, across a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::{Dev, create_wallet, sign};
use serde_json::{Value, json};

const V1: &str = r#"
version = 1
[changes]
quorum = 2
time_lock = "0s"
[[rules]]
name = "raw-ok"
kinds = ["raw"]
action = "allow"
"#;

/// Raw signing is denied by default; changes now wait an hour.
const V2: &str = r#"
version = 2
[changes]
quorum = 2
time_lock = "1h"
[[rules]]
name = "no-raw"
kinds = ["raw"]
action = "deny"
"#;

const V3: &str = r#"
version = 3
[[rules]]
name = "raw-ok-again"
kinds = ["raw"]
action = "allow"
"#;

fn step(dev: &Dev, who: &str, path: &str, body: Value) -> (u16, Value) {
    dev.call(who, "POST", path, Some(&body))
}

fn hash_of(text: &str) -> String {
    tessera_policy::Policy::parse(text)
        .unwrap()
        .hash()
        .to_string()
}

#[test]
fn a_policy_changes_only_with_a_quorum_of_admins_and_after_its_time_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("policy.toml");
    std::fs::write(&file, V1).unwrap();
    let data = tmp.path().join("dev");
    let dev = Dev::start(&data, &["--policy", file.to_str().unwrap()]);
    let w = create_wallet(&dev, "hot", "frost-ed25519");
    let (_, r) = sign(&dev, &w, b"under v1", "a");
    assert_eq!(r["status"], "signed", "{r}");

    // Only admins propose; a proposal must parse and be newer than the policy in force.
    let propose = "/v1/policy/proposals";
    let (status, e) = step(&dev, "trader", propose, json!({"policy": V2}));
    assert_eq!(status, 403, "{e}");
    let (status, e) = step(
        &dev,
        "admin-1",
        propose,
        json!({"policy": "version = 2\nrules = 3"}),
    );
    assert_eq!(status, 400, "{e}");
    let (status, e) = step(
        &dev,
        "admin-1",
        propose,
        json!({"policy": V1.replace("version = 1", "version = 1\n#")}),
    );
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("stale_policy")),
        "{e}"
    );

    let (status, p) = step(&dev, "admin-1", propose, json!({"policy": V2}));
    assert_eq!(status, 201, "{p}");
    let h2 = hash_of(V2);
    assert_eq!(
        (p["hash"].as_str(), p["state"].as_str()),
        (Some(h2.as_str()), Some("open")),
        "{p}"
    );
    assert_eq!(
        (p["approvals"].clone(), p["quorum"].clone()),
        (json!(["admin-1"]), json!(2))
    );
    assert_eq!(p["signers"].as_array().unwrap().len(), 3);

    // One admin is not a quorum, however often it approves.
    let apply = format!("/v1/policy/proposals/{h2}/apply");
    let approve = format!("/v1/policy/proposals/{h2}/approve");
    let (status, e) = step(&dev, "admin-1", &apply, json!({}));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("quorum_not_reached")),
        "{e}"
    );
    let (_, p) = step(&dev, "admin-1", &approve, json!({}));
    assert_eq!(p["approvals"], json!(["admin-1"]), "{p}");
    let (status, e) = step(&dev, "approver-1", &approve, json!({}));
    assert_eq!(status, 403, "{e}");
    let (status, p) = step(&dev, "admin-2", &approve, json!({}));
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["approvals"], json!(["admin-1", "admin-2"]));

    // Applied (v1 has no time lock): every signer pins v2 and the pre-check follows.
    let (status, p) = step(&dev, "admin-2", &apply, json!({}));
    assert_eq!(status, 200, "{p}");
    assert!(
        p["signers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "applied"),
        "{p}"
    );
    let (_, view) = dev.call("trader", "GET", "/v1/policy", None);
    assert_eq!(
        (view["version"].clone(), view["hash"].clone()),
        (json!(2), json!(h2)),
        "{view}"
    );
    assert_eq!(view["precheck_hash"], json!(h2), "{view}");
    let (_, r) = sign(&dev, &w, b"under v2", "b");
    assert_eq!(r["status"], "denied", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("no-raw"), "{r}");

    // v3 is approved by two admins, but v2's time lock holds it back for an hour.
    let (_, p) = step(&dev, "admin-2", propose, json!({"policy": V3}));
    let h3 = hash_of(V3);
    assert_eq!(p["hash"], json!(h3));
    let not_before = p["not_before"].as_i64().unwrap();
    assert!(
        not_before >= p["proposed_at"].as_i64().unwrap() + 3600,
        "{p}"
    );
    step(
        &dev,
        "admin-1",
        &format!("/v1/policy/proposals/{h3}/approve"),
        json!({}),
    );
    let (status, e) = step(
        &dev,
        "admin-1",
        &format!("/v1/policy/proposals/{h3}/apply"),
        json!({}),
    );
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("time_locked")),
        "{e}"
    );

    // Every node restarts: v2 is still in force, and the pre-check follows the signers rather
    // than the bootstrap file.
    assert!(dev.stop().success());
    let dev = Dev::start(&data, &[]);
    let (_, view) = dev.call("trader", "GET", "/v1/policy", None);
    assert_eq!(view["hash"], json!(h2), "{view}");
    assert_eq!(view["precheck_hash"], json!(h2), "{view}");
    let (_, r) = sign(&dev, &w, b"after the restart", "c");
    assert_eq!(r["status"], "denied", "{r}");
    assert!(dev.stop().success());
}
