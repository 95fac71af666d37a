//! What the demo checks and prepares before it starts: arguments, process hardening, the data
//! directory and the vault passphrase.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use tessera_crypto::{Hardening, SecretBytes};
use tessera_types::{MAX_PARTIES, Threshold, ThresholdError};

use crate::PASSPHRASE_ENV;
use crate::error::CliError;

/// The threshold through [`Threshold::new`], with the majority rule; refusals explain how to
/// read `--threshold` and `--signers`.
pub(crate) fn checked_threshold(t: u16, n: u16) -> Result<Threshold, CliError> {
    if n == 0 {
        return Err(CliError::new("--signers must be at least 1"));
    }
    Threshold::new(t, n).map_err(|e| match e {
        ThresholdError::NoMajority { t, n } => CliError::new(format!(
            "threshold {t} of {n} refused: --threshold is how many of the --signers must sign, \
             and it must be a majority (more than half of {n}, so at least {}), because each signer \
             enforces spend limits from its own ledger and only when every two quorums share a \
             signer does some signer see both spends",
            n / 2 + 1
        )),
        ThresholdError::OutOfRange { t, n } => CliError::new(format!(
            "threshold {t} of {n} is impossible: --threshold is how many of the --signers must \
             sign, so it must be between 1 and {n}"
        )),
        ThresholdError::TooManyParties { n } => CliError::new(format!(
            "--signers {n} is more than the {MAX_PARTIES} supported"
        )),
    })
}

pub(super) fn report_hardening(out: &mut dyn Write, h: &Hardening) -> Result<(), CliError> {
    let checks = [
        (
            "not dumpable",
            &h.non_dumpable,
            "other processes of this user may read its memory and a crash may write a core file",
        ),
        (
            "core files off",
            &h.no_core_files,
            "a crash may write secrets to a core file",
        ),
        (
            "memory locked",
            &h.memory_locked,
            "secrets may be written to swap (raise `ulimit -l` or grant CAP_IPC_LOCK)",
        ),
    ];
    let mut parts = Vec::with_capacity(checks.len());
    for (name, result, risk) in checks {
        match result {
            Ok(()) => parts.push(format!("{name}: yes")),
            Err(reason) => {
                parts.push(format!("{name}: no"));
                eprintln!(
                    "warning: process hardening: {name} refused by the OS ({reason}): {risk}"
                );
            }
        }
    }
    writeln!(out, "process hardening: {}", parts.join(", "))?;
    Ok(())
}

/// Creates `dir` if needed; refuses one that already holds signer stores.
pub(super) fn prepare_data_dir(dir: &Path) -> Result<(), CliError> {
    let shown = dir.display();
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(CliError::new(format!(
            "data dir `{shown}` exists and is not a directory"
        ))),
        Ok(_) => {
            let entries = fs::read_dir(dir)
                .map_err(|e| CliError::new(format!("cannot read data dir `{shown}`: {e}")))?;
            let mut stores = Vec::new();
            for entry in entries {
                let entry = entry
                    .map_err(|e| CliError::new(format!("cannot read data dir `{shown}`: {e}")))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("signer-") && name.ends_with(".sqlite") {
                    stores.push(name);
                }
            }
            if stores.is_empty() {
                return Ok(());
            }
            stores.sort();
            Err(CliError::new(format!(
                "data dir `{shown}` already holds signer stores ({}); the demo creates new \
                 signers, so give it an empty or new directory",
                stores.join(", ")
            )))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create data dir `{shown}`: {e}"))),
        Err(e) => Err(CliError::new(format!(
            "cannot read data dir `{shown}`: {e}"
        ))),
    }
}

pub(super) fn store_path(dir: &Path, party: u16) -> PathBuf {
    dir.join(format!("signer-{party}.sqlite"))
}

/// Where the vault passphrase came from, as printed (never the passphrase itself).
pub(super) enum PassphraseSource {
    Env,
    Generated,
}

impl std::fmt::Display for PassphraseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassphraseSource::Env => write!(f, "from {PASSPHRASE_ENV}"),
            PassphraseSource::Generated => write!(
                f,
                "generated for this run (32 random bytes, not shown; set {PASSPHRASE_ENV} to \
                 choose one)"
            ),
        }
    }
}

pub(super) fn passphrase() -> Result<(SecretBytes, PassphraseSource), CliError> {
    match std::env::var_os(PASSPHRASE_ENV) {
        Some(value) => {
            let text = value
                .into_string()
                .map_err(|_| CliError::new(format!("{PASSPHRASE_ENV} is not valid UTF-8")))?;
            if text.is_empty() {
                return Err(CliError::new(format!(
                    "{PASSPHRASE_ENV} is set but empty; unset it to use a generated passphrase"
                )));
            }
            Ok((SecretBytes::new(text.into_bytes()), PassphraseSource::Env))
        }
        None => {
            let mut bytes = vec![0u8; 32];
            OsRng.fill_bytes(&mut bytes);
            Ok((SecretBytes::new(bytes), PassphraseSource::Generated))
        }
    }
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
