//! The load: `concurrency` client threads, each on its own kept-alive connection as client
//! `trader`, sending `POST /v1/wallets/{id}/sign` back to back until the time is up, each
//! request with a fresh token and an idempotency key of its own. The answers are checked after
//! the clock stops, so that checking does not take CPU from the cluster while it is timed.

use std::io::Write as _;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::DevCluster;
use super::interrupt::Interrupt;
use super::workload::Workload;
use crate::CliError;

/// Untimed requests each client thread sends first (connections opened, nonce pools warm).
const WARM_UP_PER_CLIENT: u64 = 2;

/// Pause after a failed exchange, so that a dead cluster is not called in a tight loop.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_millis(10);

/// How often progress goes to stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The wallet the load signs with.
#[derive(Debug, Clone)]
pub struct Wallet {
    /// Its id.
    pub id: String,
    /// Its public key, as the API gives it.
    pub public_key: Vec<u8>,
}

impl Wallet {
    /// From the answer to `POST /v1/wallets`.
    pub fn from_answer(body: &Value) -> Result<Wallet, CliError> {
        let field = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| CliError::new(format!("the new wallet has no `{name}`: {body}")))
        };
        let public_key = hex::decode(field("public_key")?)
            .map_err(|_| CliError::new("the new wallet's `public_key` is not hex"))?;
        Ok(Wallet {
            id: field("id")?.to_owned(),
            public_key,
        })
    }
}

/// What the timed part of the load did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Requests sent while the clock ran (answered or not).
    pub requests: u64,
    /// Requests without a signature that verifies: a failed exchange, a status other than 200,
    /// or a wrong signature.
    pub errors: u64,
    /// Why the first of them failed.
    pub first_error: Option<String>,
    /// Latencies of the requests answered with a signature that verifies.
    pub latencies: Vec<Duration>,
    /// From the first thread's start to the last answer.
    pub wall: Duration,
    /// Verified signatures answered in each second of the load, in order: shows whether the
    /// rate holds as the cluster's history grows.
    pub by_second: Vec<u64>,
}

/// One request and what came of it.
struct Sent {
    index: u64,
    answered: Instant,
    latency: Duration,
    result: Result<Value, String>,
}

/// What one client thread did.
struct Worker {
    start: Instant,
    end: Instant,
    warm_up: Vec<Sent>,
    timed: Vec<Sent>,
}

/// Runs the load for `duration` and checks every answer. Fails only if the load could not run
/// at all (a client not set up, a warm-up request refused); failed timed requests are counted.
pub fn drive(
    cluster: &DevCluster,
    wallet: &Wallet,
    work: &Workload,
    concurrency: usize,
    duration: Duration,
    interrupt: &Interrupt,
) -> Result<Outcome, CliError> {
    let path = format!("/v1/wallets/{}/sign", wallet.id);
    let next = AtomicU64::new(0);
    let answered = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let barrier = Barrier::new(concurrency + 1);
    let workers: Vec<Result<Worker, CliError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency)
            .map(|_| {
                let (path, next, answered, failed, barrier) =
                    (&path, &next, &answered, &failed, &barrier);
                s.spawn(move || {
                    let client = cluster.client("trader");
                    let send = |client: &super::ApiClient| {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let (latency, result) = match client.post(path, &work.request(index)) {
                            Ok(a) if a.status == 200 => (a.latency, Ok(a.body)),
                            Ok(a) => (a.latency, Err(format!("status {}: {}", a.status, a.body))),
                            Err(e) => (Duration::ZERO, Err(e.to_string())),
                        };
                        let sent = Sent {
                            index,
                            answered: Instant::now(),
                            latency,
                            result,
                        };
                        if sent.result.is_err() {
                            std::thread::sleep(PAUSE_AFTER_FAILURE);
                        }
                        sent
                    };
                    let warm_up: Vec<Sent> = match &client {
                        Ok(c) => (0..WARM_UP_PER_CLIENT).map(|_| send(c)).collect(),
                        Err(_) => Vec::new(),
                    };
                    // Every thread meets here, ready or not, so that none waits forever.
                    barrier.wait();
                    let client = client?;
                    let start = Instant::now();
                    let deadline = start + duration;
                    let mut timed = Vec::new();
                    while Instant::now() < deadline && !interrupt.is_set() {
                        let sent = send(&client);
                        answered.fetch_add(1, Ordering::Relaxed);
                        if sent.result.is_err() {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        timed.push(sent);
                    }
                    Ok(Worker {
                        start,
                        end: Instant::now(),
                        warm_up,
                        timed,
                    })
                })
            })
            .collect();
        barrier.wait();
        report_progress(&handles, &answered, &failed);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(CliError::new("a client thread panicked")))
            })
            .collect()
    });
    let workers = workers.into_iter().collect::<Result<Vec<_>, _>>()?;
    for sent in workers.iter().flat_map(|w| &w.warm_up) {
        check(work, wallet, sent)
            .map_err(|e| CliError::new(format!("a warm-up request failed: {e}")))?;
    }
    let start = workers.iter().map(|w| w.start).min();
    let end = workers.iter().map(|w| w.end).max();
    let wall = match (start, end) {
        (Some(s), Some(e)) => e.saturating_duration_since(s),
        _ => Duration::ZERO,
    };
    eprintln!("bench: checking every signature");
    let mut outcome = Outcome {
        requests: 0,
        errors: 0,
        first_error: None,
        latencies: Vec::new(),
        wall,
        by_second: Vec::new(),
    };
    for sent in workers.iter().flat_map(|w| &w.timed) {
        outcome.requests += 1;
        match check(work, wallet, sent) {
            Ok(()) => {
                outcome.latencies.push(sent.latency);
                let second =
                    start.map_or(0, |s| sent.answered.saturating_duration_since(s).as_secs());
                if let Ok(slot) = usize::try_from(second) {
                    if outcome.by_second.len() <= slot {
                        outcome.by_second.resize(slot + 1, 0);
                    }
                    if let Some(n) = outcome.by_second.get_mut(slot) {
                        *n += 1;
                    }
                }
            }
            Err(e) => {
                outcome.errors += 1;
                outcome.first_error.get_or_insert(e);
            }
        }
    }
    Ok(outcome)
}

/// `Ok` if `sent` was answered with a signature of its payload that verifies under the wallet's
/// key; otherwise why not.
fn check(work: &Workload, wallet: &Wallet, sent: &Sent) -> Result<(), String> {
    let body = sent
        .result
        .as_ref()
        .map_err(|e| format!("request {}: {e}", sent.index))?;
    work.check(&wallet.public_key, sent.index, body)
        .map_err(|e| format!("request {}: wrong signature: {e}", sent.index))
}

/// Writes a line to stderr every second until every thread has finished.
fn report_progress<T>(
    handles: &[std::thread::ScopedJoinHandle<'_, T>],
    answered: &AtomicU64,
    failed: &AtomicU64,
) {
    let start = Instant::now();
    let mut next = start + PROGRESS_EVERY;
    while !handles.iter().all(|h| h.is_finished()) {
        if Instant::now() >= next {
            let _ = writeln!(
                std::io::stderr(),
                "bench: {:>4.0} s: {} requests, {} failed",
                start.elapsed().as_secs_f64(),
                answered.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed)
            );
            next += PROGRESS_EVERY;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
