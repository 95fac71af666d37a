//! `tessera audit verify|export|keys` and `tessera receipt verify` (ADR 0013).
//!
//! `audit verify --data-dir DIR` finds every chain of a `tessera dev` data directory (the
//! coordinator's store and each signer's), takes each node's audit public key from its key file
//! there, and prints one line per chain:
//!
//! ```text
//! NODE: N entries, head SEQ HASH: ok
//! NODE: N entries, head SEQ HASH: bad entry SEQ (CODE): MESSAGE
//! ```
//!
//! (`head none` for an empty chain). It exits 0 only if every chain verifies, and fails when
//! the directory holds no chain. `--receipts FILE` also checks that each chain still passes
//! through the positions the receipts in FILE anchor (`truncated`, `anchor_mismatch`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use rusqlite::{Connection, OpenFlags};
use tessera_audit::{Anchor, AuditKey, AuditPublicKey, Receipt, VerifyError};

use crate::error::CliError;

/// `tessera audit ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify every audit chain of a `tessera dev` data directory; one line per chain
    Verify {
        /// The `tessera dev` data directory
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Receipts (an API answer or a JSON array) whose audit positions each chain must
        /// still pass through; may be given more than once
        #[arg(long, value_name = "FILE")]
        receipts: Vec<PathBuf>,
    },
    /// Write one node's audit chain as JSON lines
    Export {
        /// The `tessera dev` data directory
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// `coordinator`, `signer-N` or `N`
        #[arg(long, value_name = "NODE")]
        node: String,
        /// Write here instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the audit public key of every node of a `tessera dev` data directory, as the
    /// JSON object `tessera receipt verify --keys` reads
    Keys {
        /// The `tessera dev` data directory
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
}

/// `tessera receipt ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ReceiptCommand {
    /// Check that a quorum of known nodes signed receipts agreeing on a request, a policy and a
    /// decision; exits 0 only then
    Verify(ReceiptVerifyArgs),
}

/// `tessera receipt verify`.
#[derive(Debug, Args)]
pub(crate) struct ReceiptVerifyArgs {
    /// The receipts: an API answer (its `receipts` array is read) or a JSON array of receipts
    #[arg(long, value_name = "FILE")]
    receipts: PathBuf,
    /// The nodes' audit public keys: a JSON object `{"signer-1": "HEX", ...}`
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "data_dir",
        conflicts_with = "data_dir"
    )]
    keys: Option<PathBuf>,
    /// Take the nodes' audit public keys from the key files of this `tessera dev` directory
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// How many distinct nodes must agree
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u16).range(1..))]
    threshold: u16,
    /// The policy hash the decision must have been made under (64 hex)
    #[arg(long, value_name = "HASH")]
    policy: String,
    /// The hash of the request you sent (`tessera_audit::request_hash`, 64 hex); without it,
    /// the hash most receipts name is used, and printed
    #[arg(long, value_name = "HASH")]
    request_hash: Option<String>,
    /// The decision the nodes must agree on
    #[arg(long, value_name = "DECISION", default_value = "allow")]
    decision: String,
}

/// One node's chain in a data directory.
struct Chain {
    node: String,
    store: PathBuf,
    key_file: PathBuf,
}

fn io(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::new(format!("`{}`: {e}", path.display()))
}

/// The chains of a `tessera dev` data directory: the coordinator's, then each signer's.
fn chains(dir: &Path) -> Result<Vec<Chain>, CliError> {
    if !dir.is_dir() {
        return Err(CliError::new(format!(
            "`{}` is not a directory",
            dir.display()
        )));
    }
    let mut found = Vec::new();
    let coordinator = dir.join("coordinator.sqlite");
    if coordinator.exists() {
        found.push(Chain {
            node: "coordinator".into(),
            store: coordinator,
            key_file: crate::dev::coordinator_audit_key(dir),
        });
    }
    let mut parties: Vec<u16> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("signer-")?
                .parse()
                .ok()
        })
        .collect();
    parties.sort_unstable();
    for n in parties {
        let store = dir.join(format!("signer-{n}")).join("signer.sqlite");
        if store.exists() {
            found.push(Chain {
                node: format!("signer-{n}"),
                store,
                key_file: crate::dev::signer_audit_key(dir, n),
            });
        }
    }
    Ok(found)
}

fn public_key(file: &Path) -> Result<AuditPublicKey, CliError> {
    AuditKey::read_from(file)
        .map(|k| k.public())
        .map_err(|e| CliError::new(e.to_string()))
}

fn open_read_only(store: &Path) -> Result<Connection, CliError> {
    Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| io(store, e))
}

