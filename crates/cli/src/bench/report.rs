//! The report of a run: one JSON object (`--json`), or a few readable lines.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use tessera_types::{Scheme, Threshold};

use super::cluster::DevCluster;
use super::load::Outcome;
use super::procfs;
use super::stats::Summary;
use crate::CliError;

/// The cluster's processes, and their CPU time when the load started.
#[derive(Debug)]
pub(super) struct Processes {
    /// `tessera dev` (the coordinator and its API), then signers 1 to n.
    pids: Vec<u32>,
    ticks_before: Vec<Option<u64>>,
}

/// CPU time and memory of the cluster's processes over the load.
#[derive(Debug, Clone, Default)]
pub(super) struct Usage {
    /// CPU milliseconds per verified signature: the coordinator, then each signer.
    cpu_ms_per_signature: Vec<Option<f64>>,
    /// Peak resident memory in MiB: the coordinator, then each signer.
    peak_rss_mib: Vec<Option<f64>>,
}

impl Processes {
    pub(super) fn of(cluster: &DevCluster, signers: u16) -> Result<Processes, CliError> {
        let mut pids = vec![cluster.pid()];
        for n in 1..=signers {
            pids.push(cluster.signer_pid(n)?);
        }
        let ticks_before = pids.iter().map(|p| procfs::cpu_ticks(*p)).collect();
        Ok(Processes { pids, ticks_before })
    }

    /// What each process used since [`Processes::of`], per signature of `signatures`.
    pub(super) fn usage(&self, signatures: usize) -> Usage {
        let per_signature = |pid: &u32, before: &Option<u64>| {
            let used = procfs::cpu_ticks(*pid)?.checked_sub((*before)?)?;
            (signatures > 0)
                .then(|| used as f64 * 1e3 / procfs::CLOCK_TICKS_PER_SEC / signatures as f64)
        };
        Usage {
            cpu_ms_per_signature: self
                .pids
                .iter()
                .zip(&self.ticks_before)
                .map(|(p, b)| per_signature(p, b))
                .collect(),
            peak_rss_mib: self
                .pids
                .iter()
                .map(|p| procfs::peak_rss_kib(*p).map(|k| k as f64 / 1024.0))
                .collect(),
        }
    }
}

/// Everything a run reports.
#[derive(Debug)]
pub(super) struct Report<'a> {
    pub scheme: Scheme,
    pub threshold: Threshold,
    pub concurrency: u32,
    pub duration_s: u64,
    pub outcome: &'a Outcome,
    pub single: &'a Summary,
    pub single_what: &'static str,
    pub library: &'a Summary,
    pub library_what: &'static str,
    pub library_dkg: Duration,
    pub wallet_dkg: Duration,
    pub usage: Usage,
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Rounded to a thousandth of a millisecond (a microsecond), or to three decimals.
fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

