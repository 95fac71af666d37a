//! `cargo fuzz run wire_request`: see `tessera_fuzz::wire::request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::wire::request(data));
