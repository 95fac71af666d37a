//! `tessera asset add | list` and `tessera transfer send | show`: Ethereum tokens and transfers
//! through the API.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::Value;
use tessera_wire::{AddAsset, Chain, TransferRequest};

use super::http::{self, ApiCall};
use super::render::{self, line, optional_line};
use super::target::Target;
use super::{
    Connection, DEFAULT_ADMIN_CLIENT, DEFAULT_CLIENT, checked_id, execute, parse_id,
    parse_idempotency_key, random_idempotency_key,
};
use crate::CliError;

/// `tessera asset ...`: the tokens transfers may move.
#[derive(Debug, Clone, Subcommand)]
pub enum AssetCommand {
    /// Register an ERC-20 token at every signer (admin)
    Add {
        /// Its symbol, e.g. USDC
        #[arg(long)]
        symbol: String,
        /// Its contract address, 0x and 40 hex digits
        #[arg(long, value_name = "ADDRESS")]
        contract: String,
        /// Its decimals
        #[arg(long)]
        decimals: u8,
    },
    /// List the assets: ETH and the registered tokens
    List,
}

/// `tessera transfer ...`: move ETH or a token from an Ethereum wallet.
#[derive(Debug, Clone, Subcommand)]
pub enum TransferCommand {
    /// Ask for a transfer; prints it once broadcast
    Send(SendArgs),
    /// Show a transfer and where it stands
    Show {
        /// The transfer's id
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: String,
        /// Wait until it is confirmed or has failed
        #[arg(long)]
        wait: bool,
    },
}

/// `tessera transfer send`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// The wallet the funds leave (an ecdsa-secp256k1 wallet)
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub wallet: String,
    /// The recipient, 0x and 40 hex digits
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    /// ETH or a registered token's symbol
    #[arg(long, default_value = "ETH")]
    pub asset: String,
    /// An exact decimal amount in the asset's units, e.g. 0.25
    #[arg(long)]
    pub amount: String,
    /// Key that makes a retry return the first transfer instead of sending again [default: 16
    /// random bytes in hex, printed so that the request can be retried]
    #[arg(long, value_name = "KEY", value_parser = parse_idempotency_key)]
    pub idempotency_key: Option<String>,
    /// Wait until it is confirmed or has failed
    #[arg(long)]
    pub wait: bool,
}

/// How long `--wait` waits.
const WAIT_FOR: Duration = Duration::from_secs(300);

/// Runs an `asset` subcommand.
pub fn run_asset(
    conn: &Connection,
    cmd: AssetCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        AssetCommand::Add {
            symbol,
            contract,
            decimals,
        } => {
            let call = ApiCall::post_json(
                "/v1/assets",
                &AddAsset {
                    symbol,
                    chain: Chain::Ethereum,
                    contract,
                    decimals,
                },
            )?;
            execute(conn, DEFAULT_ADMIN_CLIENT, &call, out, asset)
        }
        AssetCommand::List => execute(
            conn,
            DEFAULT_CLIENT,
            &ApiCall::get("/v1/assets"),
            out,
            asset_list,
        ),
    }
}

/// Runs a `transfer` subcommand. When the idempotency key was generated and the outcome is
/// unknown, the error names the key, so that a retry cannot send twice.
pub fn run_transfer(
    conn: &Connection,
    cmd: TransferCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        TransferCommand::Send(a) => {
            let (idempotency_key, generated) = match a.idempotency_key {
                Some(k) => (k, false),
                None => (random_idempotency_key(), true),
            };
            let call = ApiCall::post_json(
                "/v1/transfers",
                &TransferRequest {
                    wallet_id: checked_id(&a.wallet)?,
                    to: a.to,
                    asset: a.asset,
                    amount: a.amount,
                    idempotency_key: idempotency_key.clone(),
                },
            )?;
            let target = Target::resolve(conn, DEFAULT_CLIENT)?;
            let retry_hint = |e: CliError| {
                if generated {
                    CliError::new(format!(
                        "{e}; to retry without sending twice, pass --idempotency-key {idempotency_key}"
                    ))
                } else {
                    e
                }
            };
            let reply = http::exchange(&target, &call).map_err(retry_hint)?;
            let uncertain = reply.status.is_server_error();
            if !a.wait || !reply.status.is_success() {
                return render::finish(&reply, conn.json, out, |v, o| {
                    transfer(v, o)?;
                    writeln!(o, "idempotency_key: {idempotency_key}")
                })
                .map_err(|e| if uncertain { retry_hint(e) } else { e });
            }
            let id = serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                .ok_or_else(|| CliError::new("the api answered without a transfer id"))?;
            wait_settled(conn, &target, &checked_id(&id)?, out)
        }
        TransferCommand::Show { id, wait } => {
            let id = checked_id(&id)?;
            if wait {
                let target = Target::resolve(conn, DEFAULT_CLIENT)?;
                wait_settled(conn, &target, &id, out)
            } else {
                let call = ApiCall::get(format!("/v1/transfers/{id}"));
                execute(conn, DEFAULT_CLIENT, &call, out, transfer)
            }
        }
    }
}

/// Polls a transfer until it is confirmed, failed or denied, then prints it. A transfer that
/// ends other than confirmed is an error.
fn wait_settled(
    conn: &Connection,
    target: &Target,
    id: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let started = Instant::now();
    let call = ApiCall::get(format!("/v1/transfers/{id}"));
    loop {
        let reply = http::exchange(target, &call)?;
        let status = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned));
        let settled = matches!(status.as_deref(), Some("confirmed" | "failed" | "denied"));
        if !reply.status.is_success() || settled || started.elapsed() > WAIT_FOR {
            render::finish(&reply, conn.json, out, transfer)?;
            return match status.as_deref() {
                Some("confirmed") => Ok(()),
                Some(s @ ("failed" | "denied")) => Err(CliError::new(format!("transfer {s}"))),
                _ => Err(CliError::new(format!(
                    "transfer not settled after {} s",
                    WAIT_FOR.as_secs()
                ))),
            };
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn asset(v: &Value, out: &mut dyn Write) -> io::Result<()> {
    for key in ["symbol", "chain", "contract", "decimals"] {
        line(out, key, v)?;
    }
    Ok(())
}

fn asset_list(v: &Value, out: &mut dyn Write) -> io::Result<()> {
    let assets = v
        .get("assets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, a) in assets.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        asset(a, out)?;
    }
    Ok(())
}

fn transfer(v: &Value, out: &mut dyn Write) -> io::Result<()> {
    for key in ["id", "status"] {
        line(out, key, v)?;
    }
    optional_line(out, "reason", v)?;
    for key in ["wallet_id", "to", "asset", "amount"] {
        line(out, key, v)?;
    }
    for key in ["nonce", "tx_hash", "block_number"] {
        optional_line(out, key, v)?;
    }
    Ok(())
}
