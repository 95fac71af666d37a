//! `tessera dev`: a whole cluster on one machine, as in production. The coordinator runs in
//! this process; each signer is its own child process (`tessera signer`), with its own store,
//! vault passphrase and TLS identity under the data directory; they talk over loopback mutual
//! TLS. Credentials are created on first start and reused after. A signer child that dies is
//! restarted; the coordinator keeps serving with the others meanwhile.

mod layout;
mod policy;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::daemon::runtime;
use crate::error::CliError;

pub use layout::{DevClient, DevJson};
pub(crate) use layout::{coordinator_audit_key, signer_audit_key, write_peer_key};

/// What `tessera dev` was asked for.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The API address.
    pub listen: SocketAddr,
    /// Signers needed per signature.
    pub threshold: u16,
    /// Signers.
    pub signers: u16,
    /// Minimal key-derivation cost for new vaults (tests).
    pub fast_kdf: bool,
    /// The Ethereum node, if any.
    pub ethereum: Option<DevEthereum>,
    /// The bootstrap policy of a new deployment; none: the permissive development policy.
    pub policy: Option<PathBuf>,
}

/// Which Ethereum node `tessera dev` uses and how it follows transactions.
#[derive(Debug, Clone)]
pub struct DevEthereum {
    /// `Some(url)`: that node; `None`: start an anvil on a free loopback port.
    pub rpc_url: Option<String>,
    /// Blocks, counting the including one, before a transfer is confirmed.
    pub confirmations: u64,
    /// How often open transfers are checked, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a transaction may wait unmined before its fees are bumped, in seconds.
    pub bump_after_secs: u64,
}

/// The node as the configurations name it.
#[derive(Debug, Clone)]
pub(crate) struct EthereumLink {
    pub rpc_url: String,
    pub chain_id: u64,
    pub settings: DevEthereum,
}

struct SignerChild {
    party: u16,
    started: Instant,
    config: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
    child: Child,
}

/// Runs the cluster until SIGINT or SIGTERM.
pub fn run(opts: &DevOptions, out: &mut dyn Write) -> Result<(), CliError> {
    runtime()?.block_on(run_async(opts, out))
}

async fn run_async(opts: &DevOptions, out: &mut dyn Write) -> Result<(), CliError> {
    let shutdown = tessera_node::shutdown_signal();
    // An anvil started here lives as long as this function: dropping it stops it.
    let (anvil, ethereum) = match &opts.ethereum {
        Some(e) => {
            let (anvil, link) = connect_ethereum(e).await?;
            (anvil, Some(link))
        }
        None => (None, None),
    };
    let layout = layout::prepare(opts, ethereum.as_ref())?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::new(format!("cannot find the tessera executable: {e}")))?;
    let mut children = Vec::with_capacity(layout.signers.len());
    for s in &layout.signers {
        children.push(spawn(&exe, s.party, &s.config, &s.pid_file, &s.log)?);
    }
    for (s, child) in layout.signers.iter().zip(children.iter_mut()) {
        wait_listening(s.listen, child).await?;
    }
    let bound = tessera_node::coordinator::bind(&layout.coordinator_config)
        .await
        .map_err(|e| CliError::new(format!("coordinator: {e}")))?;
    let api_url = format!("http://{}", bound.addr());
    layout::write_dev_json(&layout, &api_url, ethereum.as_ref())?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(async move {
        let _ = stop_rx.await;
    }));
    // The client commands find dev.json in ./tessera-dev unless told otherwise.
    let dev_dir = if opts.data_dir == Path::new("./tessera-dev") {
        String::new()
    } else {
        format!(" --dev-dir {}", layout.dir.display())
    };
    if let Some(e) = &ethereum {
        let started = if anvil.is_some() {
            " (an anvil started for this run: its chain starts empty each time)"
        } else {
            ""
        };
        writeln!(
            out,
            "ethereum: node {} chain id {}{started}, transfers confirmed after {} block(s)",
            e.rpc_url, e.chain_id, e.settings.confirmations
        )?;
    }
    writeln!(out, "{}", layout.policy_line)?;
    writeln!(
        out,
        "tessera dev: {} of {} signers ready, API at {api_url}\n\
         credentials: {}\n\
         try, from another terminal in this directory:\n  \
           tessera wallet create{dev_dir} --name hot-1 --scheme frost-ed25519\n  \
           tessera sign{dev_dir} --wallet <id> --message \"settle batch 1\"\n\
         stop with Ctrl-C; start again with the same --data-dir to keep every wallet",
        opts.threshold,
        opts.signers,
        layout.dir.join("dev.json").display()
    )?;
    out.flush()?;

    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {
                for c in &mut children {
                    // A signer that dies at once is not restarted in a tight loop.
                    if c.started.elapsed() < Duration::from_secs(2) {
                        continue;
                    }
                    if let Ok(Some(status)) = c.child.try_wait() {
                        tracing::warn!(party = c.party, %status, "signer exited; restarting it");
                        match spawn(&exe, c.party, &c.config, &c.pid_file, &c.log) {
                            Ok(fresh) => *c = fresh,
                            Err(e) => tracing::error!(party = c.party, error = %e, "cannot restart signer"),
                        }
                    }
                }
            }
        }
    }
    tracing::info!("stopping");
    let _ = stop_tx.send(());
    if let Ok(Err(e)) = server.await {
        tracing::error!(error = %e, "coordinator stopped with an error");
    }
    for c in &mut children {
        stop_child(c).await;
    }
    drop(anvil);
    writeln!(out, "tessera dev: stopped")?;
    Ok(())
}

