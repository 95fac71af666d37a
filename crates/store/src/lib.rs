//! A signer's embedded store (SQLite): its sealed key shares, its nonce ledger, the client
//! requests it registered, and its Ethereum records (asset registry, transactions bound to
//! transfer requests).
//!
//! Durability: WAL journal with `synchronous=FULL`, so a transaction is on disk (fsync'd)
//! when `commit` returns. `secure_delete` overwrites deleted content, and a replaced or
//! discarded share is followed by a truncating checkpoint ([`Store::scrub`]), so its ciphertext
//! lingers neither in free pages nor in the WAL. Files are created with mode 0600.
//!
//! Key generation and refresh finish in two phases: a party's result is stored *pending*
//! ([`Store::put_pending`]) and becomes the active share only on [`Store::activate`], once the
//! coordinator has seen every party finish with the same group key; otherwise it is discarded.
//! A failure seen by one party alone therefore never leaves the parties on different keys; an
//! interrupted activation leaves a durable pending result that can still be activated.
//!
//! The nonce ledger records every nonce commitment this signer hands out (`issued`) and every
//! one it signs with (`consumed`, with the digest of what it signed), each in its own durable
//! transaction. Secret nonces are never stored (ADR 0003): each process start opens a new
//! *boot*, and only nonces issued in the current boot can be consumed; anything issued in an
//! earlier boot is marked `discarded` when the next boot starts.

pub mod audit;
pub mod breakers;
mod eth;
mod keys;
mod ledger;
pub mod proposals;
mod readonly;
mod requests;
mod rulings;
mod schema;
pub mod spend;

pub use eth::{AssetAdded, AssetRecord, EthTxRecord};
pub use requests::{Registration, RequestKind, RequestRecord, RoundOf};
pub use rulings::{Decision, PinnedPolicy, Ruling, Verdict, VerdictRecord};

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be created or opened.
    #[error("cannot open store `{path}`: {reason}")]
    Open {
        /// The path.
        path: String,
        /// The reason.
        reason: String,
    },
    /// The store was written by a newer Tessera.
    #[error("store schema version {found} is newer than this build supports ({supported})")]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A key id that is already taken.
    #[error("key `{0}` already exists")]
    KeyExists(KeyId),
    /// A key id that does not exist.
    #[error("key `{0}` does not exist")]
    NoSuchKey(KeyId),
    /// A refresh raced another change of the same key.
    #[error("key `{key}` is at generation {found}, not {expected}")]
    StaleGeneration {
        /// The key.
        key: KeyId,
        /// The generation the caller started from.
        expected: u32,
        /// The generation in the store.
        found: u32,
    },
    /// A key generation or refresh result already waits for activation.
    #[error(
        "key `{0}` has a key generation or refresh waiting for activation; activate or discard it first"
    )]
    PendingExists(KeyId),
    /// No result waits for activation.
    #[error("key `{0}` has nothing waiting for activation")]
    NoPending(KeyId),
    /// The coordinator asked to activate a group key other than the one this party computed.
    #[error("the group key to activate for `{0}` is not the one this signer computed")]
    PendingMismatch(KeyId),
    /// A fresh commitment equal to one issued before: the random generator is broken, or the
    /// process memory was restored from a snapshot. Nothing is issued.
    #[error("nonce commitment collides with one issued before; refusing to issue nonces")]
    NonceCollision,
    /// The nonce cannot be proven unused in this boot.
    #[error("nonce `{id}` cannot be used: {reason}")]
    NonceUnavailable {
        /// Hex id of the nonce.
        id: String,
        /// Its state, or why it is unknown.
        reason: String,
    },
    /// A token whose client and `jti` were registered before with another token.
    #[error("token id `{0}` was used before")]
    Replay(String),
    /// No request registered with this id.
    #[error("request `{0}` is not registered on this signer")]
    NoSuchRequest(String),
    /// The request allows nothing more of this kind.
    #[error("request `{id}` allows no more: {reason}")]
    RequestClosed {
        /// The request.
        id: String,
        /// Why.
        reason: String,
    },
    /// An asset whose symbol or contract is registered already as something else.
    #[error("asset conflict: {0}")]
    AssetConflict(String),
    /// A transaction that contradicts what is bound to its transfer request already.
    #[error("transaction conflict: {0}")]
    EthTxConflict(String),
    /// A policy whose version is not above the one in force.
    #[error("policy version {offered} is stale: version {pinned} is in force")]
    StalePolicy {
        /// The version offered.
        offered: u64,
        /// The version in force.
        pinned: u64,
    },
    /// A stored value that does not parse.
    #[error("corrupt record in store: {0}")]
    Corrupt(String),
    /// The audit entry recording a change could not be written; the change was not made.
    #[error("audit log: {0}")]
    Audit(String),
    /// An SQLite error.
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// A stable code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "store_open_failed",
            StoreError::TooNew { .. } => "store_too_new",
            StoreError::KeyExists(_) => "key_exists",
            StoreError::NoSuchKey(_) => "no_such_key",
            StoreError::StaleGeneration { .. } => "stale_generation",
            StoreError::PendingExists(_) => "pending_activation",
            StoreError::NoPending(_) => "nothing_pending",
            StoreError::PendingMismatch(_) => "pending_mismatch",
            StoreError::NonceCollision => "nonce_collision",
            StoreError::NonceUnavailable { .. } => "nonce_unavailable",
            StoreError::Replay(_) => "replayed_request",
            StoreError::NoSuchRequest(_) => "unknown_request",
            StoreError::RequestClosed { .. } => "request_closed",
            StoreError::AssetConflict(_) => "asset_exists",
            StoreError::EthTxConflict(_) => "wrong_nonce",
            StoreError::StalePolicy { .. } => "stale_policy",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::Audit(_) => "audit_failed",
            StoreError::Sqlite(_) => "store_error",
        }
    }
}