/// Runs `tessera audit ...`.
pub(crate) fn run_audit(cmd: AuditCommand, out: &mut impl Write) -> Result<(), CliError> {
    match cmd {
        AuditCommand::Verify { data_dir, receipts } => {
            let mut anchors: BTreeMap<String, Vec<Anchor>> = BTreeMap::new();
            for file in &receipts {
                for (_, r) in load_receipts(file)?.0 {
                    anchors.entry(r.node.clone()).or_default().push(r.anchor());
                }
            }
            verify_dir(&data_dir, &anchors, out)
        }
        AuditCommand::Export {
            data_dir,
            node,
            out: file,
        } => {
            let chain = find_chain(&data_dir, &node)?;
            let conn = open_read_only(&chain.store)?;
            match file {
                Some(path) => {
                    let f = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
                    let n = tessera_audit::export_jsonl(&conn, std::io::BufWriter::new(f))
                        .map_err(|e| CliError::new(e.to_string()))?;
                    writeln!(
                        out,
                        "wrote {n} entries of {}'s audit chain to {}",
                        chain.node,
                        path.display()
                    )?;
                }
                None => {
                    tessera_audit::export_jsonl(&conn, &mut *out)
                        .map_err(|e| CliError::new(e.to_string()))?;
                }
            }
            Ok(())
        }
        AuditCommand::Keys { data_dir } => {
            let keys = keys_of_dir(&data_dir)?;
            let text = serde_json::to_string_pretty(&keys)
                .map_err(|e| CliError::new(format!("keys: {e}")))?;
            writeln!(out, "{text}")?;
            Ok(())
        }
    }
}

fn find_chain(dir: &Path, node: &str) -> Result<Chain, CliError> {
    let name = match node.parse::<u16>() {
        Ok(n) => format!("signer-{n}"),
        Err(_) => node.to_owned(),
    };
    chains(dir)?
        .into_iter()
        .find(|c| c.node == name)
        .ok_or_else(|| {
            let shown: String = node.chars().take(40).collect();
            CliError::new(format!(
                "no audit chain of node `{shown}` in `{}`",
                dir.display()
            ))
        })
}

fn keys_of_dir(dir: &Path) -> Result<BTreeMap<String, AuditPublicKey>, CliError> {
    let mut keys = BTreeMap::new();
    for c in chains(dir)? {
        keys.insert(c.node.clone(), public_key(&c.key_file)?);
    }
    if keys.is_empty() {
        return Err(CliError::new(format!(
            "`{}` holds no node of a `tessera dev` cluster",
            dir.display()
        )));
    }
    Ok(keys)
}

fn verify_dir(
    dir: &Path,
    anchors: &BTreeMap<String, Vec<Anchor>>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let found = chains(dir)?;
    if found.is_empty() {
        return Err(CliError::new(format!(
            "no audit chain in `{}`",
            dir.display()
        )));
    }
    let mut bad = 0usize;
    for chain in &found {
        let held = anchors
            .get(&chain.node)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let line = match verify_chain(chain, held) {
            Ok(line) => line,
            Err(line) => {
                bad = bad.saturating_add(1);
                line
            }
        };
        writeln!(out, "{}: {line}", chain.node)?;
    }
    if bad == 0 {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "{bad} of {} audit chains do not verify",
            found.len()
        )))
    }
}

/// One chain's line, after `NODE: `: `Ok` if it verifies.
fn verify_chain(chain: &Chain, anchors: &[Anchor]) -> Result<String, String> {
    let key = public_key(&chain.key_file).map_err(|e| format!("cannot verify: {e}"))?;
    let conn = open_read_only(&chain.store).map_err(|e| format!("cannot verify: {e}"))?;
    let count: Result<i64, _> = conn.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0));
    let Ok(count) = count else {
        return Err("cannot verify: the store has no audit log (audit_unreadable)".into());
    };
    let head = match tessera_audit::head(&conn) {
        Ok(Some((seq, hash))) => format!("head {seq} {}", hex::encode(hash)),
        Ok(None) => "head none".into(),
        Err(e) => format!("head unreadable ({})", e.code()),
    };
    let lead = format!("{count} entries, {head}");
    match tessera_audit::verify_with_anchors(&conn, &key, anchors) {
        Ok(_) => Ok(format!("{lead}: ok")),
        Err(VerifyError::Bad(b)) => Err(format!(
            "{lead}: bad entry {} ({}): {}",
            b.seq, b.what, b.message
        )),
        Err(e) => Err(format!("{lead}: cannot verify ({}): {e}", e.code())),
    }
}

