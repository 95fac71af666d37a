//! `cargo fuzz run api_rpc`: see `tessera_fuzz::api::rpc`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::api::rpc(data));
