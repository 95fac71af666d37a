//! The `tessera` binary: everything lives in the `tessera_cli` library.

/// Every heap block is zeroed when it is freed, so that a secret copied into a buffer that a
/// library frees without wiping (serialization, hashing input) does not stay in free memory.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> std::process::ExitCode {
    tessera_cli::run()
}
