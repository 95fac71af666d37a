//! The API client commands: `wallet create | list | show`, `sign`, `request show`,
//! `asset add | list` and `transfer send | show`.
//!
//! Each command is one HTTP/1.1 request to the API (plain HTTP on loopback), signed with the
//! client's Ed25519 key: a fresh token per request, bound to exactly the method, path and body
//! sent (see `tessera_auth`). The API's URL and the client's key come from the flags, or from
//! the `dev.json` that `tessera dev` writes. With `--json` the API's response body is printed
//! unchanged on one line; otherwise as short `key: value` lines. An API error ends the command
//! as `api error 409 idempotency_conflict: <message>`.

mod eth;
pub(crate) mod http;
mod render;
mod target;

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use rand_core::{OsRng, RngCore as _};
use serde_json::Value;
use tessera_auth::ClientId;
use tessera_types::Scheme;
use tessera_wire::{CreateWallet, SignRequest};

use crate::CliError;
pub use eth::{AssetCommand, TransferCommand, run_asset, run_transfer};
use http::ApiCall;
pub use target::ApiUrl;
pub(crate) use target::Target;

/// The directory `tessera dev` writes to unless told otherwise.
pub const DEFAULT_DEV_DIR: &str = "./tessera-dev";

/// The client `wallet create` acts as unless `--client` is given.
pub const DEFAULT_ADMIN_CLIENT: &str = "admin-1";

/// The client `sign` and the read commands act as unless `--client` is given.
pub const DEFAULT_CLIENT: &str = "trader";

/// Longest idempotency key the API accepts, in bytes.
const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Longest wallet or request id accepted in a path.
const MAX_ID: usize = 128;

/// Where the API is and who calls it. Every flag is global, so it may follow the subcommand.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Directory of a `tessera dev` cluster; its dev.json gives the API URL and client keys
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DEV_DIR, global = true)]
    pub dev_dir: PathBuf,
    /// API base URL, `http://host:port` [default: the one in dev.json]
    #[arg(long, value_name = "URL", global = true)]
    pub api_url: Option<ApiUrl>,
    /// Client to act as [default: admin-1 for `wallet create`, trader otherwise]
    #[arg(long, value_name = "ID", global = true)]
    pub client: Option<ClientId>,
    /// The client's PKCS#8 PEM Ed25519 private key [default: the one dev.json lists for it]
    #[arg(long, value_name = "PATH", global = true)]
    pub key_file: Option<PathBuf>,
    /// Print the API's JSON response body unchanged, on one line
    #[arg(long, global = true)]
    pub json: bool,
}

/// `tessera wallet ...`: wallets and their keys.
#[derive(Debug, Clone, Subcommand)]
pub enum WalletCommand {
    /// Create a wallet: the signers generate its key together (DKG)
    Create {
        /// A name for people, not an identifier
        #[arg(long)]
        name: String,
        /// Signature scheme: frost-ed25519, frost-secp256k1-tr, or ecdsa-secp256k1 (an
        /// Ethereum wallet)
        #[arg(long)]
        scheme: Scheme,
    },
    /// List the wallets
    List,
    /// Show one wallet
    Show {
        /// The wallet's id
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: String,
    },
}

/// `tessera sign`: ask for a signature with a wallet's key.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("payload").required(true).args(["payload_hex", "message"])))]
pub struct SignArgs {
    /// The wallet whose key signs
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub wallet: String,
    /// The bytes to sign, in hex
    #[arg(long, value_name = "HEX", value_parser = parse_hex)]
    pub payload_hex: Option<String>,
    /// Text whose UTF-8 bytes are signed
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Key that makes a retry return the first result instead of signing again [default: 16
    /// random bytes in hex, printed so that the request can be retried]
    #[arg(long, value_name = "KEY", value_parser = parse_idempotency_key)]
    pub idempotency_key: Option<String>,
}

impl SignArgs {
    /// The payload in lower-case hex, from whichever of `--payload-hex` and `--message` is set.
    fn payload_hex(&self) -> Result<String, CliError> {
        match (&self.payload_hex, &self.message) {
            (Some(h), None) => parse_hex(h).map_err(CliError::new),
            (None, Some(m)) => Ok(hex::encode(m.as_bytes())),
            _ => Err(CliError::new(
                "pass exactly one of --payload-hex and --message",
            )),
        }
    }
}

/// `tessera request ...`: the record of a request.
#[derive(Debug, Clone, Subcommand)]
pub enum RequestCommand {
    /// Show a request: its kind, status, and signature or error
    Show {
        /// The request's id
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: String,
    },
}

/// Runs a `wallet` subcommand, printing to `out`.
pub fn run_wallet(
    conn: &Connection,
    cmd: WalletCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        WalletCommand::Create { name, scheme } => {
            let call = ApiCall::post_json(
                "/v1/wallets",
                &CreateWallet {
                    name,
                    scheme,
                    chain: None,
                },
            )?;
            execute(conn, DEFAULT_ADMIN_CLIENT, &call, out, render::wallet)
        }
        WalletCommand::List => {
            let call = ApiCall::get("/v1/wallets");
            execute(conn, DEFAULT_CLIENT, &call, out, render::wallet_list)
        }
        WalletCommand::Show { id } => {
            let call = ApiCall::get(format!("/v1/wallets/{}", checked_id(&id)?));
            execute(conn, DEFAULT_CLIENT, &call, out, render::wallet)
        }
    }
}

