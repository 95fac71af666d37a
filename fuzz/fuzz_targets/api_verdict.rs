//! `cargo fuzz run api_verdict`: see `tessera_fuzz::api::verdict`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::api::verdict(data));
