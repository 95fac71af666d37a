//! `cargo fuzz run eth_typed_data`: see `tessera_fuzz::eth::typed_data`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::eth::typed_data(data));
