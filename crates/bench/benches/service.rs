//! Threshold ECDSA (2-of-3) signing through the running service, against single-key `k256`
//! ECDSA and the bare threshold library, in one run, over the same EIP-191 messages.
//!
//! Rows (each signs distinct messages, the EIP-191 hash taken inside the timed part):
//!
//! - `k256 single key`: `sign_prehash_recoverable` with one ordinary key, in this thread.
//! - `dkls23 bare`: the library's three rounds and assembly for both signers, in this thread,
//!   messages passed in memory (`tessera_bench::ecdsa::bare`).
//! - `tessera_crypto in-process`: `EcdsaSign` for both signers in this thread: envelopes,
//!   encoding, sender checks, verification and key recovery (`tessera_bench::ecdsa`).
//! - `through the service, concurrency c`: `POST /v1/wallets/{id}/sign` with `message_hex` to a
//!   real `tessera dev` cluster (the release `tessera` binary: the coordinator in one process,
//!   each signer its own process, mutual TLS on loopback, SQLite stores under `$TMPDIR`), by `c`
//!   client threads, each on one kept-alive HTTP connection with a fresh token per request.
//!   Latency runs from sending the request to the last byte of the answer. Every signature is
//!   then recovered with `k256` to the wallet's address; one that does not stops the run. The
//!   cluster and the client are `tessera bench`'s (`tessera_cli::bench`).
//!
//! Throughput is signatures per second of wall-clock time for the whole row.
//!
//! ```sh
//! cargo build --release -p tessera-cli --bin tessera
//! cargo bench -p tessera-bench --bench service [-- --requests N]
//! ```
//!
//! `TESSERA_BIN` names another `tessera` binary. Figures are in `docs/BENCHMARKS.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "benchmark code: a failure should stop the run, and the report goes to stdout"
)]

use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use tessera_bench::ecdsa::{bare, tessera_key, tessera_sign};
use tessera_bench::eth::check_personal_signature;
use tessera_cli::bench::stats::{Summary, show};
use tessera_cli::bench::{Answer, DevCluster, procfs};

/// Signatures timed per row, unless `--requests N` says otherwise.
const DEFAULT_REQUESTS: usize = 500;

/// Untimed operations before each row.
const WARM_UP: usize = 20;

/// Client threads of the service rows.
const CONCURRENCY: [usize; 2] = [1, 4];

/// Appends timed by the `fsync` probe.
const FSYNC_PROBE: usize = 200;

fn main() {
    // `cargo test --benches` runs benchmarks without `--bench`: this one needs a release build
    // and a minute, so it only says so.
    if !std::env::args().any(|a| a == "--bench") {
        println!("service benchmark: run it with `cargo bench` (see docs/BENCHMARKS.md)");
        return;
    }
    let requests = requests_arg();
    let tessera = find_binary();
    println!("tessera binary: {}", tessera.display());
    println!(
        "cores: {}, load average before: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let mut run = [0u8; 8];
    OsRng.fill_bytes(&mut run);
    let run = hex::encode(run);
    // Each row of the service signs its own messages; the in-process rows sign the first set.
    let messages = |set: &str| -> Vec<Vec<u8>> {
        (0..requests)
            .map(|i| format!("tessera bench {run} {set} {i:05}: settle batch").into_bytes())
            .collect()
    };
    let warm = messages("warm-up");
    let mut rows: Vec<(String, Summary)> = Vec::new();

    let set = messages("c1");
    rows.push(("k256 single key".into(), single_key(&warm, &set)));
    rows.push(("dkls23 bare, 2-of-3".into(), dkls23_bare(&warm, &set)));
    rows.push((
        "tessera_crypto in-process, 2-of-3".into(),
        tessera_crypto(&warm, &set),
    ));

    let cluster = DevCluster::start(&tessera, 2, 3).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "fsync probe before (64-byte append + fsync, p50 / p99): {}",
        fsync_probe(&cluster.data_dir())
    );
    let admin = cluster.client("admin-1").expect("client admin-1");
    let created = admin
        .post(
            "/v1/wallets",
            &json!({"name": "bench", "scheme": "ecdsa-secp256k1", "chain": "ethereum"}),
        )
        .expect("POST /v1/wallets");
    assert_eq!(created.status, 201, "creating the wallet: {}", created.body);
    println!(
        "wallet created (2-of-3 DKG through the service) in {}",
        show(created.latency)
    );
    let wallet = Wallet::from(&created.body);
    let mut checked = 0;
    for c in CONCURRENCY {
        let warm_tag = format!("warm-up-c{c}");
        let warm = &messages(&warm_tag)[..WARM_UP];
        let warm_answers = through_service(&cluster, &wallet, warm, 1, &warm_tag);
        checked += check_answers(&wallet, warm, &warm_answers.answers);
        let set = if c == 1 {
            set.clone()
        } else {
            messages(&format!("c{c}"))
        };
        let pids: Vec<u32> = std::iter::once(cluster.pid())
            .chain((1..=3).map(|n| cluster.signer_pid(n).expect("signer pid")))
            .collect();
        let cpu_before: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p)).collect();
        let timed = through_service(&cluster, &wallet, &set, c, &format!("c{c}"));
        let cpu: Vec<String> = pids
            .iter()
            .zip(cpu_before)
            .map(|(p, before)| {
                let ms =
                    cpu_ticks(*p).saturating_sub(before) as f64 * 1e3 / procfs::CLOCK_TICKS_PER_SEC;
                format!("{:.2} ms", ms / set.len() as f64)
            })
            .collect();
        println!(
            "concurrency {c}: CPU time per signature: coordinator {}, signers {}",
            cpu[0],
            cpu[1..].join(", ")
        );
        checked += check_answers(&wallet, &set, &timed.answers);
        let latencies = timed.answers.iter().map(|(_, a)| a.latency).collect();
        let summary = Summary::new(latencies, timed.wall).expect("requests");
        rows.push((format!("through the service, concurrency {c}"), summary));
    }
    println!("fsync probe after: {}", fsync_probe(&cluster.data_dir()));
    println!(
        "peak resident memory: coordinator (tessera dev) {}, signers {}",
        peak_rss(cluster.pid()),
        (1..=3)
            .map(|n| peak_rss(cluster.signer_pid(n).expect("signer pid")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    cluster.stop().expect("stopping the cluster");
    println!("load average after: {}", load_average());
    println!(
        "all {checked} signatures from the service recovered to the wallet's address {}",
        wallet.address
    );
    println!();
    report(&rows);
}

/// `--requests N` among the arguments (cargo adds `--bench`).
fn requests_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--requests") {
        Some(i) => {
            let n: usize = args
                .get(i + 1)
                .and_then(|n| n.parse().ok())
                .expect("--requests takes a number");
            assert!(n >= WARM_UP, "--requests must be at least {WARM_UP}");
            n
        }
        None => DEFAULT_REQUESTS,
    }
}

