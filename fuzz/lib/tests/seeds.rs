//! The seeds are valid inputs: each decodes without error, so that fuzzing starts from inside
//! the format rather than at its first check. A golden file or API change that breaks a seed
//! fails here instead of quietly weakening the fuzzers.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use tessera_auth::{TokenPolicy, verify};
use tessera_fuzz::split::HttpInput;
use tessera_fuzz::{api, auth, seeds};
use tessera_wire::{GuardCommand, Intent, PolicyChange, RpcCall, Verdict};

fn http(seed: &[u8]) -> HttpInput<'_> {
    HttpInput::split(seed)
}

#[test]
fn api_seeds_decode() {
    for seed in seeds::api_intent() {
        let i = http(&seed);
        let parsed = Intent::parse(&i.method, &i.path, i.body, &api::request_id());
        assert!(parsed.is_ok(), "{parsed:?}");
    }
    for seed in seeds::api_verdict() {
        let i = http(&seed);
        Verdict::parse(&i.method, &i.path, i.body).unwrap();
    }
    for seed in seeds::api_guard() {
        let i = http(&seed);
        GuardCommand::parse(&i.method, &i.path, i.body).unwrap();
    }
    for seed in seeds::api_policy_change() {
        let i = http(&seed);
        PolicyChange::parse(&i.method, &i.path, i.body).unwrap();
    }
    for seed in seeds::api_rpc() {
        RpcCall::parse(&seed).unwrap();
    }
}

#[test]
fn token_seeds_verify() {
    let registry = auth::registry();
    let policy = TokenPolicy::default();
    let seeds = seeds::auth_jwt();
    let token = String::from_utf8(seeds[0][1..].to_vec()).unwrap();
    verify(
        &token,
        &registry,
        auth::METHOD,
        auth::PATH,
        b"",
        auth::NOW,
        &policy,
    )
    .unwrap();
    let claims = &seeds[2][1..];
    let signed = auth::sign_raw(tessera_auth::TOKEN_HEADER.as_bytes(), claims);
    verify(
        &signed,
        &registry,
        auth::METHOD,
        auth::PATH,
        b"",
        auth::NOW,
        &policy,
    )
    .unwrap();
}

#[test]
fn stored_seeds_decode() {
    for seed in seeds::wire_request() {
        tessera_wire::decode_request(&seed).unwrap();
    }
    let policies = seeds::policy_file();
    // The development policy and the full example of docs/POLICY.md; the other blocks there are
    // fragments, kept as material for splicing.
    assert!(policies.len() >= 3);
    for seed in &policies[..2] {
        let text = String::from_utf8(seed.clone()).unwrap();
        tessera_policy::Policy::parse(&text).unwrap();
    }
    for group in seeds::crypto_groups() {
        tessera_crypto::GroupKey::from_bytes(&group).unwrap();
    }
    let audit_key = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/audit/golden/audit.pub"
    ))
    .unwrap();
    let key: [u8; 32] = hex::decode(audit_key.trim()).unwrap().try_into().unwrap();
    let key = tessera_audit::AuditPublicKey::from_bytes(&key).unwrap();
    let chain = &seeds::audit_jsonl()[0];
    tessera_audit::verify_jsonl(chain.as_slice(), &key, &[]).unwrap();
}

#[test]
fn ethereum_seeds_decode() {
    for seed in seeds::eth_signed_tx() {
        tessera_eth::decode_signed(&seed).unwrap();
    }
    for seed in seeds::eth_unsigned_tx() {
        tessera_eth::UnsignedTx::from_bytes(&seed).unwrap();
    }
    for seed in seeds::eth_rpc_tx() {
        let v: serde_json::Value = serde_json::from_slice(&seed).unwrap();
        tessera_eth::RpcTx::from_json(&v).unwrap();
    }
    for seed in seeds::eth_typed_data() {
        let v: serde_json::Value = serde_json::from_slice(&seed).unwrap();
        tessera_eth::typed_data_hash(&v).unwrap();
    }
}
