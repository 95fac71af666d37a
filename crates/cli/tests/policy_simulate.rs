//! `tessera policy simulate` against the history of a real `tessera dev` cluster: requests made
//! under one policy, replayed against a stricter one (exactly the requests it would have decided
//! otherwise are named) and against the same one (nothing differs), with the store only read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Dev, TESSERA, create_wallet, sign};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the cluster runs under: raw signing allowed, four raw requests an hour per client.
const RECORDED: &str = r#"
version = 1
[groups]
ops = ["approver-1", "approver-2", "approver-3"]
[[rules]]
name = "raw-allowed"
clients = ["trader"]
kinds = ["raw"]
action = "allow"
[[limits]]
name = "raw-rate"
scope = "client"
window = "1h"
max_requests = 4
"#;

/// Stricter: one wallet frozen (every kind: a rule without `kinds` would not match raw
/// signing), raw signing needs two approvals, two raw requests an hour.
fn stricter(cold_wallet: &str) -> String {
    format!(
        r#"
version = 2
[groups]
ops = ["approver-1", "approver-2", "approver-3"]
[[rules]]
name = "cold-frozen"
wallets = ["{cold_wallet}"]
kinds = ["transfer", "raw", "typed_data", "message"]
action = "deny"
[[rules]]
name = "raw-needs-two"
clients = ["trader"]
kinds = ["raw"]
action = {{ approvals = {{ group = "ops", count = 2 }} }}
[[limits]]
name = "raw-rate"
scope = "client"
window = "1h"
max_requests = 2
"#
    )
}

fn simulate(policy: &Path, data: &Path, extra: &[&str]) -> Output {
    Command::new(TESSERA)
        .args(["policy", "simulate"])
        .arg(policy)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .output()
        .unwrap()
}