/// Runs `op` on `WARM_UP` messages of `warm` untimed, then on each of `set`, timed; `op` gets a
/// number never given before and the message.
fn timed(warm: &[Vec<u8>], set: &[Vec<u8>], mut op: impl FnMut(u64, &[u8])) -> Summary {
    let mut n = 0u64;
    for m in warm.iter().take(WARM_UP) {
        n += 1;
        op(n, m);
    }
    let mut latencies = Vec::with_capacity(set.len());
    let start = Instant::now();
    for m in set {
        n += 1;
        let t = Instant::now();
        op(n, m);
        latencies.push(t.elapsed());
    }
    Summary::new(latencies, start.elapsed()).expect("operations")
}

fn eip191(message: &[u8]) -> [u8; 32] {
    tessera_eth::personal_message_hash(message).0
}

fn address_of(sec1: &[u8]) -> String {
    tessera_eth::checksummed(&tessera_eth::address_of(sec1).expect("a public key"))
}

fn single_key(warm: &[Vec<u8>], set: &[Vec<u8>]) -> Summary {
    let key = k256::ecdsa::SigningKey::random(&mut OsRng);
    let address = address_of(key.verifying_key().to_encoded_point(true).as_bytes());
    let (sig, v) = key
        .sign_prehash_recoverable(&eip191(&set[0]))
        .expect("sign");
    let mut bytes = sig.to_bytes().to_vec();
    bytes.push(v.to_byte() + 27);
    check_personal_signature(&set[0], &bytes, &address).expect("k256 signs what is checked");
    timed(warm, set, |_, m| {
        black_box(key.sign_prehash_recoverable(&eip191(m)).expect("sign"));
    })
}

fn dkls23_bare(warm: &[Vec<u8>], set: &[Vec<u8>]) -> Summary {
    let parties = bare::dkg(2, 3);
    timed(warm, set, |n, m| {
        black_box(bare::sign(
            &[&parties[0], &parties[1]],
            eip191(m),
            &n.to_be_bytes(),
        ));
    })
}

fn tessera_crypto(warm: &[Vec<u8>], set: &[Vec<u8>]) -> Summary {
    let keys = tessera_key();
    let shares = [&keys[0].share, &keys[1].share];
    let address = address_of(&keys[0].group.public_key());
    let mut bytes = tessera_sign(&shares, eip191(&set[0]), 0).to_bytes();
    bytes[64] += 27;
    check_personal_signature(&set[0], &bytes, &address).expect("tessera_crypto signs correctly");
    timed(warm, set, |n, m| {
        black_box(tessera_sign(&shares, eip191(m), n));
    })
}

/// The wallet the service rows sign with.
struct Wallet {
    id: String,
    address: String,
}

