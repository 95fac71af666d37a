//! `cargo fuzz run crypto_keys`: see `tessera_fuzz::stored::crypto_keys`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::stored::crypto_keys(data));
