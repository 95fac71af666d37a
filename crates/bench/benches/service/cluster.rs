//! A real `tessera dev` cluster for the service benchmark: the release `tessera` binary, started
//! on free loopback ports with its data directory under `$TMPDIR`, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Where the `tessera` binary is: `$TESSERA_BIN`, else beside this benchmark's own target
/// directory (`target/release/tessera`, which `cargo build --release -p tessera-cli` makes).
pub fn find_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TESSERA_BIN") {
        return PathBuf::from(path);
    }
    // This executable is `<target>/release/deps/service-<hash>`.
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let release = exe
        .parent()
        .and_then(Path::parent)
        .expect("the benchmark runs from <target>/<profile>/deps");
    let tessera = release.join("tessera");
    assert!(
        tessera.is_file(),
        "no `{}`: build it first with `cargo build --release -p tessera-cli --bin tessera`, \
         or set TESSERA_BIN",
        tessera.display()
    );
    tessera
}

/// A running `tessera dev`: the coordinator in the child process, each signer its own
/// grandchild process.
pub struct DevCluster {
    child: Child,
    dir: Option<TempDir>,
    /// The API's base URL.
    pub api: String,
    /// `dev.json`: the API URL and the client credentials.
    pub dev_json: Value,
}

impl DevCluster {
    /// Starts `tessera dev` (2-of-3, vaults with the fast test KDF) and waits until it serves.
    pub fn start(tessera: &Path) -> DevCluster {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("dev");
        let log = std::fs::File::create(dir.path().join("dev.log")).expect("dev.log");
        let child = Command::new(tessera)
            .args(["dev", "--listen", "127.0.0.1:0", "--fast-kdf", "--data-dir"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", tessera.display()));
        let mut cluster = DevCluster {
            child,
            dir: Some(dir),
            api: String::new(),
            dev_json: Value::Null,
        };
        let stdout = cluster.child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "tessera dev not ready in 2 min");
            let line = lines
                .next()
                .expect("tessera dev exited before it was ready")
                .expect("tessera dev's output");
            if line.contains("API at") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let text = std::fs::read_to_string(data.join("dev.json")).expect("dev.json");
        cluster.dev_json = serde_json::from_str(&text).expect("dev.json is JSON");
        cluster.api = cluster.dev_json["api_url"]
            .as_str()
            .expect("dev.json has api_url")
            .to_owned();
        cluster
    }

    /// The PEM private key file of client `id`.
    pub fn key_file(&self, id: &str) -> PathBuf {
        let clients = self.dev_json["clients"].as_array().expect("clients");
        let client = clients
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no client `{id}` in dev.json"));
        PathBuf::from(client["key_file"].as_str().expect("key_file"))
    }

    /// The process id of `tessera dev`, where the coordinator runs.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process id of signer `n`, from its pid file.
    pub fn signer_pid(&self, n: u16) -> u32 {
        let file = self.data_dir().join(format!("signer-{n}")).join("pid");
        let text = std::fs::read_to_string(&file).expect("signer pid file");
        text.trim().parse().expect("a pid")
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir
            .as_ref()
            .expect("data directory")
            .path()
            .join("dev")
    }
}

impl Drop for DevCluster {
    /// SIGTERM (the cluster stops its signers), SIGKILL after 30 s. After a panic the data
    /// directory and `dev.log` are kept for a look.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("cluster files kept in `{}`", dir.keep().display());
        }
    }
}
