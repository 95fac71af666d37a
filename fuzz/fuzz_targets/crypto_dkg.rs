//! `cargo fuzz run crypto_dkg`: see `tessera_fuzz::rounds::frost_dkg`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::rounds::frost_dkg(data));
