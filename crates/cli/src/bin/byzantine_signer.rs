//! A signer node whose every signature share is corrupted on its way out: the real signer
//! (`tessera_node::signer`), with one bit flipped in the scalar of each share it sends. Tests use
//! it to check that a lying signer is named and that signing goes on without it.
//!
//! Usage: `tessera-byzantine-signer --config FILE`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tessera_wire::Reply;

/// Zero on free, as in the `tessera` binary.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let config = match args.as_slice() {
        [_, flag, path] if flag == "--config" => PathBuf::from(path),
        _ => {
            eprintln!("usage: tessera-byzantine-signer --config FILE");
            return ExitCode::from(2);
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    let tamper: tessera_node::signer::ReplyTamper = Arc::new(|op, reply| {
        if let ("sign", Ok(Reply::Share { share_hex: share })) = (op, reply)
            && let Ok(mut bytes) = hex::decode(&*share)
        {
            // The scalar is the last 32 bytes; a bit in its middle keeps it a valid scalar.
            if let Some(i) = bytes.len().checked_sub(16)
                && let Some(b) = bytes.get_mut(i)
            {
                *b ^= 0x01;
            }
            *share = hex::encode(bytes);
        }
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async {
        tessera_node::signer::run_with(&config, tessera_node::shutdown_signal(), Some(tamper)).await
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
