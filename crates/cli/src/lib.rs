//! The `tessera` command line.
//!
//! - `tessera dev`: the whole service on one machine (coordinator in this process, each signer
//!   a child process, loopback mutual TLS), credentials in its data directory.
//! - `tessera signer --config FILE`, `tessera coordinator --config FILE`: the daemons.
//! - `tessera wallet ...`, `tessera sign ...`, `tessera request ...`: the API client, signing
//!   each request with a client key.
//! - `tessera demo`: key generation, signing and refresh in one process, without the network.
//! - `tessera bench`: signing latency and throughput of a real cluster, beside single-key and
//!   in-process library baselines measured in the same run.
//! - `tessera audit verify|export|keys`, `tessera receipt verify`: the audit chains and the
//!   decision receipts (ADR 0013).
//!
//! Arguments are read by clap, then checked through the domain types ([`Scheme`],
//! [`tessera_types::Threshold`]); every failure ends as one line, `error: ...`, and a non-zero
//! exit code.

mod audit;
pub mod bench;
mod client;
mod daemon;
mod demo;
mod dev;
mod error;
mod simulate;
mod verify;

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};
use tessera_types::Scheme;

pub use demo::{DemoOptions, SchemeChoice};
pub use dev::{DevClient, DevEthereum, DevJson, DevOptions};
pub use error::CliError;
pub use verify::independent_verify;

/// The message the demo signs unless `--message` is given.
pub const DEFAULT_MESSAGE: &str = "tessera demo: settle batch 1";

/// Environment variable the demo reads its vault passphrase from.
pub const PASSPHRASE_ENV: &str = "TESSERA_DEMO_PASSPHRASE";

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: a threshold-signing hot wallet",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a 2-of-3 cluster on this machine: coordinator here, each signer a child process
    Dev(DevArgs),
    /// Run a signer node
    Signer(SignerArgs),
    /// Run the coordinator and its HTTP API
    Coordinator(CoordinatorArgs),
    /// Create a development CA and a certificate for each node (kept if they exist)
    DevPki(DevPkiArgs),
    /// Create a signer's peer key (sealing key-generation messages) and print its public key
    PeerKey(PeerKeyArgs),
    /// Create, list and show wallets through the API
    Wallet(WalletArgs),
    /// Sign a payload with a wallet through the API
    Sign(SignCmdArgs),
    /// Show requests through the API
    Request(RequestArgs),
    /// Register and list Ethereum tokens through the API
    Asset(AssetArgs),
    /// Send and follow Ethereum transfers through the API
    Transfer(TransferArgs),
    /// Generate a key by DKG across real signer stores, sign, verify, refresh, sign again
    Demo(DemoArgs),
    /// Measure signing through a real cluster against single-key and library baselines
    Bench(bench::BenchArgs),
    /// Validate policy files and simulate them against a deployment's history
    Policy(PolicyArgs),
    /// Verify and export the nodes' audit chains
    Audit(AuditArgs),
    /// Check decision receipts against the nodes' audit keys
    Receipt(ReceiptArgs),
}

#[derive(Debug, Args)]
struct AuditArgs {
    #[command(subcommand)]
    cmd: audit::AuditCommand,
}

#[derive(Debug, Args)]
struct ReceiptArgs {
    #[command(subcommand)]
    cmd: audit::ReceiptCommand,
}

#[derive(Debug, Args)]
struct DevPkiArgs {
    /// Directory for `ca.pem`, `ca.key` and `<node>.pem`, `<node>.key`
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Node names (certificate common names), e.g. coordinator signer-1 signer-2 signer-3
    #[arg(required = true, value_name = "NODE")]
    nodes: Vec<String>,
}

#[derive(Debug, Args)]
struct PeerKeyArgs {
    /// File for the secret key (created 0600; never overwritten)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct WalletArgs {
    #[command(flatten)]
    conn: client::Connection,
    #[command(subcommand)]
    cmd: client::WalletCommand,
}

#[derive(Debug, Args)]
struct SignCmdArgs {
    #[command(flatten)]
    conn: client::Connection,
    #[command(flatten)]
    args: client::SignArgs,
}

#[derive(Debug, Args)]
struct RequestArgs {
    #[command(flatten)]
    conn: client::Connection,
    #[command(subcommand)]
    cmd: client::RequestCommand,
}

#[derive(Debug, Args)]
struct AssetArgs {
    #[command(flatten)]
    conn: client::Connection,
    #[command(subcommand)]
    cmd: client::AssetCommand,
}

#[derive(Debug, Args)]
struct TransferArgs {
    #[command(flatten)]
    conn: client::Connection,
    #[command(subcommand)]
    cmd: client::TransferCommand,
}

