//! The bodies of Tessera's fuzz targets: one plain function per decoder that Tessera feeds with
//! bytes from outside (API bodies, request tokens, messages between nodes and between signers,
//! policy files, stored blobs, Ethereum transactions), and a few valid inputs for each.
//!
//! Every target takes any bytes and checks two things: the decoder returns instead of panicking,
//! and, where the format has an encoder, that decoding what it encodes gives the same value
//! again. A broken check panics, which is what libFuzzer and the CI run look for.
//!
//! The same functions run in two ways (see `docs/FUZZING.md`):
//! - as libFuzzer targets under `cargo fuzz` (`fuzz/fuzz_targets/`), coverage-guided;
//! - in `tests/smoke.rs`, on the stable toolchain: each target's seeds, then a few thousand
//!   inputs mutated from them by [`mutate::Mutator`] with a fixed seed. That is what CI runs.

pub mod api;
pub mod auth;
pub mod eth;
pub mod mutate;
pub mod policy;
pub mod rounds;
pub mod seeds;
pub mod split;
pub mod stored;
pub mod wire;

/// A fuzz target: its name (the libFuzzer binary's), its body and its seed inputs.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name, as in `cargo fuzz run NAME`.
    pub name: &'static str,
    /// The body: any input, no panic.
    pub run: fn(&[u8]),
    /// A few valid inputs, from the repository's tests and golden files.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target, in the order of `docs/FUZZING.md`.
pub const TARGETS: &[Target] = &[
    Target {
        name: "api_intent",
        run: api::intent,
        seeds: seeds::api_intent,
    },
    Target {
        name: "api_verdict",
        run: api::verdict,
        seeds: seeds::api_verdict,
    },
    Target {
        name: "api_guard",
        run: api::guard,
        seeds: seeds::api_guard,
    },
    Target {
        name: "api_policy_change",
        run: api::policy_change,
        seeds: seeds::api_policy_change,
    },
    Target {
        name: "api_rpc",
        run: api::rpc,
        seeds: seeds::api_rpc,
    },
    Target {
        name: "auth_jwt",
        run: auth::jwt,
        seeds: seeds::auth_jwt,
    },
    Target {
        name: "wire_request",
        run: wire::request,
        seeds: seeds::wire_request,
    },
    Target {
        name: "wire_reply",
        run: wire::reply,
        seeds: seeds::wire_reply,
    },
    Target {
        name: "policy_file",
        run: policy::file,
        seeds: seeds::policy_file,
    },
    Target {
        name: "vault_blob",
        run: stored::vault_blob,
        seeds: seeds::vault_blob,
    },
    Target {
        name: "crypto_keys",
        run: stored::crypto_keys,
        seeds: seeds::crypto_keys,
    },
    Target {
        name: "crypto_dkg",
        run: rounds::frost_dkg,
        seeds: rounds::seeds,
    },
    Target {
        name: "audit_jsonl",
        run: stored::audit_jsonl,
        seeds: seeds::audit_jsonl,
    },
    Target {
        name: "eth_signed_tx",
        run: eth::signed_tx,
        seeds: seeds::eth_signed_tx,
    },
    Target {
        name: "eth_unsigned_tx",
        run: eth::unsigned_tx,
        seeds: seeds::eth_unsigned_tx,
    },
    Target {
        name: "eth_rpc_tx",
        run: eth::rpc_tx,
        seeds: seeds::eth_rpc_tx,
    },
    Target {
        name: "eth_typed_data",
        run: eth::typed_data,
        seeds: seeds::eth_typed_data,
    },
    Target {
        name: "eth_text",
        run: eth::text,
        seeds: seeds::eth_text,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
