//! `cargo fuzz run policy_file`: see `tessera_fuzz::policy::file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::policy::file(data));
