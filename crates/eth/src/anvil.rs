//! A local anvil node (Foundry's development Ethereum node) for tests and `tessera dev --with-anvil`:
//! started on a free loopback port, killed when dropped.

use std::env;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::error::{EthError, err};
use crate::rpc::Rpc;

/// Where `scripts/install-anvil` puts the binary, relative to the repository root.
pub const INSTALL_PATH: &str = ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
/// The chain id anvil uses unless `--chain-id` says otherwise.
pub const DEFAULT_CHAIN_ID: u64 = 31337;
/// How long anvil may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running anvil on `127.0.0.1`; dropping it kills the process.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    port: u16,
    chain_id: u64,
}

impl Anvil {
    /// Starts anvil with its defaults (chain id 31337, automine, ten funded dev accounts).
    pub fn start() -> Result<Anvil, EthError> {
        Anvil::start_with(&[])
    }

    /// Starts anvil with extra arguments (for example `["--chain-id", "5"]` or `["--no-mining"]`).
    /// The host and port are this function's: do not pass `--host` or `--port`. Codes:
    /// `anvil_not_found` (see [`binary`]), `anvil_failed`.
    pub fn start_with(args: &[&str]) -> Result<Anvil, EthError> {
        let binary = binary()?;
        let chain_id = chain_id_in(args)?;
        let failed = |why: String| err("anvil_failed", why);
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("cannot start `{}`: {e}", binary.display())))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let stderr = Arc::clone(&stderr);
            thread::spawn(move || keep_tail(pipe, &stderr));
        }
        let (port_tx, port_rx) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            // Reads until anvil says where it listens, then keeps draining so it never blocks on a
            // full pipe.
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(port) = listening_port(&line) {
                        let _sent = port_tx.send(port);
                    }
                }
            });
        }
        let port = match port_rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => port,
            Err(_) => {
                let _killed = child.kill();
                let _status = child.wait();
                let tail = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                return Err(failed(format!(
                    "`{}` did not start listening: {}",
                    binary.display(),
                    tail.trim()
                )));
            }
        };
        Ok(Anvil {
            child,
            port,
            chain_id,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The loopback port anvil listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The chain id anvil was started with.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The process id, for logs.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A JSON-RPC client of this node.
    pub fn rpc(&self) -> Result<Rpc, EthError> {
        Rpc::new(&self.url())
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _status = self.child.wait();
    }
}

/// Where the anvil binary is: the file named by the environment variable `TESSERA_ANVIL`; else
/// [`INSTALL_PATH`] under the current directory or one of its parents, or under the running
/// executable's directory or one of its parents; else `anvil` on `PATH`. Code `anvil_not_found`.
pub fn binary() -> Result<PathBuf, EthError> {
    if let Some(path) = env::var_os("TESSERA_ANVIL").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(err(
            "anvil_not_found",
            format!(
                "TESSERA_ANVIL is `{}`, which is not a file: run `scripts/install-anvil`",
                path.display()
            ),
        ));
    }
    let starts = [
        env::current_dir().ok(),
        env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf)),
    ];
    for start in starts.iter().flatten() {
        for dir in start.ancestors() {
            let candidate = dir.join(INSTALL_PATH);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    if let Some(path) = env::var_os("PATH") {
        for dir in env::split_paths(&path) {
            let candidate = dir.join("anvil");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(err(
        "anvil_not_found",
        format!(
            "no anvil binary: run `scripts/install-anvil` (it installs one at {INSTALL_PATH}), \
             or set TESSERA_ANVIL to one"
        ),
    ))
}

/// The port in anvil's `Listening on 127.0.0.1:PORT` line.
fn listening_port(line: &str) -> Option<u16> {
    let address = line.trim().strip_prefix("Listening on ")?;
    address.rsplit_once(':')?.1.trim().parse().ok()
}

/// The chain id set by `--chain-id N` or `--chain-id=N`, else anvil's default.
fn chain_id_in(args: &[&str]) -> Result<u64, EthError> {
    let mut value = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if *arg == "--chain-id" {
            value = it.next().copied();
        } else if let Some(v) = arg.strip_prefix("--chain-id=") {
            value = Some(v);
        } else if matches!(*arg, "--host" | "--port" | "-p") || arg.starts_with("--port=") {
            return Err(err(
                "anvil_failed",
                format!("`{arg}` is chosen by Anvil::start_with itself"),
            ));
        }
    }
    match value {
        None => Ok(DEFAULT_CHAIN_ID),
        Some(v) => v
            .parse()
            .map_err(|_| err("anvil_failed", format!("`--chain-id {v}` is not a number"))),
    }
}

/// Keeps the last few kilobytes of a stream, for an error message.
fn keep_tail(mut pipe: impl Read, tail: &Mutex<String>) {
    const KEEP: usize = 4096;
    let mut buf = [0u8; 1024];
    while let Ok(n) = pipe.read(&mut buf) {
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        if let Ok(mut tail) = tail.lock() {
            tail.push_str(&String::from_utf8_lossy(chunk));
            if tail.len() > KEEP {
                let cut = tail.len() - KEEP;
                let cut = (cut..tail.len())
                    .find(|&i| tail.is_char_boundary(i))
                    .unwrap_or(tail.len());
                tail.replace_range(..cut, "");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_listening_line() {
        assert_eq!(listening_port("Listening on 127.0.0.1:32825"), Some(32825));
        assert_eq!(listening_port("Chain ID"), None);
    }

    #[test]
    fn reads_the_chain_id_and_refuses_host_and_port() {
        assert_eq!(chain_id_in(&[]).unwrap(), 31337);
        assert_eq!(chain_id_in(&["--chain-id", "5"]).unwrap(), 5);
        assert_eq!(chain_id_in(&["--chain-id=7", "--no-mining"]).unwrap(), 7);
        assert!(chain_id_in(&["--port", "1"]).is_err());
        assert!(chain_id_in(&["--chain-id", "x"]).is_err());
    }
}