/// Starts an anvil if asked, and reads the node's chain id, which every signer is configured
/// with.
async fn connect_ethereum(
    e: &DevEthereum,
) -> Result<(Option<tessera_eth::anvil::Anvil>, EthereumLink), CliError> {
    let (anvil, url) = match &e.rpc_url {
        Some(url) => (None, url.clone()),
        None => {
            let a = tessera_eth::anvil::Anvil::start()
                .map_err(|err| CliError::new(format!("--with-anvil: {}", err.message)))?;
            let url = a.url();
            (Some(a), url)
        }
    };
    let rpc = tessera_eth::Rpc::new(&url)
        .map_err(|err| CliError::new(format!("--ethereum-rpc: {}", err.message)))?;
    let chain_id = rpc.chain_id().await.map_err(|err| {
        CliError::new(format!(
            "cannot read the chain id of the Ethereum node at {url}: {}",
            err.message
        ))
    })?;
    Ok((
        anvil,
        EthereumLink {
            rpc_url: url,
            chain_id,
            settings: e.clone(),
        },
    ))
}

fn spawn(
    exe: &Path,
    party: u16,
    config: &Path,
    pid_file: &Path,
    log: &Path,
) -> Result<SignerChild, CliError> {
    let open_log = || {
        std::os::unix::fs::OpenOptionsExt::mode(
            std::fs::OpenOptions::new().create(true).append(true),
            0o600,
        )
        .open(log)
        .map_err(|e| CliError::new(format!("signer log `{}`: {e}", log.display())))
    };
    let child = Command::new(exe)
        .arg("signer")
        .arg("--config")
        .arg(config)
        .arg("--exit-with-parent")
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(open_log()?))
        .stderr(Stdio::from(open_log()?))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| CliError::new(format!("cannot start signer {party}: {e}")))?;
    if let Some(pid) = child.id() {
        tessera_node::write_pid_id(pid_file, pid).map_err(|e| CliError::new(e.to_string()))?;
    }
    Ok(SignerChild {
        party,
        started: Instant::now(),
        config: config.to_owned(),
        pid_file: pid_file.to_owned(),
        log: log.to_owned(),
        child,
    })
}

/// Waits until the signer accepts connections; fails if it exits first.
async fn wait_listening(addr: SocketAddr, c: &mut SignerChild) -> Result<(), CliError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = c.child.try_wait() {
            return Err(CliError::new(format!(
                "signer {} exited ({status}) before listening; see `{}`",
                c.party,
                c.log.display()
            )));
        }
        if Instant::now() > deadline {
            return Err(CliError::new(format!(
                "signer {} did not listen on {addr} within 2 minutes; see `{}`",
                c.party,
                c.log.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM, then SIGKILL after 5 seconds.
async fn stop_child(c: &mut SignerChild) {
    if let Some(pid) = c.child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if tokio::time::timeout(Duration::from_secs(5), c.child.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            party = c.party,
            "signer did not stop within 5 s; killing it"
        );
        let _ = c.child.kill().await;
    }
    let _ = std::fs::remove_file(&c.pid_file);
}
