//! A real `tessera dev` cluster for benchmarks: a `tessera` executable started as `tessera dev`
//! on free loopback ports, its data directory in a temporary directory, stopped with SIGTERM and
//! the directory removed when it is dropped or [`DevCluster::stop`]ped.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::client::ApiClient;
use crate::CliError;
use crate::client::Connection;

/// How long `tessera dev` may take to serve (its signers start and their stores open).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long `tessera dev` may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The line `tessera dev` prints once its API serves.
const READY_MARK: &str = "API at";

/// Lines of `dev.log` quoted when the cluster fails to start.
const LOG_TAIL: usize = 8;

/// A running `tessera dev`: the coordinator and its API in the child process, each signer a
/// process of its own that `tessera dev` supervises.
#[derive(Debug)]
pub struct DevCluster {
    child: Child,
    dir: Option<TempDir>,
    api: String,
}

impl DevCluster {
    /// Starts `exe dev --listen 127.0.0.1:0 --fast-kdf --threshold T --signers N` with its data
    /// directory in a new temporary directory, and waits until its API serves. Its logs go to
    /// `dev.log` beside the data directory.
    pub fn start(exe: &Path, threshold: u16, signers: u16) -> Result<DevCluster, CliError> {
        let dir = tempfile::Builder::new()
            .prefix("tessera-bench-")
            .tempdir()
            .map_err(|e| CliError::new(format!("cannot create a temporary directory: {e}")))?;
        let log_path = dir.path().join("dev.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| CliError::new(format!("`{}`: {e}", log_path.display())))?;
        let child = Command::new(exe)
            .args(["dev", "--listen", "127.0.0.1:0", "--fast-kdf"])
            .arg("--threshold")
            .arg(threshold.to_string())
            .arg("--signers")
            .arg(signers.to_string())
            .arg("--data-dir")
            .arg(dir.path().join("dev"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| CliError::new(format!("cannot start `{} dev`: {e}", exe.display())))?;
        let mut cluster = DevCluster {
            child,
            dir: Some(dir),
            api: String::new(),
        };
        cluster.wait_ready()?;
        let dev = cluster.data_dir();
        let text = std::fs::read_to_string(dev.join("dev.json"))
            .map_err(|e| CliError::new(format!("`{}/dev.json`: {e}", dev.display())))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::new(format!("`{}/dev.json`: {e}", dev.display())))?;
        cluster.api = json
            .get("api_url")
            .and_then(|v| v.as_str())
            .ok_or_else(|| CliError::new("dev.json has no `api_url`"))?
            .to_owned();
        Ok(cluster)
    }

    /// Reads the child's stdout until it says it serves; keeps draining it afterwards.
    fn wait_ready(&mut self) -> Result<(), CliError> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| CliError::new("tessera dev's output is not piped"))?;
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains(READY_MARK)
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(()) => Ok(()),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(CliError::new(format!(
                "tessera dev exited before it served{}",
                self.log_tail()
            ))),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(CliError::new(format!(
                "tessera dev did not serve within {} s{}",
                READY_TIMEOUT.as_secs(),
                self.log_tail()
            ))),
        }
    }

    /// The last lines of `dev.log`, as `; dev.log ends: ...`, or nothing.
    fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let text = std::fs::read_to_string(dir.path().join("dev.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines
            .get(lines.len().saturating_sub(LOG_TAIL)..)
            .unwrap_or(&[]);
        if tail.is_empty() {
            String::new()
        } else {
            format!("; dev.log ends:\n{}", tail.join("\n"))
        }
    }

    /// The API's base URL, `http://127.0.0.1:PORT`.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// The temporary directory that holds everything: `dev.log` and the data directory.
    pub fn dir(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default()
    }

    /// The cluster's data directory (`dev.json`, each node's store and keys).
    pub fn data_dir(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().join("dev"))
            .unwrap_or_default()
    }

    /// An API client acting as client `id` of `dev.json`, on one kept-alive connection.
    pub fn client(&self, id: &str) -> Result<ApiClient, CliError> {
        let client = tessera_auth::ClientId::new(id).map_err(|e| CliError::new(e.message()))?;
        ApiClient::new(&Connection {
            dev_dir: self.data_dir(),
            api_url: None,
            client: Some(client),
            key_file: None,
            json: false,
        })
    }

    /// The process id of `tessera dev`, where the coordinator runs.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process id of signer `n` (from 1), from its pid file.
    pub fn signer_pid(&self, n: u16) -> Result<u32, CliError> {
        let file = self.data_dir().join(format!("signer-{n}")).join("pid");
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| CliError::new(format!("no pid in `{}`", file.display())))
    }

    /// Stops the cluster (SIGTERM; SIGKILL after 30 s) and removes its directory. An error says
    /// that it had to be killed or exited with a failure; the directory is removed regardless.
    pub fn stop(mut self) -> Result<(), CliError> {
        let result = self.terminate();
        let removed = self.remove_dir();
        result.and(removed)
    }

    fn terminate(&mut self) -> Result<(), CliError> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(CliError::new(format!(
                "tessera dev had already exited ({status})"
            )));
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(CliError::new(format!("tessera dev stopped with {status}")));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(CliError::new(format!("waiting for tessera dev: {e}"))),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(CliError::new(format!(
            "tessera dev did not stop within {} s of SIGTERM and was killed",
            STOP_TIMEOUT.as_secs()
        )))
    }

    fn remove_dir(&mut self) -> Result<(), CliError> {
        match self.dir.take() {
            Some(dir) => {
                let path = dir.path().to_owned();
                dir.close()
                    .map_err(|e| CliError::new(format!("cannot remove `{}`: {e}", path.display())))
            }
            None => Ok(()),
        }
    }
}

impl Drop for DevCluster {
    /// On an early return: the same as [`DevCluster::stop`], errors ignored.
    fn drop(&mut self) {
        if self.dir.is_some() {
            let _ = self.terminate();
            let _ = self.remove_dir();
        }
    }
}
