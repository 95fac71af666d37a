//! A signer process is SIGKILLed at every step of a signing round, and at random moments, many
//! times; after each kill it is restarted and fed the same request again and forgeries that
//! reuse its nonce. Across everything the process ever emitted, no nonce signed twice, every
//! emitted share was recorded as consumed before it left, and every emitted share is genuine.
//!
//! Iterations: `TESSERA_CRASH_ROUNDS` kills per step and scheme (default 20) and
//! `TESSERA_CRASH_RANDOM` random-time kills per scheme (default 150).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use rand::Rng;
use tessera_coordinator::generate_key;
use tessera_crypto::{Commitment, GroupKey, NonceId, SignatureShare, SigningPackage, aggregate};
use tessera_signer::{Signer, package_digest};
use tessera_store::{NonceState, Store};
use tessera_testkit::{independent_verify, links, signers, store_path};
use tessera_types::{KeyId, Scheme, Threshold};

/// Where to kill the process: at a step of the round, after the share was written, or at a
/// random time.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kill {
    At(&'static str),
    AfterOutput,
    Random(u64),
}

const STEPS: [&str; 4] = [
    "received",
    "nonce_taken",
    "nonce_consumed",
    "share_computed",
];

struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Process {
    fn spawn(store: &Path, stepping: bool) -> Self {
        let mut p = Self::spawn_raw(store, stepping);
        let ready = p.line();
        assert!(ready.starts_with("ready "), "{ready}");
        p
    }

    /// Spawns without reading the `ready` line.
    fn spawn_raw(store: &Path, stepping: bool) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-signer"))
            .arg(store)
            .env("TESSERA_CRASH_STEPPING", if stepping { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, line: &str) {
        // The process may be dead already (random kills); the answer then never comes.
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).unwrap();
        s.trim().to_owned()
    }

    fn commit(&mut self, key: &KeyId) -> Commitment {
        self.send(&format!("commit {key} 1"));
        let line = self.line();
        let hex = line
            .strip_prefix("commitments ")
            .unwrap_or_else(|| panic!("{line}"));
        Commitment::from_bytes(&hex::decode(hex).unwrap()).unwrap()
    }

    /// SIGKILL, then reap.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Everything the signer process ever let out.
#[derive(Default)]
struct Emitted {
    /// Per nonce: the packages (as bytes) for which a share came out.
    shares: BTreeMap<NonceId, Vec<Vec<u8>>>,
    kills: usize,
    refused_replays: usize,
}

struct Setup {
    _dir: tempfile::TempDir,
    victim: PathBuf,
    partner: Signer,
    keys: Vec<(KeyId, GroupKey)>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut s = signers(dir.path(), 3).unwrap();
    let mut keys = Vec::new();
    for scheme in Scheme::FROST {
        let key = KeyId::new(scheme.name()).unwrap();
        let group = generate_key(
            &mut links(&mut s),
            &key,
            scheme,
            Threshold::new(2, 3).unwrap(),
            None,
        )
        .unwrap();
        keys.push((key, group));
    }
    let mut s = s.into_iter();
    drop(s.next()); // party 1 runs as a separate process from now on
    let partner = s.next().unwrap();
    Setup {
        victim: store_path(dir.path(), 1),
        _dir: dir,
        partner,
        keys,
    }
}

/// One round against a fresh process, killed as `kill` says; then a restarted process is
/// asked to sign the same package and a forgery with the same nonce.
fn round(
    setup: &mut Setup,
    key: &KeyId,
    group: &GroupKey,
    kill: Kill,
    i: usize,
    out: &mut Emitted,
) {
    let mut p = Process::spawn(
        &setup.victim,
        matches!(kill, Kill::At(_) | Kill::AfterOutput),
    );
    let mine = p.commit(key);
    let nonce = mine.id().unwrap();
    let theirs = setup.partner.commit(key, 1).unwrap().remove(0);
    let message = format!("{kill:?} #{i}");
    let package = SigningPackage::new(message.as_bytes(), vec![mine.clone(), theirs]).unwrap();
    let bytes = package.to_bytes().unwrap();
    p.send(&format!("sign {key} {}", hex::encode(&bytes)));

    let mut share = None;
    match kill {
        Kill::Random(micros) => {
            std::thread::sleep(Duration::from_micros(micros));
            p.child.kill().unwrap();
            p.child.wait().unwrap();
            // Whatever it wrote before dying is out in the world: drain the pipe.
            let mut rest = String::new();
            while p.stdout.read_line(&mut rest).unwrap_or(0) > 0 {}
            share = rest
                .lines()
                .find_map(|l| l.strip_prefix("share ").map(str::to_owned));
        }
        Kill::At(_) | Kill::AfterOutput => loop {
            let line = p.line();
            if let Some(step) = line.strip_prefix("step ") {
                if kill == Kill::At(STEPS.iter().find(|s| **s == step).copied().unwrap()) {
                    p.kill();
                    break;
                }
                p.send("go");
            } else if let Some(hex) = line.strip_prefix("share ") {
                share = Some(hex.to_owned());
                p.kill();
                break;
            } else {
                panic!("unexpected answer {line}");
            }
        },
    }
    out.kills += 1;
    if let Some(hex) = &share {
        record_share(setup, key, group, &package, hex, out);
    }

    // What the ledger says right after the kill, before any restart.
    let state = Store::open(&setup.victim)
        .unwrap()
        .nonce(&nonce.0)
        .unwrap()
        .map(|r| r.state);
    match kill {
        Kill::At("received" | "nonce_taken") => {
            assert_eq!(state, Some(NonceState::Issued), "{kill:?}")
        }
        Kill::At(_) | Kill::AfterOutput => {
            assert_eq!(state, Some(NonceState::Consumed), "{kill:?}")
        }
        Kill::Random(_) => assert!(matches!(
            state,
            Some(NonceState::Issued | NonceState::Consumed)
        )),
    }
    if share.is_some() {
        assert_eq!(
            state,
            Some(NonceState::Consumed),
            "a share left before its nonce was recorded"
        );
    }

    // Restarted, the signer must refuse the same request and any forgery with that nonce.
    let mut p = Process::spawn(&setup.victim, false);
    let fresh_partner = setup.partner.commit(key, 1).unwrap().remove(0);
    let forged = SigningPackage::new(b"forged", vec![mine, fresh_partner]).unwrap();
    for attempt in [bytes.clone(), forged.to_bytes().unwrap()] {
        p.send(&format!("sign {key} {}", hex::encode(&attempt)));
        let answer = p.line();
        assert_eq!(
            answer, "error nonce_unavailable",
            "after {kill:?}: {answer}"
        );
        out.refused_replays += 1;
    }
    p.kill();
    let rec = Store::open(&setup.victim)
        .unwrap()
        .nonce(&nonce.0)
        .unwrap()
        .unwrap();
    assert_ne!(
        rec.state,
        NonceState::Issued,
        "a restart leaves no old nonce usable"
    );
}

/// A share that came out: it must be genuine (combines with the partner's share into a valid
/// signature), and the ledger must hold its nonce as consumed for exactly this package.
fn record_share(
    setup: &mut Setup,
    key: &KeyId,
    group: &GroupKey,
    package: &SigningPackage,
    hex: &str,
    out: &mut Emitted,
) {
    let share = SignatureShare::from_bytes(&hex::decode(hex).unwrap()).unwrap();
    let partner = setup.partner.sign(key, package).unwrap();
    let sig = aggregate(group, package, &[share, partner]).unwrap();
    assert!(independent_verify(
        group.scheme(),
        &group.public_key(),
        package.message(),
        sig.to_bytes()
    ));
    let mine = package
        .commitment(tessera_types::PartyId::new(1).unwrap())
        .unwrap();
    let rec = Store::open(&setup.victim)
        .unwrap()
        .nonce(&mine.id().unwrap().0)
        .unwrap()
        .unwrap();
    assert_eq!(
        rec.signed_digest,
        Some(package_digest(key, package).unwrap())
    );
    out.shares
        .entry(mine.id().unwrap())
        .or_default()
        .push(package.to_bytes().unwrap());
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn sigkill_at_every_step_and_at_random_never_reuses_a_nonce() {
    let mut setup = setup();
    let rounds = env_count("TESSERA_CRASH_ROUNDS", 20);
    let random = env_count("TESSERA_CRASH_RANDOM", 150);
    let mut out = Emitted::default();
    let mut rng = rand::thread_rng();
    let keys = setup.keys.clone();
    for (key, group) in &keys {
        for i in 0..rounds {
            for step in STEPS {
                round(&mut setup, key, group, Kill::At(step), i, &mut out);
            }
            round(&mut setup, key, group, Kill::AfterOutput, i, &mut out);
        }
        for i in 0..random {
            let micros = rng.gen_range(0..30_000);
            round(&mut setup, key, group, Kill::Random(micros), i, &mut out);
        }
    }

    // Zero reuse: no nonce ever produced shares for two packages (or twice at all).
    for (nonce, packages) in &out.shares {
        assert_eq!(
            packages.len(),
            1,
            "nonce {nonce} signed {} times",
            packages.len()
        );
    }
    // The whole ledger: every consumed nonce has one digest; nothing is left issued from an
    // earlier boot once a new one starts.
    let mut store = Store::open(&setup.victim).unwrap();
    store.start_boot().unwrap();
    let ledger = store.nonces().unwrap();
    assert!(ledger.iter().all(|r| r.state != NonceState::Issued));
    assert!(
        ledger
            .iter()
            .all(|r| (r.state == NonceState::Consumed) == r.signed_digest.is_some())
    );
    let expected_kills = keys.len() * (rounds * (STEPS.len() + 1) + random);
    assert_eq!(out.kills, expected_kills);
    assert_eq!(out.refused_replays, 2 * expected_kills);
    let completed = keys.len() * rounds;
    assert!(
        out.shares.len() >= completed,
        "every round killed after its output emitted a share ({} < {completed})",
        out.shares.len()
    );
    eprintln!(
        "crash test: {} kills, {} shares emitted, {} replays and forgeries refused, {} ledger rows",
        out.kills,
        out.shares.len(),
        out.refused_replays,
        ledger.len()
    );
}

/// The signer process is non-dumpable, has no core files, and (where the OS allows) has its
/// memory locked out of swap.
#[test]
fn signer_process_hardens_itself() {
    let setup = setup();
    let mut p = Process::spawn_raw(&setup.victim, false);
    let ready = p.line();
    assert!(ready.contains("dumpable=false"), "{ready}");
    assert!(ready.contains("core_limit=0"), "{ready}");
    let pid = p.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let locked_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    if ready.contains("memory_locked=true") {
        assert!(locked_kb > 0, "mlockall reported success but VmLck is 0");
    } else {
        eprintln!("memory locking refused by this machine (RLIMIT_MEMLOCK); VmLck {locked_kb} kB");
    }
    p.kill();
}
