//! A Byzantine signer node for tests: the real signer (`tessera_node::signer`), with its answers
//! tampered on their way out as `TESSERA_BYZANTINE_MODE` says:
//!
//! - `bad-share` (the default): one bit flipped in the scalar of each signature share it sends;
//! - `replayed-share`: each signature share is the one it sent for the previous round (the first
//!   one corrupted), an old message replayed in place of the new;
//! - `slow`: each signature share is held back for 3 s, past the coordinator's signer timeout.
//!
//! Tests use it to check that signing goes on with the honest quorum and that the culprit is
//! named.
//!
//! Usage: `tessera-byzantine-signer --config FILE`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    let mode = std::env::var("TESSERA_BYZANTINE_MODE").unwrap_or_else(|_| "bad-share".into());
    let previous: Mutex<Option<String>> = Mutex::new(None);
    let tamper: tessera_node::signer::ReplyTamper = match mode.as_str() {
        "bad-share" => Arc::new(|op, reply| {
            if let ("sign", Ok(Reply::Share { share_hex })) = (op, reply) {
                *share_hex = flipped(share_hex);
            }
        }),
        "replayed-share" => Arc::new(move |op, reply| {
            if let ("sign", Ok(Reply::Share { share_hex })) = (op, reply)
                && let Ok(mut last) = previous.lock()
            {
                let fresh = share_hex.clone();
                *share_hex = last.take().unwrap_or_else(|| flipped(&fresh));
                *last = Some(fresh);
            }
        }),
        "slow" => Arc::new(|op, reply| {
            if let ("sign", Ok(Reply::Share { .. })) = (op, reply) {
                std::thread::sleep(Duration::from_secs(3));
            }
        }),
        other => {
            eprintln!("unknown TESSERA_BYZANTINE_MODE `{other}`: bad-share, replayed-share, slow");
            return ExitCode::from(2);
        }
    };
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

/// A share with one bit flipped in the middle of its scalar (the last 32 bytes), so that it
/// stays a valid scalar and only the aggregate check can tell.
fn flipped(share_hex: &str) -> String {
    let Ok(mut bytes) = hex::decode(share_hex) else {
        return share_hex.to_owned();
    };
    if let Some(i) = bytes.len().checked_sub(16)
        && let Some(b) = bytes.get_mut(i)
    {
        *b ^= 0x01;
    }
    hex::encode(bytes)
}
