//! Circuit breakers and the risk level end to end through `tessera dev --policy`: real signer
//! and coordinator processes, requests signed with an independent JWT library. A trip by hand
//! refuses every outflow on every signer and survives a restart of every node; a reset needs a
//! quorum of distinct admins; the risk level scales the limits down; a burst of denials trips a
//! wallet's breaker by itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::{Dev, TESSERA, check, create_wallet, sign};
use serde_json::{Value, json};

const POLICY: &str = r#"
version = 1
[[rules]]
name = "raw-ok"
kinds = ["raw"]
action = "allow"
[[limits]]
name = "raw-rate"
scope = "client"
window = "1h"
max_requests = 10
[risk]
elevated_percent = 50
critical_percent = 10
[breakers]
wallet_denials = 3
deployment_denials = 0
reset_quorum = 2
"#;

fn breaker(dev: &Dev, query: &str) -> Value {
    let (status, b) = dev.call("trader", "GET", &format!("/v1/breaker{query}"), None);
    assert_eq!(status, 200, "{b}");
    b
}

fn admin(dev: &Dev, who: &str, path: &str, body: Value) -> (u16, Value) {
    dev.call(who, "POST", path, Some(&body))
}

#[test]
fn breakers_and_risk_hold_on_every_signer_and_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let data = tmp.path().join("dev");
    let dev = Dev::start(&data, &["--policy", file.to_str().unwrap()]);
    let w = create_wallet(&dev, "hot", "frost-ed25519");
    let wallet = w["id"].as_str().unwrap().to_owned();

    let b = breaker(&dev, "");
    assert_eq!(
        (b["state"].as_str(), b["risk"].as_str()),
        (Some("closed"), Some("normal")),
        "{b}"
    );
    assert_eq!(b["reset_quorum"], 2);
    assert_eq!(b["signers"].as_array().unwrap().len(), 3);

    // Only admins trip; a bad body is refused before any signer sees it.
    let (status, e) = admin(&dev, "trader", "/v1/breaker/trip", json!({}));
    assert_eq!(status, 403, "{e}");
    let (status, e) = admin(&dev, "admin-1", "/v1/breaker/trip", json!({"why": "x"}));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_body")),
        "{e}"
    );

    // Tripped by hand: every signer refuses the wallet's requests.
    let (status, b) = admin(
        &dev,
        "admin-1",
        "/v1/breaker/trip",
        json!({"reason": "drill"}),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        (b["state"].as_str(), b["reason"].as_str()),
        (Some("tripped"), Some("drill")),
        "{b}"
    );
    assert!(
        b["signers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "tripped"),
        "{b}"
    );
    let (status, r) = sign(&dev, &w, b"while tripped", "t-1");
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "denied", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("circuit breaker `deployment` is tripped: drill"),
        "{r}"
    );

    // Every node restarts: still tripped.
    assert!(dev.stop().success());
    let dev = Dev::start(&data, &[]);
    assert_eq!(breaker(&dev, "")["state"], "tripped");
    let (_, r) = sign(&dev, &w, b"after the restart", "t-2");
    assert_eq!(r["status"], "denied", "{r}");

    // A reset needs two distinct admins: the same admin twice is one vote.
    let (status, b) = admin(&dev, "admin-1", "/v1/breaker/reset", json!({}));
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["state"], "tripped", "{b}");
    assert_eq!(b["reset_votes"], json!(["admin-1"]));
    let (_, b) = admin(&dev, "admin-1", "/v1/breaker/reset", json!({}));
    assert_eq!(
        (
            b["state"].as_str(),
            b["reset_votes"].as_array().unwrap().len()
        ),
        (Some("tripped"), 1),
        "{b}"
    );
    let (status, e) = admin(&dev, "trader", "/v1/breaker/reset", json!({}));
    assert_eq!(status, 403, "{e}");
    let (_, b) = admin(&dev, "admin-2", "/v1/breaker/reset", json!({}));
    assert_eq!(b["state"], "closed", "{b}");
    let (_, r) = sign(&dev, &w, b"after the reset", "t-3");
    assert_eq!(r["status"], "signed", "{r}");
    check(&w, b"after the reset", &r);

    // Risk: critical scales the 10-an-hour limit to 1; the client has used it already.
    let (status, e) = admin(&dev, "admin-1", "/v1/risk", json!({"level": "panic"}));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_risk")),
        "{e}"
    );
    let (status, e) = admin(&dev, "trader", "/v1/risk", json!({"level": "critical"}));
    assert_eq!(status, 403, "{e}");
    let (status, b) = admin(
        &dev,
        "admin-1",
        "/v1/risk",
        json!({"level": "critical", "reason": "feed"}),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["risk"], "critical", "{b}");
    let (_, r) = sign(&dev, &w, b"at critical risk", "r-1");
    assert_eq!(r["status"], "denied", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("raw-rate") && reason.contains("critical"),
        "{r}"
    );

    // That was the first denial; two more make the burst that trips the wallet's breaker.
    for key in ["r-2", "r-3"] {
        let (_, r) = sign(&dev, &w, key.as_bytes(), key);
        assert_eq!(r["status"], "denied", "{r}");
    }
    let b = breaker(&dev, &format!("?wallet={wallet}"));
    assert_eq!(b["state"], "tripped", "{b}");
    assert_eq!(b["source"], "auto", "{b}");
    assert!(b["reason"].as_str().unwrap().contains("3 denials"), "{b}");
    assert_eq!(
        breaker(&dev, "")["state"],
        "closed",
        "the deployment's own breaker is apart"
    );
    assert_eq!(
        breaker(&dev, "")["tripped"][0]["scope"],
        format!("wallet:{wallet}")
    );

    // Back to normal risk: the limit allows again, but the wallet's breaker still refuses.
    let (_, b) = admin(&dev, "admin-2", "/v1/risk", json!({"level": "normal"}));
    assert_eq!(b["risk"], "normal", "{b}");
    let (_, r) = sign(&dev, &w, b"wallet tripped", "r-4");
    assert_eq!(r["status"], "denied", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("`wallet:{wallet}` is tripped")),
        "{r}"
    );
    let (status, e) = admin(
        &dev,
        "admin-1",
        "/v1/breaker/trip",
        json!({"wallet": "w-nope"}),
    );
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("no_such_key")),
        "{e}"
    );
    for who in ["admin-2", "admin-1"] {
        admin(&dev, who, "/v1/breaker/reset", json!({"wallet": wallet}));
    }
    assert_eq!(
        breaker(&dev, &format!("?wallet={wallet}"))["state"],
        "closed"
    );
    let (_, r) = sign(&dev, &w, b"reset again", "r-5");
    assert_eq!(r["status"], "signed", "{r}");

    // Every trip, reset vote, reset and risk change is in each signer's audit chain, and the
    // chains verify.
    let (status, page) = dev.call("trader", "GET", "/v1/audit?node=2&limit=1000", None);
    assert_eq!(status, 200, "{page}");
    let events: Vec<String> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let line: Value = match e {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            (line["kind"] == "breaker").then(|| line["body"]["event"].as_str().unwrap().to_owned())
        })
        .collect();
    for event in ["trip", "reset_vote", "reset", "risk"] {
        assert!(
            events.iter().any(|e| e == event),
            "no `{event}` in {events:?}"
        );
    }
    assert!(dev.stop().success());
    let out = std::process::Command::new(TESSERA)
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
