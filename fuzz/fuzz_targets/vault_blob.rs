//! `cargo fuzz run vault_blob`: see `tessera_fuzz::stored::vault_blob`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::stored::vault_blob(data));
