//! Node configuration: TOML, typed when read, unknown keys refused, secrets referenced by path.
//! Relative paths are relative to the configuration file's directory.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_auth::{Client, ClientId, ClientPublicKey, ClientRegistry, Role, TokenPolicy};
use tessera_net::tls::TlsFiles;
use tessera_types::{PartyId, Threshold};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("config `{path}`: {reason}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

fn err(path: &Path, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// A signer node's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// This signer's party in every key.
    pub party: u16,
    /// Address the node listens on (mutual TLS).
    pub listen: SocketAddr,
    /// The signer's SQLite store; created on first start.
    pub store: PathBuf,
    /// File holding the vault passphrase.
    pub passphrase_file: PathBuf,
    /// File holding this signer's peer key (32 bytes, hex): key-generation messages to it are
    /// sealed to this key, and its own are sealed with it.
    pub peer_key_file: PathBuf,
    /// The other signers' public peer keys.
    pub peers: Vec<PeerSection>,
    /// Key-derivation cost for a new store: `argon2id` (default) or `insecure-fast` (tests).
    #[serde(default)]
    pub kdf: Kdf,
    /// Node names (from their certificates) allowed to call this signer.
    pub coordinators: Vec<String>,
    /// Where to write the process id once listening (optional).
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// This node's TLS identity and the deployment CA.
    pub tls: TlsSection,
    /// The cluster's shape: every new key is `threshold` of `parties`.
    pub cluster: ClusterSection,
    /// Token checks.
    #[serde(default)]
    pub tokens: TokensSection,
    /// Signing rounds one client request may open.
    #[serde(default = "default_sign_rounds")]
    pub max_sign_rounds: u32,
    /// The clients whose requests this signer accepts.
    pub clients: Vec<ClientSection>,
    /// The Ethereum chain this signer signs transfers for; without it, it signs none.
    #[serde(default)]
    pub ethereum: Option<SignerEthereumSection>,
    /// The bootstrap policy (TOML): pinned in the store at the first start of a new signer;
    /// after that the pinned policy is the one in force and this file is not read for it.
    #[serde(default)]
    pub policy_file: Option<PathBuf>,
    /// This signer's audit key (ADR 0013): 32 bytes hex, 0600, never overwritten. With it, the
    /// signer chains and signs an audit entry for everything its store records and returns a
    /// receipt for each decision; without it, neither.
    #[serde(default)]
    pub audit_key_file: Option<PathBuf>,
}

/// A signer's Ethereum rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerEthereumSection {
    /// The chain id every transaction must carry.
    pub chain_id: u64,
    /// The most one transaction may spend on gas (`gas_limit * max_fee_per_gas`), in wei, as a
    /// decimal string. Default: 0.05 ether.
    #[serde(default = "default_max_tx_fee_wei")]
    pub max_tx_fee_wei: String,
}

impl SignerEthereumSection {
    /// The rules, or why the section is wrong.
    pub fn rules(&self) -> Result<tessera_signer::EthereumRules, String> {
        let max_tx_fee_wei: u128 = self
            .max_tx_fee_wei
            .parse()
            .map_err(|_| "`ethereum.max_tx_fee_wei` must be a whole number of wei".to_owned())?;
        if self.chain_id == 0 {
            return Err("`ethereum.chain_id` must not be 0".into());
        }
        Ok(tessera_signer::EthereumRules {
            chain_id: self.chain_id,
            max_tx_fee_wei,
        })
    }
}

fn default_max_tx_fee_wei() -> String {
    "50000000000000000".into()
}

