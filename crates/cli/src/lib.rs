//! The `tessera` command line.
//!
//! Today one subcommand, `tessera demo`: distributed key generation, signing and proactive
//! refresh across real signers, each with its own SQLite store and passphrase vault, driven in
//! one process by the coordinator. The `tessera dev` loopback cluster comes next.
//!
//! Arguments are read by clap, then checked through the domain types ([`Scheme`],
//! [`tessera_types::Threshold`]); every failure ends as one line, `error: ...`, and a non-zero
//! exit code.

mod demo;
mod error;
mod verify;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};
use tessera_types::Scheme;

pub use demo::{DemoOptions, SchemeChoice};
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
    /// Generate a key by DKG across real signer stores, sign, verify, refresh, sign again
    Demo(DemoArgs),
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
    let result = match cli.command {
        Command::Demo(a) => {
            let options = DemoOptions {
                scheme: a.scheme,
                threshold: a.threshold,
                signers: a.signers,
                data_dir: a.data_dir,
                message: a.message,
                fast_kdf: a.fast_kdf,
            };
            demo::run(&options, &mut std::io::stdout().lock())
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

/// Help and version go to stdout with success; a usage error is cut to its first line
/// (clap's own `error: ...` sentence) and exits with 2, as clap does.
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
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{first}");
            ExitCode::from(2)
        }
    }
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
        let Command::Demo(a) = cli.command;
        assert_eq!(a.scheme, SchemeChoice::All);
        assert_eq!((a.threshold, a.signers), (2, 3));
        assert!(a.data_dir.is_none());
        assert!(!a.fast_kdf);
        assert_eq!(a.message, DEFAULT_MESSAGE);
    }
}
