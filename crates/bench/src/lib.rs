//! What the benchmarks in `benches/` share (figures in `docs/BENCHMARKS.md`): threshold ECDSA
//! driven in this thread, bare and through `tessera_crypto`; the Ethereum signature check that
//! the service benchmark applies to every answer. The cluster, its API client, the in-process
//! drivers and the percentiles are `tessera bench`'s ([`tessera_cli::bench`]). Not shipped.

pub mod ecdsa;
pub mod eth;