impl Report<'_> {
    /// The service's latencies, `None` when nothing was signed.
    fn service(&self) -> Option<Summary> {
        Summary::new(self.outcome.latencies.clone(), self.outcome.wall)
    }

    fn cpu(&self) -> Value {
        let (coordinator, signers) = self
            .usage
            .cpu_ms_per_signature
            .split_first()
            .map_or((None, &[][..]), |(c, s)| (*c, s));
        json!({
            "coordinator": coordinator.map(round3),
            "signers": signers.iter().map(|s| s.map(round3)).collect::<Vec<_>>(),
        })
    }

    fn rss(&self) -> Value {
        let (coordinator, signers) = self
            .usage
            .peak_rss_mib
            .split_first()
            .map_or((None, &[][..]), |(c, s)| (*c, s));
        json!({
            "coordinator": coordinator.map(round3),
            "signers": signers.iter().map(|s| s.map(round3)).collect::<Vec<_>>(),
        })
    }

    /// The report as one JSON object. Latencies are in milliseconds; a latency field is `null`
    /// when no request was signed.
    pub(super) fn json(&self) -> Value {
        let service = self.service();
        let signatures = self.outcome.latencies.len();
        let throughput = match self.outcome.wall.as_secs_f64() {
            w if w > 0.0 => signatures as f64 / w,
            _ => 0.0,
        };
        json!({
            "scheme": self.scheme.name(),
            "threshold": self.threshold.t(),
            "signers": self.threshold.n(),
            "concurrency": self.concurrency,
            "duration_s": self.duration_s,
            "requests": self.outcome.requests,
            "errors": self.outcome.errors,
            "signatures": signatures,
            "p50_ms": service.as_ref().map(|s| round3(ms(s.p50))),
            "p99_ms": service.as_ref().map(|s| round3(ms(s.p99))),
            "max_ms": self.outcome.latencies.iter().max().map(|d| round3(ms(*d))),
            "throughput_per_s": round3(throughput),
            "wall_s": round3(self.outcome.wall.as_secs_f64()),
            "signatures_by_second": self.outcome.by_second,
            "baseline_single_key_p50_ms": round3(ms(self.single.p50)),
            "baseline_single_key_p99_ms": round3(ms(self.single.p99)),
            "baseline_single_key_samples": self.single.count,
            "baseline_single_key": self.single_what,
            "baseline_library_p50_ms": round3(ms(self.library.p50)),
            "baseline_library_p99_ms": round3(ms(self.library.p99)),
            "baseline_library_samples": self.library.count,
            "baseline_library": self.library_what,
            "p50_over_library_p50": service
                .as_ref()
                .map(|s| round3(s.p50.as_secs_f64() / self.library.p50.as_secs_f64().max(1e-9))),
            "library_dkg_ms": round3(ms(self.library_dkg)),
            "wallet_dkg_ms": round3(ms(self.wallet_dkg)),
            "cpu_ms_per_signature": self.cpu(),
            "peak_rss_mib": self.rss(),
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "load_average_before": self.load_before,
            "load_average_after": self.load_after,
        })
    }

    /// The report as readable lines.
    pub(super) fn human(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let j = self.json();
        let num = |k: &str| {
            j.get(k)
                .and_then(Value::as_f64)
                .map_or("-".to_owned(), |v| format!("{v}"))
        };
        writeln!(
            out,
            "tessera bench: {} {}, {} client thread(s), {} s",
            self.scheme, self.threshold, self.concurrency, self.duration_s
        )?;
        writeln!(
            out,
            "  service:        p50 {} ms, p99 {} ms, max {} ms, {} signatures/s",
            num("p50_ms"),
            num("p99_ms"),
            num("max_ms"),
            num("throughput_per_s")
        )?;
        writeln!(
            out,
            "  requests:       {} ({} signatures verified, {} errors)",
            self.outcome.requests,
            self.outcome.latencies.len(),
            self.outcome.errors
        )?;
        let series: Vec<String> = self.outcome.by_second.iter().map(u64::to_string).collect();
        writeln!(out, "  per second:     {}", series.join(" "))?;
        writeln!(
            out,
            "  single key:     p50 {} ms, p99 {} ms ({}, {} samples)",
            num("baseline_single_key_p50_ms"),
            num("baseline_single_key_p99_ms"),
            self.single_what,
            self.single.count
        )?;
        writeln!(
            out,
            "  library:        p50 {} ms, p99 {} ms ({}, {} samples)",
            num("baseline_library_p50_ms"),
            num("baseline_library_p99_ms"),
            self.library_what,
            self.library.count
        )?;
        writeln!(
            out,
            "  service p50 / library p50: {}",
            num("p50_over_library_p50")
        )?;
        writeln!(out, "  CPU ms per signature: {}", self.cpu())?;
        writeln!(out, "  peak memory, MiB:     {}", self.rss())?;
        writeln!(
            out,
            "  key generation: {} ms through the API, {} ms in-process",
            num("wallet_dkg_ms"),
            num("library_dkg_ms")
        )?;
        let load =
            |l: Option<[f64; 3]>| l.map_or("-".to_owned(), |[a, b, c]| format!("{a} {b} {c}"));
        writeln!(
            out,
            "  load average:   {} before, {} after ({} cores)",
            load(self.load_before),
            load(self.load_after),
            num("cores")
        )?;
        Ok(())
    }
}
