//! Tessera's daemons: the signer node ([`signer::run`]) and the coordinator with its HTTP API
//! ([`coordinator::run`]), configured by TOML files ([`config`]).
//!
//! Request flow: a client's signed HTTP request reaches the API ([`api`]), which checks the
//! token and the role, records the request durably ([`gateway_store`]), and hands it to the
//! [`cluster`]. The cluster forwards the client's original request to every signer, each of which
//! verifies and registers it itself, then runs key generation or one signing round with a quorum
//! of healthy signers, retrying without any signer that failed or sent a bad share.

pub mod api;
pub mod audit;
pub mod balances;
pub mod cluster;
pub mod config;
pub mod coordinator;
pub mod gateway_store;
pub mod metrics;
pub mod remote;
pub mod signer;
pub mod transfers;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a daemon could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    /// Stable code.
    pub code: &'static str,
    /// What happened.
    pub message: String,
}

impl NodeError {
    /// A new error.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<config::ConfigError> for NodeError {
    fn from(e: config::ConfigError) -> Self {
        Self::new("bad_config", e.to_string())
    }
}

impl From<tessera_net::NetError> for NodeError {
    fn from(e: tessera_net::NetError) -> Self {
        Self::new("network", e.to_string())
    }
}

impl From<tessera_signer::SignerError> for NodeError {
    fn from(e: tessera_signer::SignerError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes this process's id to `path` (replacing an old one).
pub fn write_pid(path: &Path) -> Result<(), NodeError> {
    write_pid_id(path, std::process::id())
}

/// Writes process id `pid` to `path`, replacing an old one atomically (temporary file, then
/// rename), so a reader never sees a half-written file.
pub fn write_pid_id(path: &Path, pid: u32) -> Result<(), NodeError> {
    let err =
        |e: std::io::Error| NodeError::new("io", format!("pid file `{}`: {e}", path.display()));
    // Named for the writing process: `tessera dev` and the signer it started both write it.
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, format!("{pid}\n")).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Resolves when the process gets SIGINT or SIGTERM. The handlers are installed when this is
/// called (inside a Tokio runtime), not when the future is first polled, so a signal that arrives
/// in between is not lost to the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    async move {
        let (Ok(mut int), Ok(mut term)) = (int, term) else {
            tracing::error!("cannot listen for signals; stop with SIGKILL");
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
