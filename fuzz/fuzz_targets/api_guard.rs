//! `cargo fuzz run api_guard`: see `tessera_fuzz::api::guard`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::api::guard(data));