#[derive(Debug, Args)]
struct DevArgs {
    /// Data directory: stores, credentials, logs; reused on the next start
    #[arg(long, value_name = "DIR", default_value = "./tessera-dev")]
    data_dir: PathBuf,
    /// Address of the HTTP API; signers listen on the next ports
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8700")]
    listen: std::net::SocketAddr,
    /// Signers needed per signature
    #[arg(long, default_value_t = 2, hide = true)]
    threshold: u16,
    /// Signers
    #[arg(long, default_value_t = 3, hide = true)]
    signers: u16,
    /// Minimal Argon2id costs for new vaults: fast, and insecure for real shares
    #[arg(long, hide = true)]
    fast_kdf: bool,
    /// Logs as JSON lines
    #[arg(long)]
    log_json: bool,
    /// Send Ethereum transfers through the node at this JSON-RPC URL (http://host:port)
    #[arg(long, value_name = "URL", conflicts_with = "with_anvil")]
    ethereum_rpc: Option<String>,
    /// Start a local anvil (from `scripts/install-anvil`) and send Ethereum transfers through it
    #[arg(long)]
    with_anvil: bool,
    /// Blocks, counting the one that includes it, before a transfer is confirmed
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    confirmations: u64,
    /// How often open transfers are checked, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000, hide = true)]
    eth_poll_ms: u64,
    /// Seconds a broadcast transaction may wait unmined before its fees are bumped
    #[arg(long, value_name = "SECS", default_value_t = 60, hide = true)]
    bump_after_secs: u64,
    /// The bootstrap policy of a new deployment (TOML); without it, a permissive development
    /// policy that allows everything
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct PolicyArgs {
    #[command(subcommand)]
    cmd: PolicyCmd,
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Validate a policy file; prints its version and hash
    Check {
        /// The policy (TOML)
        file: PathBuf,
    },
    /// Replay a deployment's recorded requests against a policy; shows those it would have
    /// decided differently (the store is only read)
    Simulate {
        /// The policy to simulate (TOML)
        file: PathBuf,
        /// The `tessera dev` data directory whose history is replayed
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Whose history: signer N's store
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        signer: u16,
        /// The report as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct SignerArgs {
    /// The signer's TOML configuration
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Stop when process PID is no longer this process's parent (used by `tessera dev`)
    #[arg(long, value_name = "PID", hide = true)]
    exit_with_parent: Option<u32>,
    /// Logs as JSON lines
    #[arg(long)]
    log_json: bool,
}

#[derive(Debug, Args)]
struct CoordinatorArgs {
    /// The coordinator's TOML configuration
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Logs as JSON lines
    #[arg(long)]
    log_json: bool,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Scheme to run: frost-ed25519, frost-secp256k1-tr or all
    #[arg(long, default_value = "all", value_parser = parse_scheme_choice)]
    scheme: SchemeChoice,
    /// Signers needed for a signature (t); must be more than half of --signers
    #[arg(long, default_value_t = 2)]
    threshold: u16,
    /// Signers holding a share (n), each with its own store
    #[arg(long, default_value_t = 3)]
    signers: u16,
    /// Directory for the signer stores, kept afterwards [default: a temporary directory,
    /// removed at the end]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Text to sign
    #[arg(long, value_name = "TEXT", default_value = DEFAULT_MESSAGE)]
    message: String,
    /// Derive the vault keys with minimal Argon2id costs: fast, and insecure for real shares
    #[arg(long)]
    fast_kdf: bool,
}

fn parse_scheme_choice(s: &str) -> Result<SchemeChoice, String> {
    if s == "all" {
        return Ok(SchemeChoice::All);
    }
    Scheme::from_str(s)
        .map(SchemeChoice::One)
        .map_err(|e| format!("{e}, or all"))
}

/// Runs the command line of this process and returns its exit code.
pub fn run() -> ExitCode {
    run_from(std::env::args_os())
}

/// Runs the command line `args` (the first item is the program name).
pub fn run_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Dev(a) => {
            daemon::init_logging(a.log_json);
            let options = DevOptions {
                data_dir: a.data_dir,
                listen: a.listen,
                threshold: a.threshold,
                signers: a.signers,
                fast_kdf: a.fast_kdf,
                ethereum: (a.ethereum_rpc.is_some() || a.with_anvil).then_some(dev::DevEthereum {
                    rpc_url: a.ethereum_rpc,
                    confirmations: a.confirmations,
                    poll_interval_ms: a.eth_poll_ms,
                    bump_after_secs: a.bump_after_secs,
                }),
                policy: a.policy,
            };
            dev::run(&options, &mut out)
        }
        Command::Signer(a) => {
            daemon::init_logging(a.log_json);
            daemon::run_signer(&a.config, a.exit_with_parent)
        }
        Command::Coordinator(a) => {
            daemon::init_logging(a.log_json);
            daemon::run_coordinator(&a.config)
        }
        Command::DevPki(a) => {
            let nodes: Vec<&str> = a.nodes.iter().map(String::as_str).collect();
            tessera_net::pki::write_dev_pki(&a.dir, "tessera-dev-ca", &nodes)
                .map_err(|e| CliError::new(format!("development certificates: {e}")))
                .and_then(|()| {
                    writeln!(
                        out,
                        "certificates for {} in {}",
                        nodes.join(", "),
                        a.dir.display()
                    )
                    .map_err(CliError::from)
                })
        }
        Command::PeerKey(a) => dev::write_peer_key(&a.out)
            .and_then(|public| writeln!(out, "public_key = \"{public}\"").map_err(CliError::from)),
        Command::Wallet(a) => client::run_wallet(&a.conn, a.cmd, &mut out),
        Command::Sign(a) => client::run_sign(&a.conn, a.args, &mut out),
        Command::Request(a) => client::run_request(&a.conn, a.cmd, &mut out),
        Command::Asset(a) => client::run_asset(&a.conn, a.cmd, &mut out),
        Command::Policy(a) => match a.cmd {
            PolicyCmd::Check { file } => policy_check(&file, &mut out),
            PolicyCmd::Simulate {
                file,
                data_dir,
                signer,
                json,
            } => simulate::run(
                &simulate::SimulateOptions {
                    file,
                    data_dir,
                    signer,
                    json,
                },
                &mut out,
            ),
        },
        Command::Transfer(a) => client::run_transfer(&a.conn, a.cmd, &mut out),
        Command::Audit(a) => audit::run_audit(a.cmd, &mut out),
        Command::Receipt(a) => audit::run_receipt(a.cmd, &mut out),
        Command::Bench(a) => bench::run(&a, &mut out),
        Command::Demo(a) => {
            let options = DemoOptions {
                scheme: a.scheme,
                threshold: a.threshold,
                signers: a.signers,
                data_dir: a.data_dir,
                message: a.message,
                fast_kdf: a.fast_kdf,
            };
            demo::run(&options, &mut out)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout with success; a usage error is one line (clap's own
/// `error: ...` sentence, with the arguments it names) and exits with 2, as clap does.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Nothing sensible is left to do if stdout is gone.
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            // clap's sentence, and the arguments it lists under it (a missing one, say), on one
            // line; its usage block is left out.
            let rendered = e.render().to_string();
            let sentence: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            if sentence.is_empty() {
                eprintln!("error: invalid arguments");
            } else {
                eprintln!("{}", sentence.join(" "));
            }
            ExitCode::from(2)
        }
    }
}

/// `tessera policy check FILE`: exits non-zero, naming the problem, unless FILE is a valid
/// policy.
fn policy_check(file: &std::path::Path, out: &mut impl std::io::Write) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::new(format!("`{}`: {e}", file.display())))?;
    let policy = tessera_policy::Policy::parse(&text)
        .map_err(|e| CliError::new(format!("`{}`: {} ({})", file.display(), e.message, e.code)))?;
    writeln!(
        out,
        "{}: valid policy, version {}, hash {}, {} rule(s), {} limit(s)",
        file.display(),
        policy.version(),
        policy.hash(),
        policy.rules().len(),
        policy.limits().len()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn scheme_choice_goes_through_the_domain_type() {
        assert_eq!(parse_scheme_choice("all"), Ok(SchemeChoice::All));
        for s in Scheme::ALL {
            assert_eq!(parse_scheme_choice(s.name()), Ok(SchemeChoice::One(s)));
        }
        let err = parse_scheme_choice("frost-secp256k1").unwrap_err();
        assert!(err.contains("unknown scheme `frost-secp256k1`"), "{err}");
        assert!(err.ends_with("or all"), "{err}");
    }

    #[test]
    fn defaults_are_two_of_three_all_schemes() {
        let cli = Cli::try_parse_from(["tessera", "demo"]).unwrap();
        let Command::Demo(a) = cli.command else {
            panic!("parsed another command");
        };
        assert_eq!(a.scheme, SchemeChoice::All);
        assert_eq!((a.threshold, a.signers), (2, 3));
        assert!(a.data_dir.is_none());
        assert!(!a.fast_kdf);
        assert_eq!(a.message, DEFAULT_MESSAGE);
    }
}
