//! Shared by the multi-process tests: starting `tessera dev` or single daemons, signing
//! requests with an independent JWT library (`jsonwebtoken`, not the project's own helper), and
//! plain HTTP with `ureq`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    reason = "test code: a failed unwrap is a failed test; each test file uses part of this"
)]

pub mod eth;
pub mod rogue;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const TESSERA: &str = env!("CARGO_BIN_EXE_tessera");

pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Anything that sends client-signed requests to an API.
pub trait Api {
    /// Sends a request signed by client `id`.
    fn call(&self, id: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value);
}

impl Api for Dev {
    fn call(&self, id: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        Dev::call(self, id, method, path, body)
    }
}

impl Api for Manual {
    fn call(&self, id: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        Manual::call(self, id, method, path, body)
    }
}

/// `POST /v1/wallets` as `admin-1`; must answer 201.
pub fn create_wallet(c: &impl Api, name: &str, scheme: &str) -> Value {
    let (status, w) = c.call(
        "admin-1",
        "POST",
        "/v1/wallets",
        Some(&json!({"name": name, "scheme": scheme})),
    );
    assert_eq!(status, 201, "{w}");
    assert_eq!(w["name"], name);
    assert_eq!(w["scheme"], scheme);
    assert_eq!(w["public_key"].as_str().unwrap().len(), 64);
    w
}

/// `POST /v1/wallets/{id}/sign` as `trader`.
pub fn sign(c: &impl Api, wallet: &Value, payload: &[u8], key: &str) -> (u16, Value) {
    c.call(
        "trader",
        "POST",
        &format!("/v1/wallets/{}/sign", wallet["id"].as_str().unwrap()),
        Some(&json!({"payload_hex": hex::encode(payload), "idempotency_key": key})),
    )
}

/// Checks an answer's signature under the wallet's key, independently.
pub fn check(wallet: &Value, payload: &[u8], answer: &Value) {
    verify_independently(
        wallet["scheme"].as_str().unwrap(),
        wallet["public_key"].as_str().unwrap(),
        payload,
        answer["signature_hex"].as_str().unwrap(),
    );
}

/// A running `tessera dev`.
pub struct Dev {
    pub dir: PathBuf,
    pub child: Child,
    pub api: String,
    pub dev_json: Value,
}

impl Dev {
    /// Starts `tessera dev` on free ports with fast vault keys, and waits until it is ready.
    pub fn start(dir: &Path, extra: &[&str]) -> Dev {
        let mut child = Command::new(TESSERA)
            .args(["dev", "--listen", "127.0.0.1:0", "--fast-kdf", "--data-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(
                Instant::now() < deadline,
                "tessera dev did not become ready"
            );
            let line = lines
                .next()
                .expect("tessera dev exited before it was ready")
                .unwrap();
            if line.contains("API at") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let dev_json: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("dev.json")).unwrap()).unwrap();
        let api = dev_json["api_url"].as_str().unwrap().to_owned();
        Dev {
            dir: dir.to_owned(),
            child,
            api,
            dev_json,
        }
    }

    /// The PEM key file of client `id`, from `dev.json`.
    pub fn key(&self, id: &str) -> Vec<u8> {
        client_key(&self.dev_json, id)
    }

    /// Sends a request signed by client `id`.
    pub fn call(&self, id: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        call(&self.api, &self.dev_json, id, method, path, body)
    }

    /// The process id of signer `n`, from its pid file.
    pub fn signer_pid(&self, n: u16) -> i32 {
        let text =
            std::fs::read_to_string(self.dir.join(format!("signer-{n}")).join("pid")).unwrap();
        text.trim().parse().unwrap()
    }

    /// SIGTERM, and the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        signal(self.child.id(), libc_sigterm());
        wait_timeout(&mut self.child, Duration::from_secs(30))
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn libc_sigterm() -> i32 {
    15
}

pub fn signal(pid: u32, sig: i32) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid}");
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The PEM key file of client `id`, from a `dev.json`.
pub fn client_key(dev_json: &Value, id: &str) -> Vec<u8> {
    let c = dev_json["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no client {id} in dev.json"));
    std::fs::read(c["key_file"].as_str().unwrap()).unwrap()
}

/// Sends a request to `api`, signed by client `id` with a fresh token.
pub fn call(
    api: &str,
    dev_json: &Value,
    id: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let token = token(&client_key(dev_json, id), id, method, path, &body, now());
    send(api, method, path, Some(&token), &body)
}

/// A client token made with `jsonwebtoken`, exactly as the contract describes.
pub fn token(pem: &[u8], sub: &str, method: &str, path: &str, body: &[u8], iat: i64) -> String {
    token_with(pem, sub, method, path, body, iat, iat + 60, &random_jti())
}

#[allow(
    clippy::too_many_arguments,
    reason = "every claim of the contract, spelled out"
)]
pub fn token_with(
    pem: &[u8],
    sub: &str,
    method: &str,
    path: &str,
    body: &[u8],
    iat: i64,
    exp: i64,
    jti: &str,
) -> String {
    let claims = json!({
        "sub": sub,
        "iat": iat,
        "exp": exp,
        "jti": jti,
        "method": method,
        "path": path,
        "body_sha256": hex::encode(Sha256::digest(body)),
    });
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_pem(pem).unwrap()).unwrap()
}

pub fn random_jti() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Plain HTTP; any status is an answer.
pub fn send(api: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
    try_send(api, method, path, token, body).unwrap()
}

