//! `tessera bench` end to end: the real binary starts its own `tessera dev` cluster, signs
//! through the API for a couple of seconds and prints its report. The test checks the contract
//! of the JSON report (fields, types, no error, percentiles in order), never a timing target,
//! and that bad flags are refused before anything starts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TESSERA: &str = env!("CARGO_BIN_EXE_tessera");

fn bench(args: &[&str]) -> Output {
    Command::new(TESSERA)
        .arg("bench")
        .args(args)
        .output()
        .expect("run tessera bench")
}

/// Runs a short benchmark and returns its JSON report, after checking the contract's fields.
fn run_json(scheme: &str, concurrency: &str, duration: &str) -> Value {
    let out = bench(&[
        "--scheme",
        scheme,
        "--threshold",
        "2",
        "--signers",
        "3",
        "--concurrency",
        concurrency,
        "--duration",
        duration,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {}\n{stdout}\n{stderr}",
        out.status
    );
    // Progress went to stderr; stdout is one JSON object on one line.
    assert!(stderr.contains("bench: "), "{stderr}");
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("stdout is JSON");

    assert_eq!(report["scheme"], scheme);
    assert_eq!(report["threshold"], 2);
    assert_eq!(report["signers"], 3);
    assert_eq!(report["concurrency"].as_u64(), concurrency.parse().ok());
    for field in ["requests", "errors"] {
        assert!(report[field].is_u64(), "{field}: {report}");
    }
    for field in [
        "p50_ms",
        "p99_ms",
        "throughput_per_s",
        "baseline_single_key_p50_ms",
        "baseline_library_p50_ms",
    ] {
        let v = report[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field}: {report}"));
        assert!(v.is_finite() && v > 0.0, "{field} = {v}");
    }
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["requests"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["signatures"], report["requests"], "{report}");
    assert!(
        report["p50_ms"].as_f64().unwrap() <= report["p99_ms"].as_f64().unwrap(),
        "{report}"
    );
    assert!(
        report["baseline_library_p50_ms"].as_f64().unwrap()
            <= report["baseline_library_p99_ms"].as_f64().unwrap(),
        "{report}"
    );
    // Every verified signature falls in one second of the load.
    let by_second = report["signatures_by_second"].as_array().unwrap();
    let counted: u64 = by_second.iter().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(Some(counted), report["signatures"].as_u64(), "{report}");
    // One CPU figure for the coordinator and each signer process.
    assert_eq!(
        report["cpu_ms_per_signature"]["signers"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // The cluster was stopped cleanly and its directory removed.
    assert!(stderr.contains("stopping the cluster"), "{stderr}");
    report
}

#[test]
fn frost_ed25519_two_of_three_reports_the_contract() {
    run_json("frost-ed25519", "4", "2");
}

#[test]
fn ecdsa_two_of_three_reports_the_contract() {
    let report = run_json("ecdsa-secp256k1", "2", "1");
    assert!(
        report["baseline_library"]
            .as_str()
            .unwrap()
            .contains("dkls23")
    );
}

#[test]
fn the_readable_report_names_both_baselines() {
    let out = bench(&[
        "--scheme",
        "frost-secp256k1-tr",
        "--concurrency",
        "2",
        "--duration",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in ["p50", "p99", "single key:", "library:", "0 errors"] {
        assert!(stdout.contains(part), "{part} missing from\n{stdout}");
    }
}

#[test]
fn sigterm_stops_the_load_then_the_cluster_and_removes_its_files() {
    let mut child = Command::new(TESSERA)
        .args(["bench", "--scheme", "frost-ed25519", "--concurrency", "2"])
        .args(["--duration", "120", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut dir = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some((_, rest)) = line.split_once("(files in ") {
            dir = Some(PathBuf::from(rest.trim_end_matches(')')));
        }
        let loaded = line.contains(" s: ");
        seen.push(line);
        if loaded {
            break;
        }
    }
    let dir = dir.unwrap_or_else(|| panic!("no files line in {seen:?}"));
    assert!(dir.join("dev").join("dev.json").is_file());
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!status.success());
    let rest = rest.join("\n");
    assert!(rest.contains("stopping the cluster (SIGTERM)"), "{rest}");
    assert!(rest.ends_with("error: interrupted"), "{rest}");
    assert!(!dir.exists(), "{} is left", dir.display());
}

#[test]
fn bad_flags_are_refused_before_anything_starts() {
    let cases: [(&[&str], &str); 6] = [
        (&["--threshold", "4", "--signers", "3"], "between 1 and 3"),
        (&["--threshold", "0", "--signers", "3"], "between 1 and 3"),
        (&["--threshold", "9", "--signers", "17"], "more than the 16"),
        (&["--concurrency", "0"], "--concurrency 0 must be between 1"),
        (&["--duration", "0"], "--duration 0 must be between 1"),
        (&["--signers", "x"], "invalid value"),
    ];
    let unknown = bench(&["--scheme", "frost-secp256k1"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown scheme"));
    for (args, expected) in cases {
        let mut all = vec!["--scheme", "frost-ed25519"];
        all.extend_from_slice(args);
        let out = bench(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!stderr.contains("bench: "), "{args:?} started: {stderr}");
    }
}