/// A key as this signer stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key.
    pub key_id: KeyId,
    /// Its scheme.
    pub scheme: Scheme,
    /// This signer's party in it.
    pub party: PartyId,
    /// Its threshold.
    pub threshold: Threshold,
    /// Bumped by each refresh, from 0.
    pub generation: u32,
    /// The public group key, as `tessera_crypto::GroupKey::to_bytes` encodes it.
    pub group_key: Vec<u8>,
    /// The share, sealed by the vault.
    pub sealed_share: Vec<u8>,
}

/// Where a nonce is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    /// Handed out in some boot; usable only if that is the current boot.
    Issued,
    /// Signed with. Never again.
    Consumed,
    /// Issued in a boot that ended, or for a key generation that was refreshed away.
    Discarded,
}

impl NonceState {
    fn as_str(self) -> &'static str {
        match self {
            NonceState::Issued => "issued",
            NonceState::Consumed => "consumed",
            NonceState::Discarded => "discarded",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "issued" => Ok(NonceState::Issued),
            "consumed" => Ok(NonceState::Consumed),
            "discarded" => Ok(NonceState::Discarded),
            other => Err(StoreError::Corrupt(format!("nonce state `{other}`"))),
        }
    }
}

/// One row of the nonce ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRecord {
    /// The nonce's id (hash of its commitment).
    pub id: [u8; 32],
    /// The key it was issued for.
    pub key_id: KeyId,
    /// The key generation it was issued for.
    pub generation: u32,
    /// The boot it was issued in.
    pub boot: i64,
    /// Its state.
    pub state: NonceState,
    /// For a consumed nonce: SHA-256 of the signing package it signed.
    pub signed_digest: Option<[u8; 32]>,
}

/// What [`Store::activate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activated {
    /// The key's generation now.
    pub generation: u32,
    /// Whether the old share's bytes were scrubbed from the files already.
    pub scrubbed: bool,
}

/// A signer's store. One per signer; not shared between processes.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    boot: Option<i64>,
    /// Signs the audit chain's entries; none: nothing is appended (see [`audit`]).
    audit: Option<tessera_audit::AuditKey>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens (creating with mode 0600 if needed) the store at `path` and brings its schema up
    /// to date. No boot is started: see [`Store::start_boot`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| open_err(e.to_string()))?;
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Self {
            conn,
            boot: None,
            audit: None,
        };
        schema::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// Starts a new boot: nonces issued in earlier boots become `discarded` (their secrets died
    /// with the process that held them). Returns the boot number.
    pub fn start_boot(&mut self) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO boots (started_at) VALUES (?1)", params![now()])?;
        let boot = tx.last_insert_rowid();
        tx.execute(
            "UPDATE nonces SET state = 'discarded' WHERE state = 'issued' AND boot < ?1",
            params![boot],
        )?;
        tx.commit()?;
        self.boot = Some(boot);
        self.scrub()?;
        Ok(boot)
    }

    /// The current boot, if started.
    pub fn boot(&self) -> Option<i64> {
        self.boot
    }

    /// A value of the store's metadata table.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets a metadata value, durably.
    pub fn set_meta(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    /// Moves every committed change into the database file and truncates the WAL, so that
    /// content deleted under `secure_delete` (a replaced or discarded share) no longer exists
    /// in either file. Returns `false` if another connection kept the checkpoint from
    /// completing; the next boot retries.
    pub fn scrub(&self) -> Result<bool, StoreError> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    fn require_boot(&self) -> Result<i64, StoreError> {
        self.boot
            .ok_or_else(|| StoreError::Corrupt("no boot started on this store handle".into()))
    }
}

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod breakers_tests;
#[cfg(test)]
mod rulings_tests;
#[cfg(test)]
mod tests;
