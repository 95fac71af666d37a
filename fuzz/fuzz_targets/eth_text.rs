//! `cargo fuzz run eth_text`: see `tessera_fuzz::eth::text`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::eth::text(data));
