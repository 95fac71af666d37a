//! The coordinator's audit chain (ADR 0013) and the signers' receipts it keeps for clients.
//!
//! Schema version 2 adds the `audit_log` table (`tessera_audit::SCHEMA`) and `receipts`. With
//! an audit key ([`GatewayStore::set_audit_key`]) the store appends an entry inside the
//! transaction of each change it records: a request received (`request`), the pre-check's
//! decision (`precheck`), a ruling or failure recorded (`ruling`, `failure`), a verdict
//! forwarded (`verdict`), a signature (`signature`), a wallet created (`wallet_created`), an
//! asset registered (`asset_added`), a transaction signed, broadcast, mined or failed
//! (`eth_tx_signed`, `eth_tx_broadcast`, `eth_tx_outcome`, `failure`). Events without a transaction of their own here go through
//! [`GatewayStore::audit_event`], which is also how other API modules (breakers, policy
//! changes) record what they forward:
//!
//! ```text
//! store.audit_event(kind: &str, body: &serde_json::Value) -> Result<(), GatewayError>
//! ```
//!
//! Inside a store method that has a transaction open, call
//! `self.append_in(&tx, kind, &body)?` before `commit` instead.

use rusqlite::{Connection, TransactionBehavior, params};
use tessera_audit::{Anchor, AuditKey, Entry, Receipt};

use super::{GatewayError, GatewayStore};
use crate::unix_now;

/// Schema version 2: the audit chain and the receipts.
pub(super) const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS receipts (
    request_id  TEXT NOT NULL,
    node        TEXT NOT NULL,
    audit_seq   INTEGER NOT NULL,
    decision    TEXT NOT NULL,
    receipt     TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (request_id, node, audit_seq)
);
";

/// Creates what version 2 adds (idempotent: `IF NOT EXISTS`).
pub(super) fn migrate_v2(conn: &Connection) -> Result<(), GatewayError> {
    conn.execute_batch(tessera_audit::SCHEMA)?;
    conn.execute_batch(SCHEMA_V2)?;
    Ok(())
}

impl From<tessera_audit::AuditError> for GatewayError {
    fn from(e: tessera_audit::AuditError) -> Self {
        match e {
            tessera_audit::AuditError::Sqlite(e) => GatewayError::Sqlite(e),
            other => GatewayError::Corrupt(format!("audit log: {other}")),
        }
    }
}

impl GatewayStore {
    /// From now on, every change this store records is also appended to its audit chain.
    pub fn set_audit_key(&mut self, key: AuditKey) {
        self.audit = Some(key);
    }

    /// Whether an audit key is set.
    pub fn audits(&self) -> bool {
        self.audit.is_some()
    }

    /// Appends an entry inside the open transaction `tx` (no-op without an audit key).
    pub(super) fn append_in(
        &self,
        tx: &Connection,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<(), GatewayError> {
        if let Some(key) = &self.audit {
            tessera_audit::append(tx, key, unix_now(), kind, body)?;
        }
        Ok(())
    }

    /// Runs `f` in a write transaction and appends the entry `kind`, `body` in it.
    pub(super) fn audited<T>(
        &self,
        kind: &str,
        body: &serde_json::Value,
        f: impl FnOnce(&Connection) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            self.append_in(&tx, kind, body)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// Records an event that changes nothing else in this store (a pre-check's decision, a
    /// verdict forwarded, a breaker event) as an entry of its own.
    pub fn audit_event(&self, kind: &str, body: &serde_json::Value) -> Result<(), GatewayError> {
        if self.audit.is_none() {
            return Ok(());
        }
        self.audited(kind, body, |_| Ok(()))
    }

    /// The chain's last position, `None` when empty.
    pub fn audit_head(&self) -> Result<Option<Anchor>, GatewayError> {
        self.with(|c| Ok(tessera_audit::head(c)?.map(|(seq, hash)| Anchor { seq, hash })))
    }

    /// Up to `limit` entries after position `after`.
    pub fn audit_page(&self, after: u64, limit: u32) -> Result<Vec<Entry>, GatewayError> {
        self.with(|c| Ok(tessera_audit::page(c, after, limit)?))
    }

    /// Keeps signers' receipts (each under the request it names); one already kept is left.
    pub fn add_receipts(&self, receipts: &[Receipt]) -> Result<(), GatewayError> {
        if receipts.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for r in receipts {
                let text = serde_json::to_string(r)
                    .map_err(|e| GatewayError::Corrupt(format!("receipt: {e}")))?;
                tx.execute(
                    "INSERT OR IGNORE INTO receipts
                         (request_id, node, audit_seq, decision, receipt, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        r.request_id,
                        r.node,
                        i64::try_from(r.audit_seq).unwrap_or(i64::MAX),
                        r.decision,
                        text,
                        unix_now()
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The latest receipt of each node about `request_id` (the one recording where the
    /// request stands at that node now), by node name.
    pub fn receipts(&self, request_id: &str) -> Result<Vec<Receipt>, GatewayError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT receipt FROM receipts AS r WHERE request_id = ?1
                   AND audit_seq = (SELECT MAX(audit_seq) FROM receipts
                                    WHERE request_id = r.request_id AND node = r.node)
                 ORDER BY node",
            )?;
            let rows = stmt.query_map(params![request_id], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for text in rows {
                out.push(
                    serde_json::from_str(&text?)
                        .map_err(|e| GatewayError::Corrupt(format!("stored receipt: {e}")))?,
                );
            }
            Ok(out)
        })
    }
}
