//! `cargo fuzz run api_intent`: see `tessera_fuzz::api::intent`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::api::intent(data));
