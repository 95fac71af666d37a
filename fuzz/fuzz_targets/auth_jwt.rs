//! `cargo fuzz run auth_jwt`: see `tessera_fuzz::auth::jwt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::auth::jwt(data));
