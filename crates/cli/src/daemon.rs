//! `tessera signer` and `tessera coordinator`: the daemons, with logging and signal handling.

use std::path::Path;
use std::time::Duration;

use crate::error::CliError;

/// Structured logs on stderr: `text` for people, `json` (one object per line) for collectors.
/// `RUST_LOG` filters as usual; the default is `info`.
pub(crate) fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second initialisation (tests running several commands in one process) is harmless.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))
}

/// Runs a signer until SIGINT or SIGTERM (or until process `parent` is gone, for a signer that
/// `tessera dev` started).
pub(crate) fn run_signer(config: &Path, parent: Option<u32>) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let signal = tessera_node::shutdown_signal();
        let stop = async move {
            match parent {
                Some(pid) => {
                    tokio::select! {
                        _ = signal => {}
                        _ = parent_gone(pid) => {
                            tracing::warn!(parent = pid, "parent process is gone; stopping");
                        }
                    }
                }
                None => signal.await,
            }
        };
        tessera_node::signer::run(config, stop)
            .await
            .map_err(|e| CliError::new(format!("signer: {e} ({})", e.code)))
    })
}

/// Runs a coordinator until SIGINT or SIGTERM.
pub(crate) fn run_coordinator(config: &Path) -> Result<(), CliError> {
    runtime()?.block_on(async {
        tessera_node::coordinator::run(config, tessera_node::shutdown_signal())
            .await
            .map_err(|e| CliError::new(format!("coordinator: {e} ({})", e.code)))
    })
}

/// Resolves once this process's parent is no longer `pid` (it died and we were re-parented).
async fn parent_gone(pid: u32) {
    loop {
        let parent = nix::unistd::getppid().as_raw();
        if u32::try_from(parent).ok() != Some(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
