//! `cargo fuzz run eth_unsigned_tx`: see `tessera_fuzz::eth::unsigned_tx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::eth::unsigned_tx(data));
