//! `cargo fuzz run eth_rpc_tx`: see `tessera_fuzz::eth::rpc_tx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::eth::rpc_tx(data));