/// The coordinator's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// The coordinator's SQLite store (wallets, requests, idempotency keys).
    pub store: PathBuf,
    /// The TLS identity it presents to signers, and the deployment CA.
    pub tls: TlsSection,
    /// The threshold of new keys.
    pub threshold: u16,
    /// The signers.
    pub signers: Vec<SignerSection>,
    /// Timeout of one call to a signer, in milliseconds.
    #[serde(default = "default_call_timeout")]
    pub signer_timeout_ms: u64,
    /// Nonce commitments kept ready per signer and wallet.
    #[serde(default = "default_pool")]
    pub commitment_pool: usize,
    /// Token checks.
    #[serde(default)]
    pub tokens: TokensSection,
    /// The API's clients.
    pub clients: Vec<ClientSection>,
    /// The Ethereum node transfers go to; without it, transfers are refused.
    #[serde(default)]
    pub ethereum: Option<CoordinatorEthereumSection>,
    /// The policy the API pre-checks requests with (TOML), so that a client learns of a denial
    /// without a signing round; the signers decide. Without it, every request goes to the
    /// signers.
    #[serde(default)]
    pub policy_file: Option<PathBuf>,
    /// The coordinator's audit key (ADR 0013): with it, the coordinator keeps its own signed
    /// audit chain in its store.
    #[serde(default)]
    pub audit_key_file: Option<PathBuf>,
}

/// `[ethereum]` of the coordinator: the node it builds, broadcasts and follows transactions
/// with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorEthereumSection {
    /// The node's JSON-RPC URL, `http://host:port`.
    pub rpc_url: String,
    /// Blocks, counting the one that includes a transaction, before a transfer is `confirmed`.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// How often open transfers are checked, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// How long a broadcast transaction may wait unmined before its fees are bumped, in
    /// seconds.
    #[serde(default = "default_bump_after")]
    pub bump_after_secs: u64,
}

fn default_confirmations() -> u64 {
    12
}
fn default_poll_ms() -> u64 {
    2_000
}
fn default_bump_after() -> u64 {
    60
}

/// Key-derivation cost for a new vault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kdf {
    /// Argon2id with the production parameters.
    #[default]
    Argon2id,
    /// Argon2id at minimal cost: for tests only; says so in its name.
    InsecureFast,
}

/// TLS files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The deployment CA certificate (PEM).
    pub ca: PathBuf,
    /// This node's certificate (PEM).
    pub cert: PathBuf,
    /// This node's private key (PEM).
    pub key: PathBuf,
}

/// The cluster's shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// The threshold of new keys.
    pub threshold: u16,
    /// Every party.
    pub parties: Vec<u16>,
}

/// Token checks.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensSection {
    /// Longest token lifetime accepted (`exp - iat`), seconds.
    #[serde(default = "default_lifetime")]
    pub max_lifetime_secs: i64,
    /// Clock difference tolerated on `iat`, seconds.
    #[serde(default = "default_skew")]
    pub clock_skew_secs: i64,
}

impl Default for TokensSection {
    fn default() -> Self {
        Self {
            max_lifetime_secs: default_lifetime(),
            clock_skew_secs: default_skew(),
        }
    }
}

/// One API client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// Its id (the tokens' `sub`).
    pub id: String,
    /// Its role.
    pub role: String,
    /// Its Ed25519 public key, SPKI PEM.
    pub public_key_file: PathBuf,
}

/// Another signer's public peer key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSection {
    /// Its party.
    pub party: u16,
    /// Its public peer key, 32 bytes hex.
    pub public_key: String,
}

/// One signer, as the coordinator reaches it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerSection {
    /// Its party.
    pub party: u16,
    /// Its node name (in its certificate).
    pub name: String,
    /// Its address.
    pub address: String,
}

fn default_sign_rounds() -> u32 {
    3
}
fn default_call_timeout() -> u64 {
    2_000
}
fn default_pool() -> usize {
    64
}
fn default_lifetime() -> i64 {
    60
}
fn default_skew() -> i64 {
    5
}

