//! Golden files of the node messages, version 1: every line must decode, and encode back to the
//! same JSON. A change that breaks a peer of the previous release fails here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use serde_json::Value;

fn lines(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_v1_request_decodes_and_encodes_back_the_same() {
    let all = lines("requests-v1.jsonl");
    assert_eq!(all.len(), 11, "one line per operation");
    for line in all {
        let req = tessera_wire::decode_request(line.as_bytes()).unwrap();
        let again: Value = serde_json::from_slice(&tessera_wire::encode_request(&req)).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<Value>(&line).unwrap(),
            "{line}"
        );
    }
}

#[test]
fn every_v1_reply_decodes_and_encodes_back_the_same() {
    for line in lines("replies-v1.jsonl") {
        let reply = tessera_wire::decode_reply(line.as_bytes());
        let again: Value = serde_json::from_slice(&tessera_wire::encode_reply(&reply)).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<Value>(&line).unwrap(),
            "{line}"
        );
    }
}
