//! Benchmarks only: see `benches/signing.rs` and `docs/BENCHMARKS.md`.