/// Receipts that parse, each with its index in the file; and why each other one does not.
type Loaded = (Vec<(usize, Receipt)>, Vec<(usize, String)>);

/// Reads an API answer's `receipts` array, or a bare array of receipts.
fn load_receipts(file: &Path) -> Result<Loaded, CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| io(file, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| io(file, format!("not JSON: {e}")))?;
    let list = match value {
        serde_json::Value::Array(list) => list,
        serde_json::Value::Object(mut o) => match o.remove("receipts") {
            Some(serde_json::Value::Array(list)) => list,
            _ => return Err(io(file, "has no `receipts` array")),
        },
        _ => {
            return Err(io(
                file,
                "is neither an API answer nor an array of receipts",
            ));
        }
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, v) in list.into_iter().enumerate() {
        match serde_json::from_value::<Receipt>(v) {
            Ok(r) => good.push((i, r)),
            Err(e) => bad.push((i, e.to_string())),
        }
    }
    Ok((good, bad))
}

fn parse_hash(text: &str, what: &str) -> Result<[u8; 32], CliError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| {
        let shown: String = text.chars().take(80).collect();
        CliError::new(format!("{what} `{shown}` is not 64 hex characters"))
    })?;
    Ok(out)
}

/// Runs `tessera receipt ...`.
pub(crate) fn run_receipt(cmd: ReceiptCommand, out: &mut impl Write) -> Result<(), CliError> {
    let ReceiptCommand::Verify(a) = cmd;
    let keys = match (&a.keys, &a.data_dir) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|e| io(file, e))?;
            serde_json::from_str::<BTreeMap<String, AuditPublicKey>>(&text)
                .map_err(|e| io(file, format!("not a JSON object of audit public keys: {e}")))?
        }
        (None, Some(dir)) => keys_of_dir(dir)?,
        (None, None) => return Err(CliError::new("give --keys FILE or --data-dir DIR")),
    };
    let policy = a.policy.to_ascii_lowercase();
    parse_hash(&policy, "policy hash")?;
    let (parsed, malformed) = load_receipts(&a.receipts)?;
    let request_hash = match &a.request_hash {
        Some(h) => parse_hash(h, "request hash")?,
        None => {
            let Some(h) = most_named(&parsed) else {
                return Err(CliError::new(format!(
                    "`{}` holds no receipt",
                    a.receipts.display()
                )));
            };
            writeln!(
                out,
                "request hash taken from the receipts: {} (give --request-hash to check your own)",
                hex::encode(h)
            )?;
            h
        }
    };
    let receipts: Vec<Receipt> = parsed.iter().map(|(_, r)| r.clone()).collect();
    let result = tessera_audit::check_quorum(
        &receipts,
        &keys,
        usize::from(a.threshold),
        &request_hash,
        &policy,
        &a.decision,
    );
    for (i, why) in &malformed {
        writeln!(out, "not counted: #{i}: malformed_receipt ({why})")?;
    }
    let rejected = match &result {
        Ok(report) => &report.rejected,
        Err(tessera_audit::ReceiptError::NoQuorum { rejected, .. }) => rejected,
        Err(e) => return Err(CliError::new(e.to_string())),
    };
    for r in rejected {
        let index = parsed.get(r.index).map_or(r.index, |(i, _)| *i);
        writeln!(out, "not counted: #{index} from `{}`: {}", r.node, r.code)?;
    }
    match result {
        Ok(report) => {
            writeln!(
                out,
                "quorum: {} of {} needed nodes ({}) signed `{}` under policy {} for request hash {}",
                report.nodes.len(),
                a.threshold,
                report.nodes.join(", "),
                a.decision,
                policy,
                hex::encode(request_hash)
            )?;
            Ok(())
        }
        Err(tessera_audit::ReceiptError::NoQuorum {
            threshold, counted, ..
        }) => Err(CliError::new(format!(
            "no quorum: {} of {threshold} needed nodes agree ({})",
            counted.len(),
            if counted.is_empty() {
                "none".to_owned()
            } else {
                counted.join(", ")
            }
        ))),
        Err(e) => Err(CliError::new(e.to_string())),
    }
}

/// The request hash most receipts name (the first among equals).
fn most_named(receipts: &[(usize, Receipt)]) -> Option<[u8; 32]> {
    let mut counts: Vec<([u8; 32], usize)> = Vec::new();
    for (_, r) in receipts {
        match counts.iter_mut().find(|(h, _)| *h == r.request_hash) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => counts.push((r.request_hash, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(h, _)| h)
}
