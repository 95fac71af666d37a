//! The short form of the fuzzers, for CI on the stable toolchain: every target gets its seeds,
//! then up to `TESSERA_FUZZ_RUNS` (default 20,000) inputs mutated from them with a fixed seed,
//! for at most `TESSERA_FUZZ_SECONDS` (default 3) per target. The inputs come in the same order
//! on every machine (a faster one gets further), so the run fails only when a target panics; the
//! failing input is written beside the test's temporary files and can be replayed with
//! `cargo fuzz run TARGET FILE`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tessera_fuzz::mutate::Mutator;
use tessera_fuzz::{TARGETS, Target};

const DEFAULT_RUNS: usize = 20_000;

const DEFAULT_SECONDS: u64 = 3;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_one(target: &Target, input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| (target.run)(input))).is_ok() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke");
    let file = dir.join(format!("crash-{}", target.name));
    let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, input));
    let shown = String::from_utf8_lossy(&input[..input.len().min(400)]).into_owned();
    panic!(
        "target `{}` panicked on an input of {} bytes (saved: {saved:?} at {}): {shown:?}",
        target.name,
        input.len(),
        file.display()
    );
}

fn smoke(name: &str) {
    let target = tessera_fuzz::target(name).unwrap_or_else(|| panic!("no target `{name}`"));
    let started = Instant::now();
    let seeds = (target.seeds)();
    assert!(!seeds.is_empty(), "`{name}` has no seeds");
    for seed in &seeds {
        run_one(target, seed);
    }
    // One generator seed per target, from its name: stable across runs and machines.
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut mutator = Mutator::new(seeds.clone(), seed);
    let max_runs: usize = env_or("TESSERA_FUZZ_RUNS", DEFAULT_RUNS);
    let budget = Duration::from_secs(env_or("TESSERA_FUZZ_SECONDS", DEFAULT_SECONDS));
    let mut runs = 0;
    while runs < max_runs && started.elapsed() < budget {
        run_one(target, &mutator.next_input());
        runs += 1;
    }
    eprintln!(
        "{name}: {} seeds and {runs} mutated inputs in {:.2?}",
        seeds.len(),
        started.elapsed()
    );
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { smoke(stringify!($name)); })*

        #[test]
        fn every_target_is_tested_here_and_has_a_libfuzzer_binary() {
            let here = [$(stringify!($name)),*];
            let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
            assert_eq!(names, here);
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz_targets");
            let mut binaries: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            binaries.sort();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(binaries, sorted);
        }
    };
}

smoke_tests!(
    api_intent,
    api_verdict,
    api_guard,
    api_policy_change,
    api_rpc,
    auth_jwt,
    wire_request,
    wire_reply,
    policy_file,
    vault_blob,
    crypto_keys,
    crypto_dkg,
    audit_jsonl,
    eth_signed_tx,
    eth_unsigned_tx,
    eth_rpc_tx,
    eth_typed_data,
    eth_text,
);
