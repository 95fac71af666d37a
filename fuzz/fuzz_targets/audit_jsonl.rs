//! `cargo fuzz run audit_jsonl`: see `tessera_fuzz::stored::audit_jsonl`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::stored::audit_jsonl(data));
