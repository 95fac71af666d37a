//! The cost of a policy decision, as the policy and the history grow.
//!
//! - `evaluate/rules/<n>`: `n` rules for other clients, then the one that matches, no limits.
//!   `n = 0` (one matching rule) is the baseline, beside `empty_policy` (no rules: deny by default).
//! - `evaluate/history/<n>`: one allowing rule and one amount limit per wallet, over a
//!   [`MemoryHistory`] of `n` recorded requests (every query scans them all). `n = 0` is the
//!   baseline.
//! - `parse/<n>_rules`: reading and checking a policy file of `n` rules.
//!
//! Run with `cargo bench -p tessera-policy --bench evaluate`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark code: a failure should stop the run"
)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tessera_policy::{
    AssetAmount, Kind, MemoryHistory, Policy, Request, RiskLevel, U256, evaluate,
};

const TREASURY: &str = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
const NOON: i64 = 1_699_963_200;

/// A transfer of 0.01 ETH to the treasury from `wallet`, at `at`.
fn transfer(wallet: &str, at: i64) -> Request {
    Request {
        client: "trader".into(),
        wallet: wallet.into(),
        kind: Kind::Transfer,
        chain: Some("ethereum".into()),
        asset: Some("ETH".into()),
        to: Some(TREASURY.into()),
        amount: Some(AssetAmount {
            base_units: U256::from(10_000_000_000_000_000u64),
            decimals: 18,
        }),
        typed_data: None,
        at,
    }
}

const HEADER: &str =
    "version = 1\n[address_books]\ntreasury = [\"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"]\n";

/// The rule that matches the benchmark's request: every condition set, so that each is checked.
const MATCHING_RULE: &str = "[[rules]]\nname = \"match\"\nclients = [\"trader\"]\nwallets = [\"w0\"]\nkinds = [\"transfer\"]\nchains = [\"ethereum\"]\nassets = [\"ETH\"]\nto = \"treasury\"\nmax_amount = \"1.0\"\nhours = \"08:00-18:00\"\naction = \"allow\"\n";

/// `n` rules that do not match (other clients, the same shape), then the one that does.
fn rules_policy(n: usize) -> String {
    let mut text = HEADER.to_owned();
    for i in 0..n {
        write!(
            text,
            "[[rules]]\nname = \"other-{i}\"\nclients = [\"client-{i}\"]\nkinds = [\"transfer\"]\nassets = [\"ETH\"]\nto = \"treasury\"\nmax_amount = \"1.0\"\naction = \"allow\"\n"
        )
        .unwrap();
    }
    text + MATCHING_RULE
}

fn rules(c: &mut Criterion) {
    let request = transfer("w0", NOON);
    let history = MemoryHistory::new();
    let mut group = c.benchmark_group("evaluate/rules");
    let empty = Policy::parse(HEADER).unwrap();
    group.bench_function("empty_policy", |b| {
        b.iter(|| evaluate(black_box(&request), &empty, &history, RiskLevel::Normal))
    });
    for n in [0, 10, 100, 1_000] {
        let policy = Policy::parse(&rules_policy(n)).unwrap();
        assert!(evaluate(&request, &policy, &history, RiskLevel::Normal).is_allowed());
        group.bench_with_input(BenchmarkId::from_parameter(n), &policy, |b, policy| {
            b.iter(|| evaluate(black_box(&request), policy, &history, RiskLevel::Normal))
        });
    }
    group.finish();
}

/// `n` recorded requests from ten wallets over the last two hours: about a twentieth of them in
/// the benchmark wallet's window.
fn history_of(n: usize) -> MemoryHistory {
    let mut history = MemoryHistory::new();
    for i in 0..n {
        let at = NOON - i64::try_from(i % 7_200).unwrap();
        history.record(&transfer(&format!("w{}", i % 10), at));
    }
    history
}

fn history(c: &mut Criterion) {
    let policy = Policy::parse(&format!(
        "{HEADER}{MATCHING_RULE}[[limits]]\nname = \"eth-hourly\"\nscope = \"wallet\"\nassets = [\"ETH\"]\nwindow = \"1h\"\nmax_amount = \"1000000\"\n"
    ))
    .unwrap();
    let request = transfer("w0", NOON);
    let mut group = c.benchmark_group("evaluate/history");
    for n in [0, 1_000, 10_000, 100_000] {
        let history = history_of(n);
        assert!(evaluate(&request, &policy, &history, RiskLevel::Normal).is_allowed());
        group.bench_with_input(BenchmarkId::from_parameter(n), &history, |b, history| {
            b.iter(|| evaluate(black_box(&request), &policy, history, RiskLevel::Normal))
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for n in [10, 1_000] {
        let text = rules_policy(n);
        group.bench_function(format!("{n}_rules"), |b| {
            b.iter(|| Policy::parse(black_box(&text)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, rules, history, parse);
criterion_main!(benches);