impl Wallet {
    /// From the answer to `POST /v1/wallets`, after checking that its address is its key's.
    fn from(body: &Value) -> Wallet {
        let public_key = hex::decode(body["public_key"].as_str().expect("public_key"))
            .expect("public_key is hex");
        let address = body["address"].as_str().expect("address").to_owned();
        assert_eq!(address_of(&public_key), address, "the wallet's address");
        Wallet {
            id: body["id"].as_str().expect("id").to_owned(),
            address,
        }
    }
}

/// The answers of one service row, with the message index each answers.
struct Timed {
    answers: Vec<(usize, Answer)>,
    wall: Duration,
}

/// What one client thread did: when it started and ended, and its answers.
struct Worker {
    start: Instant,
    end: Instant,
    answers: Vec<(usize, Answer)>,
}

/// Signs every message of `messages` through the API, from `concurrency` client threads taking
/// every `concurrency`-th message; idempotency keys are `<tag>-<index>`.
fn through_service(
    cluster: &DevCluster,
    wallet: &Wallet,
    messages: &[Vec<u8>],
    concurrency: usize,
    tag: &str,
) -> Timed {
    let path = format!("/v1/wallets/{}/sign", wallet.id);
    let barrier = Barrier::new(concurrency);
    let workers: Vec<Worker> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency)
            .map(|w| {
                let (path, barrier) = (&path, &barrier);
                s.spawn(move || {
                    let client = cluster.client("trader").expect("client trader");
                    barrier.wait();
                    let start = Instant::now();
                    let mut answers = Vec::new();
                    for (i, m) in messages.iter().enumerate().skip(w).step_by(concurrency) {
                        let body = json!({
                            "message_hex": hex::encode(m),
                            "idempotency_key": format!("{tag}-{i}"),
                        });
                        let answer = client.post(path, &body);
                        answers.push((i, answer.unwrap_or_else(|e| panic!("POST {path}: {e}"))));
                    }
                    Worker {
                        start,
                        end: Instant::now(),
                        answers,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let start = workers.iter().map(|w| w.start).min().expect("a client");
    let end = workers.iter().map(|w| w.end).max().expect("a client");
    Timed {
        answers: workers.into_iter().flat_map(|w| w.answers).collect(),
        wall: end - start,
    }
}

/// Stops the run unless every answer is `200` with a signature that recovers to the wallet's
/// address over the EIP-191 hash of the message it was asked to sign. Returns how many it checked.
fn check_answers(wallet: &Wallet, messages: &[Vec<u8>], answers: &[(usize, Answer)]) -> usize {
    assert_eq!(answers.len(), messages.len(), "one answer per message");
    for (i, a) in answers {
        assert_eq!(a.status, 200, "request {i} failed: {}", a.body);
        let sig = a.body["signature_hex"]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .unwrap_or_else(|| panic!("request {i}: no signature in {}", a.body));
        if let Err(e) = check_personal_signature(&messages[*i], &sig, &wallet.address) {
            panic!("request {i}: WRONG SIGNATURE from the service: {e}");
        }
    }
    answers.len()
}

/// p50 / p99 of a 64-byte append and `fsync` in `dir`, the cost of one durable write there.
fn fsync_probe(dir: &Path) -> String {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    let mut latencies = Vec::with_capacity(FSYNC_PROBE);
    let start = Instant::now();
    for _ in 0..FSYNC_PROBE {
        let t = Instant::now();
        file.write_all(&[0x5a; 64]).expect("append");
        file.sync_all().expect("fsync");
        latencies.push(t.elapsed());
    }
    let _ = std::fs::remove_file(&path);
    let s = Summary::new(latencies, start.elapsed()).expect("probes");
    format!("{} / {}", show(s.p50), show(s.p99))
}

/// Peak resident set size of process `pid` (`VmHWM`), in MiB.
fn peak_rss(pid: u32) -> String {
    procfs::peak_rss_kib(pid).map_or_else(
        || "?".to_owned(),
        |kb| format!("{:.1} MiB", kb as f64 / 1024.0),
    )
}

/// User and system CPU time of process `pid` and all its threads, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    procfs::cpu_ticks(pid).expect("/proc/<pid>/stat")
}

fn load_average() -> String {
    procfs::load_average().map_or_else(|| "?".to_owned(), |[a, b, c]| format!("{a} {b} {c}"))
}

/// Where the `tessera` binary is: `$TESSERA_BIN`, else beside this benchmark's own target
/// directory (`target/release/tessera`, which `cargo build --release -p tessera-cli` makes).
fn find_binary() -> PathBuf {
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

/// The rows as a Markdown table.
fn report(rows: &[(String, Summary)]) {
    println!("| ECDSA secp256k1 | signatures | p50 | p99 | throughput |");
    println!("|---|---|---|---|---|");
    for (name, s) in rows {
        println!(
            "| {name} | {} | {} | {} | {:.1}/s |",
            s.count,
            show(s.p50),
            show(s.p99),
            s.throughput()
        );
    }
}
