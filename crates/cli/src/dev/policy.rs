//! The bootstrap policy of a `tessera dev` deployment: `--policy FILE`, or the permissive
//! development policy, written once to `DIR/policy.toml` and named by every node's
//! configuration. The signers pin it at their first start; after that it is theirs, and a
//! different file is refused (policy changes are proposals, not restarts).

use std::fs;
use std::path::{Path, PathBuf};

use tessera_policy::{PERMISSIVE_DEV_POLICY, Policy};

use crate::CliError;

/// The policy file every node names, and the line `tessera dev` prints about it.
pub(super) fn bootstrap(
    dir: &Path,
    asked: Option<&Path>,
    existing: bool,
) -> Result<(PathBuf, String), CliError> {
    let path = dir.join("policy.toml");
    let current = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CliError::new(format!("`{}`: {e}", path.display()))),
    };
    let text = match (asked, current) {
        (Some(file), current) => {
            let text = fs::read_to_string(file)
                .map_err(|e| CliError::new(format!("--policy `{}`: {e}", file.display())))?;
            parse(file, &text)?;
            match current {
                Some(current) if current != text && existing => {
                    return Err(CliError::new(format!(
                        "`{}` already runs under its own bootstrap policy; a policy changes by \
                         proposal, not by restarting with another file (use another --data-dir \
                         for a new deployment)",
                        dir.display()
                    )));
                }
                _ => text,
            }
        }
        (None, Some(current)) => current,
        (None, None) => PERMISSIVE_DEV_POLICY.to_owned(),
    };
    let policy = parse(&path, &text)?;
    fs::write(&path, &text).map_err(|e| CliError::new(format!("`{}`: {e}", path.display())))?;
    let line = if text == PERMISSIVE_DEV_POLICY {
        format!(
            "policy: the PERMISSIVE DEVELOPMENT POLICY (allows every request, raw signing \
             included, with no limits; version {}, hash {}); start a new deployment with \
             --policy FILE for real rules",
            policy.version(),
            policy.hash()
        )
    } else {
        format!(
            "policy: version {}, hash {}, {} rule(s), {} limit(s) ({})",
            policy.version(),
            policy.hash(),
            policy.rules().len(),
            policy.limits().len(),
            path.display()
        )
    };
    Ok((path, line))
}

fn parse(file: &Path, text: &str) -> Result<Policy, CliError> {
    Policy::parse(text).map_err(|e| {
        CliError::new(format!(
            "policy `{}`: {} ({})",
            file.display(),
            e.message,
            e.code
        ))
    })
}