/// Plain HTTP; `Err` when there is no answer at all (nothing listening, connection cut).
pub fn try_send(
    api: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<(u16, Value), ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let url = format!("{api}{path}");
    let mut resp = match method {
        "GET" => {
            let mut r = agent.get(&url);
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.call()?
        }
        "POST" => {
            let mut r = agent.post(&url).header("Content-Type", "application/json");
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.send(body)?
        }
        other => panic!("method {other}"),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string()?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

/// Checks a signature with libraries independent of the FROST code that made it (ed25519-dalek,
/// k256).
pub fn verify_independently(scheme: &str, public_key_hex: &str, message: &[u8], sig_hex: &str) {
    let scheme: tessera_types::Scheme = scheme.parse().unwrap();
    let pk = hex::decode(public_key_hex).unwrap();
    let sig = hex::decode(sig_hex).unwrap();
    tessera_cli::independent_verify(scheme, &pk, message, &sig).unwrap();
}

/// A cluster whose processes the test starts and kills itself (no supervisor): `tessera signer`
/// and `tessera coordinator` from the configurations `tessera dev` wrote.
pub struct Manual {
    pub dir: PathBuf,
    pub signers: Vec<Option<Child>>,
    pub coordinator: Option<Child>,
    pub api: String,
    pub dev_json: Value,
    pub coordinator_log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Manual {
    /// Writes a cluster of `n` signers with threshold `t` under `dir` (by running `tessera dev`
    /// once) and starts nothing.
    pub fn prepare(dir: &Path, t: u16, n: u16) -> Manual {
        Manual::prepare_with(dir, t, n, &[])
    }

    /// [`Manual::prepare`] with more `tessera dev` flags.
    pub fn prepare_with(dir: &Path, t: u16, n: u16, extra: &[&str]) -> Manual {
        let (t_text, n_text) = (t.to_string(), n.to_string());
        let mut args = vec!["--threshold", t_text.as_str(), "--signers", n_text.as_str()];
        args.extend_from_slice(extra);
        let dev = Dev::start(dir, &args);
        let dev_json = dev.dev_json.clone();
        assert!(dev.stop().success());
        Manual {
            dir: dir.to_owned(),
            signers: (0..n).map(|_| None).collect(),
            coordinator: None,
            api: String::new(),
            dev_json,
            coordinator_log: Default::default(),
        }
    }

    /// Starts signer `n`; a Byzantine one corrupts every signature share it sends.
    pub fn start_signer(&mut self, n: u16, byzantine: bool) {
        self.start_signer_as(n, byzantine.then_some("bad-share"));
    }

    /// Starts signer `n`, Byzantine in `mode` when given (see `src/bin/byzantine_signer.rs`).
    pub fn start_signer_as(&mut self, n: u16, byzantine: Option<&str>) {
        let config = self.dir.join(format!("signer-{n}/signer.toml"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("signer-{n}/signer.log")))
            .unwrap();
        let mut cmd = if let Some(mode) = byzantine {
            let mut c = Command::new(env!("CARGO_BIN_EXE_tessera-byzantine-signer"));
            c.arg("--config").arg(&config);
            c.env("TESSERA_BYZANTINE_MODE", mode);
            c
        } else {
            let mut c = Command::new(TESSERA);
            c.arg("signer").arg("--config").arg(&config);
            c
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let addr = signer_addr(&self.dir, n);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut child = child;
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "signer {n} did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "signer {n} exited although {addr} answers: is the port taken?"
        );
        *self.signers.get_mut(usize::from(n - 1)).unwrap() = Some(child);
    }

    /// SIGKILLs signer `n`.
    pub fn kill_signer(&mut self, n: u16) {
        if let Some(mut c) = self.signers.get_mut(usize::from(n - 1)).unwrap().take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Starts the coordinator and waits for its API.
    pub fn start_coordinator(&mut self) {
        let mut child = Command::new(TESSERA)
            .args(["coordinator", "--log-json", "--config"])
            .arg(self.dir.join("coordinator.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::clone(&self.coordinator_log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && let Some(api) = v["fields"]["api"].as_str()
                {
                    let _ = tx.send(api.to_owned());
                }
                log.lock().unwrap().push(line);
            }
        });
        self.api = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("coordinator did not report its API address");
        self.coordinator = Some(child);
    }

    /// SIGKILLs the coordinator.
    pub fn kill_coordinator(&mut self) {
        if let Some(mut c) = self.coordinator.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// The PEM key file of client `id`.
    pub fn key(&self, id: &str) -> Vec<u8> {
        client_key(&self.dev_json, id)
    }

    /// Sends a request signed by client `id`.
    pub fn call(&self, id: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        call(&self.api, &self.dev_json, id, method, path, body)
    }
}

impl Drop for Manual {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the processes said, for a failure seen only in CI.
            for n in 1..=self.signers.len() {
                let log = self.dir.join(format!("signer-{n}/signer.log"));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!("--- signer {n} log (last lines, newest first)");
                for l in tail {
                    eprintln!("{l}");
                }
            }
            eprintln!("--- coordinator log");
            if let Ok(log) = self.coordinator_log.lock() {
                for l in log.iter().rev().take(40) {
                    eprintln!("{l}");
                }
            }
        }
        for c in self.signers.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(c) = self.coordinator.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The address signer `n` listens on, from its configuration.
pub fn signer_addr(dir: &Path, n: u16) -> std::net::SocketAddr {
    let text = std::fs::read_to_string(dir.join(format!("signer-{n}/signer.toml"))).unwrap();
    let line = text.lines().find(|l| l.starts_with("listen = ")).unwrap();
    line.trim_start_matches("listen = ")
        .trim_matches('"')
        .parse()
        .unwrap()
}
