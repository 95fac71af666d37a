//! The data directory of `tessera dev`, created on first start and reused after:
//!
//! ```text
//! DIR/dev.json                      API URL and client credentials (the contract with scripts)
//! DIR/pki/                          development CA and one certificate per node
//! DIR/clients/<id>.pem, .pub.pem    client keys (PKCS#8 private, 0600; SPKI public)
//! DIR/signer-N/signer.toml          signer N's configuration
//! DIR/signer-N/passphrase           its vault passphrase (0600)
//! DIR/signer-N/peer.key             its peer key, sealing key-generation messages (0600)
//! DIR/signer-N/audit.key            its audit key, signing its audit chain and receipts (0600)
//! DIR/signer-N/signer.sqlite        its store
//! DIR/signer-N/pid, signer.log      its process id and log
//! DIR/coordinator.toml, .sqlite     the coordinator's configuration and store
//! DIR/coordinator-audit.key         the coordinator's audit key (0600)
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use tessera_auth::ClientKey;

use super::DevOptions;
use crate::error::CliError;

/// `DIR/dev.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevJson {
    /// The API's base URL.
    pub api_url: String,
    /// The clients.
    pub clients: Vec<DevClient>,
    /// The Ethereum node's JSON-RPC URL, when the cluster has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethereum_rpc: Option<String>,
    /// Its chain id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
}

/// One client in `dev.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevClient {
    /// Its id.
    pub id: String,
    /// Its role.
    pub role: String,
    /// Absolute path of its PKCS#8 PEM private key.
    pub key_file: String,
}

/// The clients `tessera dev` creates.
pub(crate) const CLIENTS: [(&str, &str); 7] = [
    ("trader", "trader"),
    ("approver-1", "approver"),
    ("approver-2", "approver"),
    ("approver-3", "approver"),
    ("admin-1", "admin"),
    ("admin-2", "admin"),
    ("admin-3", "admin"),
];

pub(super) struct SignerLayout {
    pub party: u16,
    pub config: PathBuf,
    pub pid_file: PathBuf,
    pub log: PathBuf,
    pub listen: SocketAddr,
}

pub(super) struct Layout {
    pub dir: PathBuf,
    pub signers: Vec<SignerLayout>,
    pub coordinator_config: PathBuf,
    pub clients: Vec<DevClient>,
    /// What `tessera dev` prints about the policy.
    pub policy_line: String,
}

fn io(what: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::new(format!("`{}`: {e}", what.display()))
}

/// TOML basic string.
fn q(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(bytes).map_err(|e| io(path, e))?;
    f.sync_all().map_err(|e| io(path, e))
}

/// Creates a peer key file (0600, hex) and returns the public key, hex.
pub(crate) fn write_peer_key(file: &Path) -> Result<String, CliError> {
    let (secret, public) = tessera_signer::peer::generate_peer_key();
    let secret = zeroize::Zeroizing::new(secret);
    write_private(
        file,
        zeroize::Zeroizing::new(hex::encode(*secret)).as_bytes(),
    )?;
    Ok(hex::encode(public))
}

/// The audit key file of signer `n` in a `tessera dev` data directory.
pub(crate) fn signer_audit_key(dir: &Path, n: u16) -> PathBuf {
    dir.join(format!("signer-{n}")).join("audit.key")
}

/// The coordinator's audit key file in a `tessera dev` data directory.
pub(crate) fn coordinator_audit_key(dir: &Path) -> PathBuf {
    dir.join("coordinator-audit.key")
}

/// Creates an audit key file unless one exists; an existing key is never replaced.
fn ensure_audit_key(file: &Path) -> Result<(), CliError> {
    if file.exists() {
        return Ok(());
    }
    tessera_audit::AuditKey::generate()
        .and_then(|k| k.write_to(file))
        .map_err(|e| CliError::new(e.to_string()))
}

fn read_peer_public(file: &Path) -> Result<String, CliError> {
    let secret = tessera_signer::peer::read_peer_key_file(file).map_err(CliError::new)?;
    let public = tessera_signer::peer::peer_public_key(&secret).map_err(|e| io(file, e))?;
    Ok(hex::encode(public))
}

/// Creates `dir` (and parents) and makes it private to the owner.
fn private_dir(dir: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))
}

