//! `tessera bench`: signing latency and throughput of a real cluster, next to two baselines
//! measured in the same run over the same payloads.
//!
//! 1. Baselines, in this process and thread: one ordinary key of the scheme's curve, then the
//!    threshold library with `t` parties in memory ([`library`]).
//! 2. A cluster as in production: this executable started as `tessera dev --listen
//!    127.0.0.1:0 --fast-kdf --threshold T --signers N` in a temporary directory ([`DevCluster`]):
//!    each signer its own process, mutual TLS on loopback, the permissive development policy
//!    checked at every signer, SQLite stores with durable writes.
//! 3. A wallet of the scheme (a DKG through the API as `admin-1`), then `--concurrency` client
//!    threads signing through `POST /v1/wallets/{id}/sign` as `trader` for `--duration` seconds.
//!    Every signature is then verified with a library other than the one that signs.
//!
//! The cluster is stopped with SIGTERM and its directory removed, whatever happens, Ctrl-C and
//! SIGTERM included. Progress goes to stderr; the report (with `--json`, one JSON object) to
//! stdout. A run with any failed request exits non-zero after its report.

mod baseline;
mod client;
mod cluster;
mod interrupt;
pub mod library;
mod load;
pub mod procfs;
mod report;
pub mod stats;
mod workload;

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use tessera_types::Scheme;
use tessera_wire::CreateWallet;

pub use client::{Answer, ApiClient};
pub use cluster::DevCluster;

use crate::CliError;
use crate::demo::checked_threshold;
use interrupt::Interrupt;
use report::{Processes, Report};

/// Most signers a benchmark cluster may have.
pub const MAX_SIGNERS: u16 = 16;

/// Most client threads.
pub const MAX_CONCURRENCY: u32 = 1024;

/// Longest run, in seconds (a day).
pub const MAX_DURATION_SECS: u64 = 86_400;

/// `tessera bench` flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct BenchArgs {
    /// Scheme of the wallet: frost-ed25519, frost-secp256k1-tr or ecdsa-secp256k1
    #[arg(long)]
    scheme: Scheme,
    /// Signers needed per signature (t), a majority of --signers
    #[arg(long, default_value_t = 2)]
    threshold: u16,
    /// Signers, each its own process (n), at most 16
    #[arg(long, default_value_t = 3)]
    signers: u16,
    /// Client threads sending requests at the same time, each on its own connection
    #[arg(long, value_name = "C", default_value_t = 16)]
    concurrency: u32,
    /// Seconds of load, after a short warm-up
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    duration: u64,
    /// Print the report as one JSON object
    #[arg(long)]
    json: bool,
}

/// A line of progress on stderr.
fn progress(line: &str) {
    let _ = writeln!(std::io::stderr(), "bench: {line}");
}

/// Checks the flags: the threshold as `tessera dev` takes it, the limits above.
fn validate(args: &BenchArgs) -> Result<tessera_types::Threshold, CliError> {
    if args.signers > MAX_SIGNERS {
        return Err(CliError::new(format!(
            "--signers {} is more than the {MAX_SIGNERS} a benchmark cluster may have",
            args.signers
        )));
    }
    let threshold = checked_threshold(args.threshold, args.signers)?;
    if args.concurrency == 0 || args.concurrency > MAX_CONCURRENCY {
        return Err(CliError::new(format!(
            "--concurrency {} must be between 1 and {MAX_CONCURRENCY}",
            args.concurrency
        )));
    }
    if args.duration == 0 || args.duration > MAX_DURATION_SECS {
        return Err(CliError::new(format!(
            "--duration {} must be between 1 and {MAX_DURATION_SECS} seconds",
            args.duration
        )));
    }
    Ok(threshold)
}

/// Runs `tessera bench`, writing the report to `out`.
pub(crate) fn run(args: &BenchArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let threshold = validate(args)?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::new(format!("cannot find the tessera executable: {e}")))?;
    let interrupt = Interrupt::watch()?;
    let work = workload::Workload::new(args.scheme);
    let (single_what, library_what) = baseline::describe(args.scheme);

    progress(&format!("baseline: single key ({single_what})"));
    let single = baseline::single_key(&work)?;
    progress(&format!("baseline: threshold library ({library_what})"));
    let (library, library_dkg) = baseline::library(&work, threshold)?;
    interrupt.check()?;

    progress(&format!(
        "starting `tessera dev` with {threshold}: each signer its own process, mutual TLS on \
         loopback, durable SQLite stores"
    ));
    let started = Instant::now();
    let cluster = DevCluster::start(&exe, threshold.t(), threshold.n())?;
    progress(&format!(
        "cluster ready at {} in {:.1} s (files in {})",
        cluster.api(),
        started.elapsed().as_secs_f64(),
        cluster.dir().display()
    ));
    interrupt.check()?;
    let admin = cluster.client(crate::client::DEFAULT_ADMIN_CLIENT)?;
    let created = admin.post(
        "/v1/wallets",
        &CreateWallet {
            name: "bench".to_owned(),
            scheme: args.scheme,
            chain: None,
        },
    )?;
    if created.status != 201 {
        return Err(CliError::new(format!(
            "creating the wallet failed with status {}: {}",
            created.status, created.body
        )));
    }
    let wallet = load::Wallet::from_answer(&created.body)?;
    progress(&format!(
        "wallet {} created (DKG through the API) in {:.0} ms; {} client thread(s) for {} s",
        wallet.id,
        created.latency.as_secs_f64() * 1e3,
        args.concurrency,
        args.duration
    ));
    let processes = Processes::of(&cluster, threshold.n())?;
    let load_before = procfs::load_average();
    let concurrency = usize::try_from(args.concurrency)
        .map_err(|_| CliError::new("--concurrency does not fit this machine"))?;
    let outcome = load::drive(
        &cluster,
        &wallet,
        &work,
        concurrency,
        Duration::from_secs(args.duration),
        &interrupt,
    )?;
    let usage = processes.usage(outcome.latencies.len());
    let load_after = procfs::load_average();
    progress("stopping the cluster (SIGTERM)");
    let stopped = cluster.stop();
    interrupt.check()?;
    let report = Report {
        scheme: args.scheme,
        threshold,
        concurrency: args.concurrency,
        duration_s: args.duration,
        outcome: &outcome,
        single: &single,
        single_what,
        library: &library,
        library_what,
        library_dkg,
        wallet_dkg: created.latency,
        usage,
        load_before,
        load_after,
    };
    if args.json {
        writeln!(out, "{}", report.json())?;
    } else {
        report.human(out)?;
    }
    stopped?;
    if outcome.errors > 0 {
        return Err(CliError::new(format!(
            "{} of {} requests failed; the first: {}",
            outcome.errors,
            outcome.requests,
            outcome.first_error.as_deref().unwrap_or("unknown")
        )));
    }
    if outcome.latencies.is_empty() {
        return Err(CliError::new("no request was answered in time"));
    }
    Ok(())
}
