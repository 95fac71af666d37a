//! The coordinator's own store (SQLite): wallets, client requests and their results, idempotency
//! keys and used token ids. It holds nothing secret; the signers decide, this remembers.
//!
//! A request is written (`pending`) before any signer is asked, and its result before the client
//! gets an answer, each in a durable transaction: a coordinator killed at any moment loses no
//! acknowledged request, and a pending one is finished when asked again.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::unix_now;

mod audit;
mod eth;

pub use eth::{AssetAdded, AssetRow, OPEN, TransferRow, TxVersion};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS wallets (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    scheme      TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    group_key   BLOB NOT NULL,
    threshold   INTEGER NOT NULL,
    signers     INTEGER NOT NULL,
    request_id  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    request_id      TEXT PRIMARY KEY,
    client          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    wallet_id       TEXT NOT NULL,
    idempotency_key TEXT,
    body_sha256     TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    body            BLOB NOT NULL,
    token           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'signed', 'created', 'failed',
                                                 'denied', 'pending_approval', 'rejected')),
    signature       BLOB,
    error_code      TEXT,
    error_message   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (client, idempotency_key)
);
CREATE TABLE IF NOT EXISTS used_tokens (
    client TEXT NOT NULL,
    jti    TEXT NOT NULL,
    exp    INTEGER NOT NULL,
    PRIMARY KEY (client, jti)
);
CREATE INDEX IF NOT EXISTS used_tokens_exp ON used_tokens (exp);
";

/// The version `PRAGMA user_version` records once the schema above is in place. Version 2
/// adds the audit chain and the signers' receipts ([`audit`]), created if missing.
const SCHEMA_VERSION: i64 = 2;

/// Brings a store written by an earlier release up to [`SCHEMA_VERSION`], in one transaction.
/// Version 1: requests may be `denied`, `pending_approval` or `rejected` by the policy; SQLite
/// cannot change a CHECK in place, so the table is rebuilt.
fn migrate(conn: &Connection) -> Result<(), GatewayError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let has_requests: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests')",
        [],
        |r| r.get(0),
    )?;
    if version >= 1 || !has_requests {
        return Ok(());
    }
    let columns = "request_id, client, kind, wallet_id, idempotency_key, body_sha256, method, \
                   path, body, token, status, signature, error_code, error_message, created_at, \
                   updated_at";
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         ALTER TABLE requests RENAME TO requests_v0;
         {SCHEMA}
         INSERT INTO requests ({columns}) SELECT {columns} FROM requests_v0;
         DROP TABLE requests_v0;
         PRAGMA user_version = 1;
         COMMIT;"
    ))?;
    Ok(())
}

/// A store failure, or a request the store refuses.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The token id was used before.
    #[error("token id `{0}` was used before")]
    Replay(String),
    /// The idempotency key was used with another body.
    #[error("idempotency key `{0}` was used with another request body")]
    Conflict(String),
    /// The file cannot be created or opened.
    #[error("cannot open the coordinator store {0}")]
    Open(String),
    /// The symbol or contract is registered as another asset.
    #[error("{0}")]
    AssetExists(String),
    /// A record is not what the store expects.
    #[error("coordinator store: {0}")]
    Corrupt(String),
    /// SQLite.
    #[error("coordinator store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The lock was poisoned by a panic.
    #[error("coordinator store is unavailable")]
    Poisoned,
}

/// A wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletRow {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its scheme's name.
    pub scheme: String,
    /// The key that verifies its signatures.
    pub public_key: Vec<u8>,
    /// Its group key (public), encoded.
    pub group_key: Vec<u8>,
    /// Its threshold.
    pub threshold: u16,
    /// Its number of signers.
    pub signers: u16,
    /// The request that created it.
    pub request_id: String,
    /// When.
    pub created_at: i64,
}