fn free_port() -> Result<u16, CliError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| CliError::new(format!("cannot find a free port: {e}")))?;
    Ok(l.local_addr()
        .map_err(|e| CliError::new(format!("cannot find a free port: {e}")))?
        .port())
}

/// Creates what is missing under the data directory and (re)writes the configurations.
pub(super) fn prepare(
    opts: &DevOptions,
    ethereum: Option<&super::EthereumLink>,
) -> Result<Layout, CliError> {
    private_dir(&opts.data_dir)?;
    let dir = fs::canonicalize(&opts.data_dir).map_err(|e| io(&opts.data_dir, e))?;
    let existing = (1u16..=64)
        .take_while(|n| dir.join(format!("signer-{n}")).join("signer.toml").exists())
        .count();
    if existing != 0 && existing != usize::from(opts.signers) {
        return Err(CliError::new(format!(
            "`{}` holds a cluster of {existing} signers, not {}; use another --data-dir",
            dir.display(),
            opts.signers
        )));
    }
    let (policy_file, policy_line) =
        super::policy::bootstrap(&dir, opts.policy.as_deref(), existing != 0)?;
    let pki = dir.join("pki");
    let mut nodes = vec!["coordinator".to_owned()];
    nodes.extend((1..=opts.signers).map(|n| format!("signer-{n}")));
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    tessera_net::pki::write_dev_pki(&pki, "tessera-dev-ca", &names)
        .map_err(|e| CliError::new(format!("development certificates: {e}")))?;

    let clients_dir = dir.join("clients");
    private_dir(&clients_dir)?;
    let mut clients = Vec::new();
    let mut client_toml = String::new();
    for (id, role) in CLIENTS {
        let key_file = clients_dir.join(format!("{id}.pem"));
        let pub_file = clients_dir.join(format!("{id}.pub.pem"));
        if !key_file.exists() {
            ClientKey::generate()
                .write_pem_file(&key_file)
                .map_err(|e| io(&key_file, e))?;
        }
        let key = ClientKey::read_pem_file(&key_file).map_err(|e| io(&key_file, e))?;
        fs::write(&pub_file, key.public_key().to_spki_pem()).map_err(|e| io(&pub_file, e))?;
        let _ = write!(
            client_toml,
            "\n[[clients]]\nid = \"{id}\"\nrole = \"{role}\"\npublic_key_file = {}\n",
            q(&pub_file)
        );
        clients.push(DevClient {
            id: id.to_owned(),
            role: role.to_owned(),
            key_file: key_file.display().to_string(),
        });
    }

    let parties: Vec<String> = (1..=opts.signers).map(|n| n.to_string()).collect();
    let parties = parties.join(", ");
    let kdf = if opts.fast_kdf {
        "insecure-fast"
    } else {
        "argon2id"
    };
    // Peer keys first: every signer's configuration lists the others' public keys.
    let mut peer_publics = Vec::new();
    for n in 1..=opts.signers {
        let sdir = dir.join(format!("signer-{n}"));
        private_dir(&sdir)?;
        let file = sdir.join("peer.key");
        let public = if file.exists() {
            read_peer_public(&file)?
        } else {
            write_peer_key(&file)?
        };
        peer_publics.push((n, public));
    }
    let mut signers = Vec::new();
    let mut signer_toml = String::new();
    for n in 1..=opts.signers {
        let sdir = dir.join(format!("signer-{n}"));
        let mut peers_toml = String::new();
        for (p, public) in peer_publics.iter().filter(|(p, _)| *p != n) {
            let _ = write!(
                peers_toml,
                "\n[[peers]]\nparty = {p}\npublic_key = \"{public}\"\n"
            );
        }
        let pass = sdir.join("passphrase");
        if !pass.exists() {
            let mut secret = zeroize::Zeroizing::new([0u8; 32]);
            OsRng.fill_bytes(&mut secret[..]);
            write_private(
                &pass,
                zeroize::Zeroizing::new(hex::encode(*secret)).as_bytes(),
            )?;
        }
        let audit_key = signer_audit_key(&dir, n);
        ensure_audit_key(&audit_key)?;
        let config = sdir.join("signer.toml");
        let listen = match previous_listen(&config) {
            Some(a) => a,
            None if opts.listen.port() != 0 => SocketAddr::new(
                opts.listen.ip(),
                opts.listen.port().checked_add(n).ok_or_else(|| {
                    CliError::new("--listen port is too high to put the signers after it")
                })?,
            ),
            None => SocketAddr::new(opts.listen.ip(), free_port()?),
        };
        let text = format!(
            "# Written by `tessera dev`; rewritten at each start.\n\
             party = {n}\nlisten = \"{listen}\"\nstore = {store}\npassphrase_file = {pass}\n\
             kdf = \"{kdf}\"\ncoordinators = [\"coordinator\"]\npid_file = {pid}\n\
             peer_key_file = {peer_key}\npolicy_file = {policy}\naudit_key_file = {audit_key}\n\n\
             [tls]\nca = {ca}\ncert = {cert}\nkey = {key}\n\n\
             [cluster]\nthreshold = {t}\nparties = [{parties}]\n{peers_toml}{client_toml}",
            peer_key = q(&sdir.join("peer.key")),
            audit_key = q(&audit_key),
            policy = q(&policy_file),
            store = q(&sdir.join("signer.sqlite")),
            pass = q(&pass),
            pid = q(&sdir.join("pid")),
            ca = q(&pki.join("ca.pem")),
            cert = q(&pki.join(format!("signer-{n}.pem"))),
            key = q(&pki.join(format!("signer-{n}.key"))),
            t = opts.threshold,
        );
        let text = match ethereum {
            Some(e) => format!("{text}\n[ethereum]\nchain_id = {}\n", e.chain_id),
            None => text,
        };
        fs::write(&config, text).map_err(|e| io(&config, e))?;
        let _ = write!(
            signer_toml,
            "\n[[signers]]\nparty = {n}\nname = \"signer-{n}\"\naddress = \"{listen}\"\n"
        );
        signers.push(SignerLayout {
            party: n,
            config,
            pid_file: sdir.join("pid"),
            log: sdir.join("signer.log"),
            listen,
        });
    }

    let coordinator_config = dir.join("coordinator.toml");
    let coordinator_key = coordinator_audit_key(&dir);
    ensure_audit_key(&coordinator_key)?;
    let text = format!(
        "# Written by `tessera dev`; rewritten at each start.\n\
         listen = \"{listen}\"\nstore = {store}\nthreshold = {t}\npolicy_file = {policy}\n\
         audit_key_file = {audit_key}\n\n\
         [tls]\nca = {ca}\ncert = {cert}\nkey = {key}\n{signer_toml}{client_toml}",
        listen = opts.listen,
        policy = q(&policy_file),
        audit_key = q(&coordinator_key),
        store = q(&dir.join("coordinator.sqlite")),
        t = opts.threshold,
        ca = q(&pki.join("ca.pem")),
        cert = q(&pki.join("coordinator.pem")),
        key = q(&pki.join("coordinator.key")),
    );
    let text = match ethereum {
        Some(e) => format!(
            "{text}\n[ethereum]\nrpc_url = {url}\nconfirmations = {c}\npoll_interval_ms = {p}\n\
             bump_after_secs = {b}\n",
            url = toml::Value::String(e.rpc_url.clone()),
            c = e.settings.confirmations,
            p = e.settings.poll_interval_ms,
            b = e.settings.bump_after_secs,
        ),
        None => text,
    };
    fs::write(&coordinator_config, text).map_err(|e| io(&coordinator_config, e))?;
    Ok(Layout {
        dir,
        signers,
        coordinator_config,
        clients,
        policy_line,
    })
}

/// The address a signer listened on before, so that a restart keeps it.
fn previous_listen(config: &Path) -> Option<SocketAddr> {
    let text = fs::read_to_string(config).ok()?;
    let value: toml::Table = text.parse().ok()?;
    value.get("listen")?.as_str()?.parse().ok()
}

/// Writes `DIR/dev.json` (atomically: temporary file, then rename).
pub(super) fn write_dev_json(
    layout: &Layout,
    api_url: &str,
    ethereum: Option<&super::EthereumLink>,
) -> Result<(), CliError> {
    let json = DevJson {
        api_url: api_url.to_owned(),
        clients: layout.clients.clone(),
        ethereum_rpc: ethereum.map(|e| e.rpc_url.clone()),
        chain_id: ethereum.map(|e| e.chain_id),
    };
    let path = layout.dir.join("dev.json");
    let tmp = layout.dir.join("dev.json.tmp");
    let text =
        serde_json::to_string_pretty(&json).map_err(|e| CliError::new(format!("dev.json: {e}")))?;
    fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| io(&path, e))
}