/// Reads and types a TOML file, resolving relative paths against its directory.
pub fn load<T: for<'de> Deserialize<'de> + Resolve>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| err(path, e.to_string()))?;
    let mut cfg: T = toml::from_str(&text).map_err(|e| err(path, e.to_string()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    cfg.resolve(base);
    cfg.validate().map_err(|reason| err(path, reason))?;
    Ok(cfg)
}

/// Makes relative paths absolute, and checks values serde cannot.
pub trait Resolve {
    /// Resolves against `base`.
    fn resolve(&mut self, base: &Path);
    /// Checks ranges.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

impl TokensSection {
    fn validate(&self) -> Result<(), String> {
        if !(1..=60).contains(&self.max_lifetime_secs) {
            return Err("`tokens.max_lifetime_secs` must be 1 to 60".into());
        }
        if !(0..=60).contains(&self.clock_skew_secs) {
            return Err("`tokens.clock_skew_secs` must be 0 to 60".into());
        }
        Ok(())
    }
}

fn rebase(p: &mut PathBuf, base: &Path) {
    if p.is_relative() {
        *p = base.join(&*p);
    }
}

impl Resolve for TlsSection {
    fn resolve(&mut self, base: &Path) {
        rebase(&mut self.ca, base);
        rebase(&mut self.cert, base);
        rebase(&mut self.key, base);
    }
}

impl Resolve for SignerConfig {
    fn validate(&self) -> Result<(), String> {
        self.tokens.validate()?;
        if !(1..=4).contains(&self.max_sign_rounds) {
            return Err(
                "`max_sign_rounds` must be 1 to 4: a coordinator can gather up to \
                 n * max_sign_rounds / t signatures of one request (ADR 0008)"
                    .into(),
            );
        }
        if let Some(eth) = &self.ethereum {
            eth.rules()?;
        }
        Ok(())
    }

    fn resolve(&mut self, base: &Path) {
        rebase(&mut self.store, base);
        rebase(&mut self.passphrase_file, base);
        rebase(&mut self.peer_key_file, base);
        if let Some(p) = self.pid_file.as_mut() {
            rebase(p, base);
        }
        if let Some(p) = self.policy_file.as_mut() {
            rebase(p, base);
        }
        if let Some(p) = self.audit_key_file.as_mut() {
            rebase(p, base);
        }
        self.tls.resolve(base);
        for c in &mut self.clients {
            rebase(&mut c.public_key_file, base);
        }
    }
}

impl Resolve for CoordinatorConfig {
    fn validate(&self) -> Result<(), String> {
        self.tokens.validate()?;
        if self.signer_timeout_ms == 0 || self.commitment_pool == 0 || self.commitment_pool > 10_000
        {
            return Err(
                "`signer_timeout_ms` must be positive and `commitment_pool` 1 to 10000".into(),
            );
        }
        if self.ethereum.as_ref().is_some_and(|e| e.confirmations == 0) {
            return Err("`ethereum.confirmations` must be at least 1".into());
        }
        Ok(())
    }

    fn resolve(&mut self, base: &Path) {
        rebase(&mut self.store, base);
        if let Some(p) = self.policy_file.as_mut() {
            rebase(p, base);
        }
        if let Some(p) = self.audit_key_file.as_mut() {
            rebase(p, base);
        }
        self.tls.resolve(base);
        for c in &mut self.clients {
            rebase(&mut c.public_key_file, base);
        }
    }
}

impl TlsSection {
    /// As the transport wants it.
    pub fn files(&self) -> TlsFiles {
        TlsFiles {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

impl TokensSection {
    /// As the verifier wants it.
    pub fn policy(&self) -> TokenPolicy {
        TokenPolicy {
            max_lifetime_secs: self.max_lifetime_secs,
            clock_skew_secs: self.clock_skew_secs,
        }
    }
}

/// Loads the clients' public keys into a registry.
pub fn clients(path: &Path, sections: &[ClientSection]) -> Result<ClientRegistry, ConfigError> {
    let mut list = Vec::with_capacity(sections.len());
    for c in sections {
        let id: ClientId =
            c.id.parse()
                .map_err(|e| err(path, format!("client `{}`: {e}", c.id)))?;
        let role: Role = c
            .role
            .parse()
            .map_err(|e| err(path, format!("client `{}`: {e}", c.id)))?;
        let pem = std::fs::read_to_string(&c.public_key_file).map_err(|e| {
            err(
                path,
                format!("client `{}`: `{}`: {e}", c.id, c.public_key_file.display()),
            )
        })?;
        let key = ClientPublicKey::from_spki_pem(&pem)
            .map_err(|e| err(path, format!("client `{}`: {e}", c.id)))?;
        list.push(Client { id, role, key });
    }
    ClientRegistry::new(list).map_err(|e| err(path, e.to_string()))
}

/// The policy in `file`, parsed and validated.
pub fn policy(path: &Path, file: &Path) -> Result<tessera_policy::Policy, ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| err(path, format!("policy file `{}`: {e}", file.display())))?;
    tessera_policy::Policy::parse(&text).map_err(|e| {
        err(
            path,
            format!(
                "policy file `{}`: {} ({})",
                file.display(),
                e.message,
                e.code
            ),
        )
    })
}

/// The threshold and party set of a cluster section.
pub fn cluster(
    path: &Path,
    c: &ClusterSection,
) -> Result<(Threshold, BTreeSet<PartyId>), ConfigError> {
    let n = u16::try_from(c.parties.len()).map_err(|_| err(path, "too many parties"))?;
    let threshold = Threshold::new(c.threshold, n).map_err(|e| err(path, e.to_string()))?;
    let mut parties = BTreeSet::new();
    for p in &c.parties {
        let party = PartyId::new(*p).map_err(|e| err(path, e.to_string()))?;
        if !parties.insert(party) {
            return Err(err(path, format!("party {p} is listed twice")));
        }
    }
    Ok((threshold, parties))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNER: &str = r#"
party = 1
listen = "127.0.0.1:9001"
store = "s.sqlite"
passphrase_file = "pass"
peer_key_file = "peer.key"
coordinators = ["coordinator"]
[tls]
ca = "ca.pem"
cert = "c.pem"
key = "c.key"
[cluster]
threshold = 2
parties = [1, 2, 3]
[[peers]]
party = 2
public_key = "00"
[[clients]]
id = "trader"
role = "trader"
public_key_file = "/keys/trader.pub.pem"
"#;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_signer_config_is_typed_and_its_paths_resolved() {
        let (dir, path) = write(SIGNER);
        let cfg: SignerConfig = load(&path).unwrap();
        assert_eq!(cfg.party, 1);
        assert_eq!(cfg.store, dir.path().join("s.sqlite"));
        assert_eq!(cfg.passphrase_file, dir.path().join("pass"));
        assert_eq!(
            cfg.clients[0].public_key_file,
            PathBuf::from("/keys/trader.pub.pem")
        );
        assert_eq!(cfg.max_sign_rounds, 3);
        assert_eq!(cfg.kdf, Kdf::Argon2id);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_naming_the_file() {
        for bad in [
            SIGNER.replace("party = 1\n", "party = 1\npasphrase = \"typo\"\n"),
            SIGNER.replace("[tls]\n", "[tls]\nverify = false\n"),
            SIGNER.replace("127.0.0.1:9001", "not an address"),
            SIGNER.replace("party = 1\n", "party = -1\n"),
            SIGNER.replace("party = 1\n", "party = 1\nmax_sign_rounds = 9\n"),
            SIGNER.replace("[tls]\n", "[tokens]\nmax_lifetime_secs = 3600\n[tls]\n"),
        ] {
            let (_dir, path) = write(&bad);
            let e = load::<SignerConfig>(&path).unwrap_err();
            assert!(e.path.ends_with("signer.toml"), "{e}");
        }
    }

    #[test]
    fn a_cluster_must_be_a_majority_threshold_of_distinct_parties() {
        let p = Path::new("x.toml");
        let ok = ClusterSection {
            threshold: 2,
            parties: vec![1, 2, 3],
        };
        assert_eq!(cluster(p, &ok).unwrap().1.len(), 3);
        for bad in [
            ClusterSection {
                threshold: 1,
                parties: vec![1, 2, 3],
            },
            ClusterSection {
                threshold: 2,
                parties: vec![1, 1, 3],
            },
            ClusterSection {
                threshold: 2,
                parties: vec![0, 1, 2],
            },
        ] {
            assert!(cluster(p, &bad).is_err(), "{bad:?}");
        }
    }
}
