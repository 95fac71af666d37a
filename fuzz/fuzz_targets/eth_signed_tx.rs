//! `cargo fuzz run eth_signed_tx`: see `tessera_fuzz::eth::signed_tx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::eth::signed_tx(data));
