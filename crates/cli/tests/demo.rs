//! Runs the real `tessera` binary: the demo succeeds end to end for both schemes, and refused
//! thresholds fail with one explained `error:` line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::process::{Command, Output};

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_remove("TESSERA_DEMO_PASSPHRASE")
        .output()
        .unwrap()
}

/// The report's lines for `scheme`: from its `== <scheme>, ...` header to the next header.
fn section<'a>(stdout: &'a str, scheme: &str) -> Vec<&'a str> {
    let header = format!("== {scheme}, ");
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(&header))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.starts_with("=="))
        .map(|(_, l)| l)
        .collect()
}

fn count(lines: &[&str], line: &str) -> usize {
    lines.iter().filter(|l| l.trim() == line).count()
}

#[test]
fn demo_signs_verifies_and_refreshes_both_schemes() {
    let out = tessera(&["demo", "--fast-kdf", "--scheme", "all"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");

    for (scheme, independent) in [
        ("frost-ed25519", "ed25519-dalek verify_strict"),
        ("frost-secp256k1-tr", "k256 schnorr verify_raw"),
    ] {
        let lines = section(&stdout, scheme);
        assert!(!lines.is_empty(), "no section for {scheme}:\n{stdout}");
        // Two signatures (before and after the refresh), each checked by both verifiers.
        assert_eq!(
            count(&lines, "verify tessera GroupKey::verify: ok"),
            2,
            "{scheme}:\n{stdout}"
        );
        assert_eq!(
            count(&lines, &format!("verify {independent}: ok")),
            2,
            "{scheme}:\n{stdout}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("group public key unchanged")),
            "{scheme}:\n{stdout}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("sign: parties 1, 2 "))
                && lines.iter().any(|l| l.starts_with("sign: parties 2, 3 ")),
            "{scheme}: first and last quorum\n{stdout}"
        );
    }
    assert!(stdout.contains("vault passphrase: generated"), "{stdout}");
    assert!(
        stdout.contains("demo passed: 2 scheme(s), 2-of-3"),
        "{stdout}"
    );
}

fn assert_one_line_error(out: &Output) -> String {
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing should run");
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.trim_end().ends_with('.'), "{stderr}");
    stderr
}

#[test]
fn minority_threshold_is_refused_with_the_majority_rule() {
    let out = tessera(&["demo", "--fast-kdf", "--threshold", "1", "--signers", "3"]);
    let stderr = assert_one_line_error(&out);
    assert!(stderr.contains("threshold 1 of 3"), "{stderr}");
    assert!(stderr.contains("must be a majority"), "{stderr}");
    assert!(stderr.contains("at least 2"), "{stderr}");
}

#[test]
fn threshold_above_signers_is_refused() {
    let out = tessera(&["demo", "--fast-kdf", "--threshold", "3", "--signers", "2"]);
    let stderr = assert_one_line_error(&out);
    assert!(
        stderr.contains("threshold 3 of 2 is impossible"),
        "{stderr}"
    );
}

#[test]
fn unknown_scheme_is_refused_by_the_domain_type() {
    let out = tessera(&["demo", "--scheme", "frost-secp256k1"]);
    let stderr = assert_one_line_error(&out);
    assert!(
        stderr.contains("unknown scheme `frost-secp256k1`"),
        "{stderr}"
    );
}