/// A client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    /// Its id.
    pub request_id: String,
    /// The client.
    pub client: String,
    /// `create_wallet` or `sign`.
    pub kind: String,
    /// The wallet.
    pub wallet_id: String,
    /// The client's idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the body, hex.
    pub body_sha256: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Body.
    pub body: Vec<u8>,
    /// The client's token.
    pub token: String,
    /// `pending`, `signed`, `created` or `failed`.
    pub status: String,
    /// The signature, once signed.
    pub signature: Option<Vec<u8>>,
    /// Why it failed.
    pub error_code: Option<String>,
    /// Why it failed, for people.
    pub error_message: Option<String>,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

/// What [`GatewayStore::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// A new request, now recorded pending.
    New,
    /// The same idempotency key and body: this earlier request.
    Existing(Box<RequestRow>),
}

/// The coordinator's store.
#[derive(Debug)]
pub struct GatewayStore {
    conn: Mutex<Connection>,
    /// Signs the audit chain's entries; none: nothing is appended.
    audit: Option<tessera_audit::AuditKey>,
}

impl GatewayStore {
    /// Opens or creates the store.
    pub fn open(path: &Path) -> Result<Self, GatewayError> {
        // Created 0600 like the signers' stores: it holds client tokens and request bodies.
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| GatewayError::Open(format!("`{}`: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(eth::SCHEMA)?;
        conn.execute_batch(tessera_store::spend::SCHEMA)?;
        audit::migrate_v2(&conn)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Self {
            conn: Mutex::new(conn),
            audit: None,
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let mut c = self.conn.lock().map_err(|_| GatewayError::Poisoned)?;
        f(&mut c)
    }

    /// Records a used token id and a new request, in one transaction. A token id used before
    /// is refused; an idempotency key used before returns that request if the body is the same
    /// and is refused if it is not.
    pub fn begin(&self, row: &RequestRow, jti: &str, exp: i64) -> Result<Begin, GatewayError> {
        self.begin_with(row, jti, exp, None)
    }

    /// [`GatewayStore::begin`] for a transfer: a new request is recorded with its transfer, in
    /// one transaction.
    pub fn begin_transfer(
        &self,
        row: &RequestRow,
        jti: &str,
        exp: i64,
        transfer: &TransferRow,
    ) -> Result<Begin, GatewayError> {
        self.begin_with(row, jti, exp, Some(transfer))
    }

    fn begin_with(
        &self,
        row: &RequestRow,
        jti: &str,
        exp: i64,
        transfer: Option<&TransferRow>,
    ) -> Result<Begin, GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let used = tx.execute(
                "INSERT OR IGNORE INTO used_tokens (client, jti, exp) VALUES (?1, ?2, ?3)",
                params![row.client, jti, exp],
            )?;
            if used == 0 {
                return Err(GatewayError::Replay(jti.to_owned()));
            }
            if let Some(key) = &row.idempotency_key {
                let earlier = tx
                    .query_row(
                        &format!("{SELECT_REQUEST} WHERE client = ?1 AND idempotency_key = ?2"),
                        params![row.client, key],
                        request_row,
                    )
                    .optional()?;
                if let Some(earlier) = earlier {
                    if earlier.body_sha256 != row.body_sha256 || earlier.path != row.path {
                        return Err(GatewayError::Conflict(key.clone()));
                    }
                    tx.commit()?;
                    return Ok(Begin::Existing(Box::new(earlier)));
                }
            }
            tx.execute(
                "INSERT INTO requests (request_id, client, kind, wallet_id, idempotency_key,
                     body_sha256, method, path, body, token, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?11)",
                params![
                    row.request_id,
                    row.client,
                    row.kind,
                    row.wallet_id,
                    row.idempotency_key,
                    row.body_sha256,
                    row.method,
                    row.path,
                    row.body,
                    row.token,
                    unix_now(),
                ],
            )?;
            if let Some(t) = transfer {
                Self::insert_transfer(&tx, t)?;
            }
            let hash = tessera_audit::request_hash(&row.token, &row.method, &row.path, &row.body);
            let body = serde_json::json!({
                "request_id": row.request_id, "client": row.client, "kind": row.kind,
                "wallet": row.wallet_id, "idempotency_key": row.idempotency_key,
                "method": row.method, "path": row.path, "request_hash": hex::encode(hash),
            });
            self.append_in(&tx, "request", &body)?;
            tx.commit()?;
            Ok(Begin::New)
        })
    }

    /// Records a token id as used; a second use is refused.
    pub fn use_token(&self, client: &str, jti: &str, exp: i64) -> Result<(), GatewayError> {
        self.with(|c| {
            let used = c.execute(
                "INSERT OR IGNORE INTO used_tokens (client, jti, exp) VALUES (?1, ?2, ?3)",
                params![client, jti, exp],
            )?;
            if used == 0 {
                return Err(GatewayError::Replay(jti.to_owned()));
            }
            Ok(())
        })
    }

    /// Forgets used token ids that expired before `before`: a replay of one is refused as
    /// expired anyway. Returns how many were dropped.
    pub fn prune_tokens(&self, before: i64) -> Result<usize, GatewayError> {
        self.with(|c| Ok(c.execute("DELETE FROM used_tokens WHERE exp < ?1", params![before])?))
    }

    /// Records a request's signature.
    pub fn signed(&self, request_id: &str, signature: &[u8]) -> Result<(), GatewayError> {
        let body =
            serde_json::json!({"request_id": request_id, "signature": hex::encode(signature)});
        self.audited("signature", &body, |c| {
            c.execute(
                "UPDATE requests SET status = 'signed', signature = ?2, error_code = NULL,
                     error_message = NULL, updated_at = ?3
                 WHERE request_id = ?1",
                params![request_id, signature, unix_now()],
            )?;
            Ok(())
        })
    }

    /// Marks a request that changed something by itself (an asset registration) done.
    pub fn done(&self, request_id: &str) -> Result<(), GatewayError> {
        self.with(|c| {
            c.execute(
                "UPDATE requests SET status = 'created', updated_at = ?2 WHERE request_id = ?1",
                params![request_id, unix_now()],
            )?;
            Ok(())
        })
    }

    /// Records a request's failure (it may be retried with the same idempotency key).
    pub fn failed(&self, request_id: &str, code: &str, message: &str) -> Result<(), GatewayError> {
        let body = serde_json::json!({"request_id": request_id, "code": code, "message": message});
        self.audited("failure", &body, |c| {
            c.execute(
                "UPDATE requests SET status = 'failed', error_code = ?2, error_message = ?3,
                     updated_at = ?4
                 WHERE request_id = ?1 AND status IN ('pending', 'failed')",
                params![request_id, code, message, unix_now()],
            )?;
            Ok(())
        })
    }

    /// Records the signers' ruling on a request that they hold back: `denied`, `rejected` (both
    /// final) or `pending_approval`, with `code` and the reason naming the rule or limit.
    pub fn ruled(
        &self,
        request_id: &str,
        status: &str,
        code: &str,
        reason: &str,
    ) -> Result<(), GatewayError> {
        let body = serde_json::json!({
            "request_id": request_id, "status": status, "code": code, "reason": reason,
        });
        self.audited("ruling", &body, |c| {
            c.execute(
                "UPDATE requests SET status = ?2, error_code = ?3, error_message = ?4,
                     updated_at = ?5
                 WHERE request_id = ?1 AND status IN ('pending', 'failed', 'pending_approval')",
                params![request_id, status, code, reason, unix_now()],
            )?;
            Ok(())
        })
    }

    /// A request whose approvals are in goes back to `pending`, to be signed.
    pub fn approved(&self, request_id: &str) -> Result<(), GatewayError> {
        let body =
            serde_json::json!({"request_id": request_id, "status": "pending", "code": "approved"});
        self.audited("ruling", &body, |c| {
            c.execute(
                "UPDATE requests SET status = 'pending', error_code = NULL, error_message = NULL,
                     updated_at = ?2
                 WHERE request_id = ?1 AND status = 'pending_approval'",
                params![request_id, unix_now()],
            )?;
            Ok(())
        })
    }

    /// Runs `f` on the store's connection: the policy pre-check reads its `spend` history.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        self.with(|c| f(c))
    }

    /// Records what a request the signers did not deny counts against the limits, for the
    /// pre-check of later requests (once: a request already counted is left as it is).
    pub fn count_spend(
        &self,
        facts: &tessera_store::spend::SpendFacts,
    ) -> Result<(), GatewayError> {
        self.with(|c| {
            let counted: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM spend WHERE request_id = ?1)",
                params![facts.request_id],
                |r| r.get(0),
            )?;
            if !counted {
                tessera_store::spend::record(c, facts)
                    .map_err(|e| GatewayError::Corrupt(e.to_string()))?;
            }
            Ok(())
        })
    }

    /// Stops counting a rejected request.
    pub fn forget_spend(&self, request_id: &str) -> Result<(), GatewayError> {
        self.with(|c| {
            tessera_store::spend::forget(c, request_id)
                .map_err(|e| GatewayError::Corrupt(e.to_string()))
        })
    }

    /// Records a new wallet and marks its request done, in one transaction.
    pub fn wallet_created(&self, w: &WalletRow) -> Result<(), GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO wallets (id, name, scheme, public_key, group_key, threshold, signers,
                     request_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    w.id,
                    w.name,
                    w.scheme,
                    w.public_key,
                    w.group_key,
                    w.threshold,
                    w.signers,
                    w.request_id,
                    w.created_at
                ],
            )?;
            tx.execute(
                "UPDATE requests SET status = 'created', updated_at = ?2 WHERE request_id = ?1",
                params![w.request_id, unix_now()],
            )?;
            let body = serde_json::json!({
                "request_id": w.request_id, "wallet": w.id, "scheme": w.scheme,
                "public_key": hex::encode(&w.public_key), "threshold": w.threshold,
            });
            self.append_in(&tx, "wallet_created", &body)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// A wallet.
    pub fn wallet(&self, id: &str) -> Result<Option<WalletRow>, GatewayError> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("{SELECT_WALLET} WHERE id = ?1"),
                params![id],
                wallet_row,
            )
            .optional()?)
        })
    }

    /// Every wallet, oldest first.
    pub fn wallets(&self) -> Result<Vec<WalletRow>, GatewayError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("{SELECT_WALLET} ORDER BY created_at, id"))?;
            let rows = stmt.query_map([], wallet_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// A request.
    pub fn request(&self, id: &str) -> Result<Option<RequestRow>, GatewayError> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("{SELECT_REQUEST} WHERE request_id = ?1"),
                params![id],
                request_row,
            )
            .optional()?)
        })
    }

    /// Requests still pending (a coordinator stopped while they ran).
    pub fn pending(&self) -> Result<Vec<RequestRow>, GatewayError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "{SELECT_REQUEST} WHERE status = 'pending' ORDER BY created_at"
            ))?;
            let rows = stmt.query_map([], request_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

const SELECT_WALLET: &str = "SELECT id, name, scheme, public_key, group_key, threshold, signers,
    request_id, created_at FROM wallets";

fn wallet_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WalletRow> {
    Ok(WalletRow {
        id: r.get(0)?,
        name: r.get(1)?,
        scheme: r.get(2)?,
        public_key: r.get(3)?,
        group_key: r.get(4)?,
        threshold: r.get(5)?,
        signers: r.get(6)?,
        request_id: r.get(7)?,
        created_at: r.get(8)?,
    })
}

const SELECT_REQUEST: &str = "SELECT request_id, client, kind, wallet_id, idempotency_key,
    body_sha256, method, path, body, token, status, signature, error_code, error_message,
    created_at, updated_at FROM requests";

fn request_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RequestRow> {
    Ok(RequestRow {
        request_id: r.get(0)?,
        client: r.get(1)?,
        kind: r.get(2)?,
        wallet_id: r.get(3)?,
        idempotency_key: r.get(4)?,
        body_sha256: r.get(5)?,
        method: r.get(6)?,
        path: r.get(7)?,
        body: r.get(8)?,
        token: r.get(9)?,
        status: r.get(10)?,
        signature: r.get(11)?,
        error_code: r.get(12)?,
        error_message: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

#[cfg(test)]
mod tests;
