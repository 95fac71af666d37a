//! `cargo fuzz run api_policy_change`: see `tessera_fuzz::api::policy_change`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::api::policy_change(data));
