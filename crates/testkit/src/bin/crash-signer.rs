//! A signer process for the crash test (`tests/crash.rs`), driven over stdin/stdout.
//!
//! Usage: `crash-signer STORE` (passphrase: the test passphrase). Hardens itself as a real
//! signer does, prints `ready` with what the hardening achieved, then answers
//! one line per command:
//! - `commit KEY COUNT` -> `commitments HEX,HEX,...`
//! - `sign KEY HEX_PACKAGE` -> `share HEX` or `error CODE`
//!
//! With `TESSERA_CRASH_STEPPING=1`, each step of a signing round prints `step NAME` and waits
//! for a `go` line, so the test can SIGKILL the process at exactly that step.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use tessera_crypto::SigningPackage;
use tessera_signer::{SignObserver, SignStep, Signer};
use tessera_testkit::passphrase;
use tessera_types::KeyId;

struct Stepper;

impl SignObserver for Stepper {
    fn reached(&mut self, step: SignStep) {
        let _ = writeln!(std::io::stdout().lock(), "step {}", step.name());
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_err() || line.trim() != "go" {
            std::process::exit(3);
        }
    }
}

fn reply(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    let hardening = tessera_crypto::harden_process();
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        reply("error usage");
        return ExitCode::from(2);
    };
    let mut signer = match Signer::open(&path, &passphrase()) {
        Ok(s) => s,
        Err(e) => {
            reply(&format!("error {}", e.code()));
            return ExitCode::from(2);
        }
    };
    if std::env::var_os("TESSERA_CRASH_STEPPING").is_some_and(|v| v == "1") {
        signer.set_observer(Box::new(Stepper));
    }
    let dumpable = nix::sys::prctl::get_dumpable().unwrap_or(true);
    reply(&format!(
        "ready dumpable={dumpable} core_limit={} memory_locked={}",
        if hardening.no_core_files.is_ok() {
            "0"
        } else {
            "unchanged"
        },
        hardening.memory_locked.is_ok()
    ));
    let mut line = String::new();
    loop {
        line.clear();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => return ExitCode::SUCCESS,
            Ok(_) => {}
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["commit", key, count] => commit(&mut signer, key, count),
            ["sign", key, package] => sign(&mut signer, key, package),
            _ => "error unknown_command".to_owned(),
        };
        reply(&answer);
    }
}

fn commit(signer: &mut Signer, key: &str, count: &str) -> String {
    let (Ok(key), Ok(count)) = (KeyId::new(key), count.parse::<usize>()) else {
        return "error bad_arguments".into();
    };
    match signer.commit(&key, count) {
        Ok(cs) => {
            let hexes: Result<Vec<String>, _> =
                cs.iter().map(|c| c.to_bytes().map(hex::encode)).collect();
            match hexes {
                Ok(h) => format!("commitments {}", h.join(",")),
                Err(e) => format!("error {}", e.kind.code()),
            }
        }
        Err(e) => format!("error {}", e.code()),
    }
}

fn sign(signer: &mut Signer, key: &str, package: &str) -> String {
    let Ok(key) = KeyId::new(key) else {
        return "error bad_arguments".into();
    };
    let package = match hex::decode(package).map(|b| SigningPackage::from_bytes(&b)) {
        Ok(Ok(p)) => p,
        _ => return "error bad_package".into(),
    };
    match signer.sign(&key, &package) {
        Ok(share) => format!("share {}", hex::encode(share.to_bytes())),
        Err(e) => format!("error {}", e.code()),
    }
}