fn report(policy: &Path, data: &Path) -> Value {
    let out = simulate(policy, data, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn digest(file: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(file).unwrap()).to_vec()
}

#[test]
fn a_stricter_policy_names_exactly_the_requests_it_would_have_decided_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let recorded_file = tmp.path().join("recorded.toml");
    std::fs::write(&recorded_file, RECORDED).unwrap();
    let data = tmp.path().join("dev");
    let dev = Dev::start(&data, &["--policy", recorded_file.to_str().unwrap()]);

    let hot = create_wallet(&dev, "hot", "frost-ed25519");
    let cold = create_wallet(&dev, "cold", "frost-ed25519");
    let mut ids = Vec::new();
    for (wallet, key) in [(&hot, "a"), (&hot, "b"), (&cold, "c"), (&hot, "d")] {
        let (status, r) = sign(&dev, wallet, key.as_bytes(), key);
        assert_eq!(status, 200, "{r}");
        assert!(r["signature_hex"].is_string(), "{r}");
        ids.push(r["request_id"].as_str().unwrap().to_owned());
    }
    // The fifth is denied by the coordinator's pre-check, and registered with the signers all
    // the same: it is in their history, denied there too, and the stricter policy denies it as
    // well (unchanged).
    let (_, e) = sign(&dev, &hot, b"e", "e");
    assert_eq!(e["status"], "denied", "{e}");

    // Against the stricter policy, while the signers run and hold their stores.
    let stricter_file = tmp.path().join("stricter.toml");
    std::fs::write(&stricter_file, stricter(cold["id"].as_str().unwrap())).unwrap();
    let r = report(&stricter_file, &data);
    let hash = tessera_policy::Policy::parse(&stricter(cold["id"].as_str().unwrap()))
        .unwrap()
        .hash()
        .to_string();
    assert_eq!(r["policy"]["version"], 2, "{r}");
    assert_eq!(r["policy"]["hash"], hash, "{r}");
    assert_eq!(r["signer"], 1);
    assert_eq!(
        (
            &r["replayed"],
            &r["unruled"],
            &r["differences"],
            &r["unchanged"]
        ),
        (&5.into(), &2.into(), &4.into(), &1.into()),
        "{r}"
    );
    let diffs = r["requests"].as_array().unwrap();
    let got: Vec<&str> = diffs
        .iter()
        .map(|d| d["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids, "{r}");
    let recorded_hash = tessera_policy::Policy::parse(RECORDED)
        .unwrap()
        .hash()
        .to_string();
    for d in diffs {
        assert_eq!(d["client"], "trader", "{d}");
        assert_eq!(d["kind"], "raw", "{d}");
        assert_eq!(d["recorded"]["decision"], "allow", "{d}");
        assert_eq!(d["recorded"]["state"], "allow", "{d}");
        assert_eq!(d["recorded"]["policy_hash"], recorded_hash, "{d}");
    }
    // a and b would wait for two approvals from `ops`; they count against the limit.
    for d in &diffs[..2] {
        let s = &d["simulated"];
        assert_eq!(s["decision"], "pending_approval", "{d}");
        assert_eq!(
            (&s["group"], &s["count"]),
            (&"ops".into(), &2.into()),
            "{d}"
        );
        assert_eq!(s["matched_rule"], "raw-needs-two", "{d}");
    }
    // c is for the frozen wallet.
    let c = &diffs[2]["simulated"];
    assert_eq!(c["decision"], "deny", "{c}");
    assert_eq!(c["matched_rule"], "cold-frozen", "{c}");
    assert!(c["reason"].as_str().unwrap().contains("cold-frozen"), "{c}");
    // d is over the stricter limit: a and b filled it.
    let d = &diffs[3]["simulated"];
    assert_eq!(d["decision"], "deny", "{d}");
    assert_eq!(d["limit"], "raw-rate", "{d}");
    assert!(d["reason"].as_str().unwrap().contains("raw-rate"), "{d}");

    // The text report: the summary, then one line per request.
    let out = simulate(&stricter_file, &data, &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].contains("5 request(s) replayed, 4 decided differently"),
        "{text}"
    );
    assert!(lines[1].starts_with(&ids[0]), "{text}");
    assert!(
        lines[1].contains("recorded allow, simulated pending_approval (2 from `ops`)"),
        "{text}"
    );
    assert!(lines[4].contains("simulated deny"), "{text}");

    // Every signer registered the same requests: signer 3's history gives the same answer.
    let r3 = {
        let out = simulate(&stricter_file, &data, &["--json", "--signer", "3"]);
        assert!(out.status.success());
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(r3["requests"], r["requests"]);

    // The same policy the cluster ran under decides every request as it was; the store is
    // read, never written.
    assert!(dev.stop().success());
    let store = data.join("signer-1").join("signer.sqlite");
    let before = digest(&store);
    let same = report(&recorded_file, &data);
    assert_eq!(
        (&same["replayed"], &same["differences"], &same["unchanged"]),
        (&5.into(), &0.into(), &5.into()),
        "{same}"
    );
    assert_eq!(same["requests"], Value::Array(vec![]), "{same}");
    assert_eq!(digest(&store), before);

    // A signer whose store is gone: refused, and no store is created in its place.
    let store_2 = data.join("signer-2").join("signer.sqlite");
    std::fs::rename(&store_2, tmp.path().join("moved.sqlite")).unwrap();
    let out = simulate(&recorded_file, &data, &["--signer", "2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("signer 2's history"), "{err}");
    assert!(err.contains("store_open_failed"), "{err}");
    assert!(!store_2.exists());
}

#[test]
fn simulate_refuses_a_bad_policy_and_a_missing_history() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.toml");
    std::fs::write(&good, RECORDED).unwrap();
    // No deployment in the data directory: refused, and nothing is created there.
    let nowhere = tmp.path().join("nowhere");
    std::fs::create_dir_all(&nowhere).unwrap();
    let out = simulate(&good, &nowhere, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no signer 1"), "{err}");
    assert_eq!(std::fs::read_dir(&nowhere).unwrap().count(), 0);
    // A policy that does not parse: the error names its code.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        RECORDED.replace("max_requests = 4", "max_requests = 0"),
    )
    .unwrap();
    let out = simulate(&bad, &nowhere, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_limit"), "{err}");
}
