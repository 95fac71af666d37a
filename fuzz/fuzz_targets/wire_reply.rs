//! `cargo fuzz run wire_reply`: see `tessera_fuzz::wire::reply`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::wire::reply(data));