/// Runs `sign`, printing to `out`. When the idempotency key was generated and the outcome is
/// unknown (no answer, or a 5xx), the error names the key, so that a retry cannot sign twice.
pub fn run_sign(conn: &Connection, args: SignArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let payload_hex = args.payload_hex()?;
    let (idempotency_key, generated) = match args.idempotency_key {
        Some(k) => (parse_idempotency_key(&k).map_err(CliError::new)?, false),
        None => (random_idempotency_key(), true),
    };
    let path = format!("/v1/wallets/{}/sign", checked_id(&args.wallet)?);
    let body = SignRequest {
        payload_hex: Some(payload_hex),
        typed_data: None,
        message_hex: None,
        idempotency_key: idempotency_key.clone(),
    };
    let call = ApiCall::post_json(path, &body)?;
    let target = Target::resolve(conn, DEFAULT_CLIENT)?;
    let retry_hint = |e: CliError| {
        if generated {
            CliError::new(format!(
                "{e}; to retry without signing twice, pass --idempotency-key {idempotency_key}"
            ))
        } else {
            e
        }
    };
    let reply = http::exchange(&target, &call).map_err(retry_hint)?;
    // Whether a 5xx signed anything is unknown; a 4xx was refused and a retry would be too.
    let uncertain = reply.status.is_server_error();
    render::finish(&reply, conn.json, out, |v, o| {
        render::signature(v, &idempotency_key, o)
    })
    .map_err(|e| if uncertain { retry_hint(e) } else { e })
}

/// Runs a `request` subcommand, printing to `out`.
pub fn run_request(
    conn: &Connection,
    cmd: RequestCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        RequestCommand::Show { id } => {
            let call = ApiCall::get(format!("/v1/requests/{}", checked_id(&id)?));
            execute(conn, DEFAULT_CLIENT, &call, out, render::request)
        }
    }
}

/// Resolves the connection, sends `call` and prints the reply.
fn execute(
    conn: &Connection,
    default_client: &str,
    call: &ApiCall,
    out: &mut dyn Write,
    human: fn(&Value, &mut dyn Write) -> io::Result<()>,
) -> Result<(), CliError> {
    let target = Target::resolve(conn, default_client)?;
    let reply = http::exchange(&target, call)?;
    render::finish(&reply, conn.json, out, human)
}

/// 16 random bytes from the OS, in hex.
fn random_idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Checks an id that goes into a URL path: URL-safe characters only, so that it stays one
/// path segment. What the id means is for the API to check.
fn parse_id(s: &str) -> Result<String, String> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
    if s.is_empty() || s.len() > MAX_ID || s == "." || s == ".." || !s.chars().all(safe) {
        return Err(format!(
            "id `{}` must be 1 to {MAX_ID} characters from a-z, A-Z, 0-9, `-`, `_`, `.` and `~`",
            s.escape_debug()
        ));
    }
    Ok(s.to_owned())
}

fn checked_id(s: &str) -> Result<String, CliError> {
    parse_id(s).map_err(CliError::new)
}

/// Checks hex and returns it in lower case.
fn parse_hex(s: &str) -> Result<String, String> {
    hex::decode(s)
        .map(|_| s.to_ascii_lowercase())
        .map_err(|_| "payload must be hex digits, two per byte".to_owned())
}

/// Checks an idempotency key as the API does: 1 to 128 printable ASCII characters.
fn parse_idempotency_key(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > MAX_IDEMPOTENCY_KEY || !s.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ascii characters without spaces"
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests;
