//! The coordinator's Ethereum records: registered tokens, transfers with the nonce each one
//! holds, and every signed version of each transfer's transaction.
//!
//! A transfer's nonce is assigned in the same transaction that checks no other live transfer
//! of the wallet holds it (a unique index), and every signed version is written before it is
//! broadcast, so that a coordinator killed at any moment neither issues a nonce twice nor loses
//! a transaction it may have sent.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::{GatewayError, GatewayStore};
use crate::unix_now;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS assets (
    symbol      TEXT PRIMARY KEY,
    chain       TEXT NOT NULL,
    contract    TEXT NOT NULL UNIQUE,
    decimals    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
    request_id     TEXT PRIMARY KEY,
    wallet_id      TEXT NOT NULL,
    to_address     TEXT NOT NULL,
    asset          TEXT NOT NULL,
    amount         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN
        ('pending_approval', 'signed', 'broadcast', 'confirmed', 'denied', 'failed')),
    reason         TEXT,
    nonce          INTEGER,
    nonce_live     INTEGER NOT NULL DEFAULT 1,
    unsigned_tx    BLOB,
    tx_hash        TEXT,
    raw_tx         BLOB,
    last_sent_at   INTEGER,
    block_number   INTEGER,
    block_hash     TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS transfers_live_nonce
    ON transfers (wallet_id, nonce) WHERE nonce IS NOT NULL AND nonce_live = 1;
CREATE INDEX IF NOT EXISTS transfers_status ON transfers (status);
CREATE TABLE IF NOT EXISTS transfer_txs (
    tx_hash      TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    unsigned_tx  BLOB NOT NULL,
    raw_tx       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (request_id, version)
);
";

/// A registered token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    /// Its symbol.
    pub symbol: String,
    /// Its chain's name.
    pub chain: String,
    /// Its contract, EIP-55.
    pub contract: String,
    /// Its decimals.
    pub decimals: u8,
}

/// What [`GatewayStore::add_asset`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetAdded {
    /// Registered now.
    New,
    /// Registered before, identically.
    Same,
}

/// A transfer and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRow {
    /// The request that asked for it.
    pub request_id: String,
    /// The wallet the funds leave.
    pub wallet_id: String,
    /// The recipient, EIP-55.
    pub to: String,
    /// The asset's symbol.
    pub asset: String,
    /// The amount as the client wrote it.
    pub amount: String,
    /// `pending_approval`, `signed`, `broadcast`, `confirmed`, `denied` or `failed`.
    pub status: String,
    /// Why it was denied or failed.
    pub reason: Option<String>,
    /// The nonce it holds, once assigned.
    pub nonce: Option<u64>,
    /// The unsigned transaction of its latest version.
    pub unsigned_tx: Option<Vec<u8>>,
    /// The hash of the version that counts: the latest signed, or the one mined.
    pub tx_hash: Option<String>,
    /// That version, signed.
    pub raw_tx: Option<Vec<u8>>,
    /// When a version was last broadcast, Unix seconds.
    pub last_sent_at: Option<i64>,
    /// The block that includes it, once mined.
    pub block_number: Option<u64>,
    /// That block's hash.
    pub block_hash: Option<String>,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

/// A signed version of a transfer's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxVersion {
    /// Its hash.
    pub tx_hash: String,
    /// 1 for the first, then one more per fee bump.
    pub version: u32,
    /// Unsigned.
    pub unsigned_tx: Vec<u8>,
    /// Signed.
    pub raw_tx: Vec<u8>,
}

/// A transfer still on its way: signed, broadcast or waiting for confirmations.
pub const OPEN: [&str; 3] = ["pending_approval", "signed", "broadcast"];

impl GatewayStore {
    /// Registers a token; the same registration again is [`AssetAdded::Same`], another one under
    /// the same symbol or contract is [`GatewayError::AssetExists`].
    pub fn add_asset(&self, a: &AssetRow) -> Result<AssetAdded, GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match registered_as(&tx, a)? {
                Some(_) => Ok(AssetAdded::Same),
                None => {
                    tx.execute(
                        "INSERT INTO assets (symbol, chain, contract, decimals, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![a.symbol, a.chain, a.contract, a.decimals, unix_now()],
                    )?;
                    let body = serde_json::json!({
                        "symbol": a.symbol, "chain": a.chain, "contract": a.contract,
                        "decimals": a.decimals,
                    });
                    self.append_in(&tx, "asset_added", &body)?;
                    tx.commit()?;
                    Ok(AssetAdded::New)
                }
            }
        })
    }

    /// Refuses `a` as [`GatewayStore::add_asset`] would, without registering it: so that a
    /// clash is refused before any signer is asked.
    pub fn check_new_asset(&self, a: &AssetRow) -> Result<(), GatewayError> {
        self.with(|c| registered_as(c, a).map(|_| ()))
    }

    /// A registered token.
    pub fn asset(&self, symbol: &str) -> Result<Option<AssetRow>, GatewayError> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("{SELECT_ASSET} WHERE symbol = ?1"),
                params![symbol],
                asset_row,
            )
            .optional()?)
        })
    }

    /// Every registered token, in the order registered.
    pub fn assets(&self) -> Result<Vec<AssetRow>, GatewayError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("{SELECT_ASSET} ORDER BY created_at, symbol"))?;
            let rows = stmt.query_map([], asset_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// A transfer.
    pub fn transfer(&self, request_id: &str) -> Result<Option<TransferRow>, GatewayError> {
        self.with(|c| transfer_in(c, request_id))
    }

    /// Transfers in `statuses`, oldest first.
    pub fn transfers_in(&self, statuses: &[&str]) -> Result<Vec<TransferRow>, GatewayError> {
        self.with(|c| {
            let mut out = Vec::new();
            let mut stmt = c.prepare(&format!(
                "{SELECT_TRANSFER} WHERE status = ?1 ORDER BY created_at, request_id"
            ))?;
            for status in statuses {
                let rows = stmt.query_map(params![status], transfer_row)?;
                for r in rows {
                    out.push(r?);
                }
            }
            out.sort_by(|a, b| (a.created_at, &a.request_id).cmp(&(b.created_at, &b.request_id)));
            Ok(out)
        })
    }

    /// Gives transfer `request_id` the lowest nonce of `wallet` that is at least `chain_next`
    /// (the node's next nonce for the wallet) and that no other live transfer holds, together
    /// with its unsigned transaction built by `build` for that nonce. A transfer that holds a
    /// nonce keeps it. Returns the transfer.
    pub fn assign_nonce(
        &self,
        request_id: &str,
        chain_next: u64,
        build: impl FnOnce(u64) -> Vec<u8>,
    ) -> Result<TransferRow, GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let t = transfer_in(&tx, request_id)?.ok_or_else(|| no_transfer(request_id))?;
            if t.nonce.is_some() && t.unsigned_tx.is_some() {
                return Ok(t);
            }
            let held: Vec<i64> = {
                let mut stmt = tx.prepare(
                    "SELECT nonce FROM transfers
                     WHERE wallet_id = ?1 AND nonce IS NOT NULL AND nonce_live = 1 AND nonce >= ?2
                     ORDER BY nonce",
                )?;
                let rows = stmt.query_map(params![t.wallet_id, to_i64(chain_next)?], |r| {
                    r.get::<_, i64>(0)
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            let nonce = match t.nonce {
                Some(n) => n,
                None => {
                    let mut next = chain_next;
                    for h in held {
                        if h == to_i64(next)? {
                            next = next
                                .checked_add(1)
                                .ok_or_else(|| GatewayError::Corrupt("nonce overflow".into()))?;
                        } else if h > to_i64(next)? {
                            break;
                        }
                    }
                    next
                }
            };
            tx.execute(
                "UPDATE transfers SET nonce = ?2, unsigned_tx = ?3, updated_at = ?4
                 WHERE request_id = ?1",
                params![request_id, to_i64(nonce)?, build(nonce), unix_now()],
            )?;
            let t = transfer_in(&tx, request_id)?.ok_or_else(|| no_transfer(request_id))?;
            tx.commit()?;
            Ok(t)
        })
    }

    /// Records a new signed version of a transfer's transaction (before it is broadcast) and
    /// makes it the one that counts. The first version also marks the transfer and its request
    /// signed.
    pub fn record_signed(
        &self,
        request_id: &str,
        tx_hash: &str,
        unsigned_tx: &[u8],
        raw_tx: &[u8],
    ) -> Result<TransferRow, GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version: u32 = tx.query_row(
                "SELECT COUNT(*) + 1 FROM transfer_txs WHERE request_id = ?1",
                params![request_id],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO transfer_txs
                     (tx_hash, request_id, version, unsigned_tx, raw_tx, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    tx_hash,
                    request_id,
                    version,
                    unsigned_tx,
                    raw_tx,
                    unix_now()
                ],
            )?;
            tx.execute(
                "UPDATE transfers SET tx_hash = ?2, raw_tx = ?3, unsigned_tx = ?4,
                     status = CASE status WHEN 'pending_approval' THEN 'signed' ELSE status END,
                     updated_at = ?5
                 WHERE request_id = ?1",
                params![request_id, tx_hash, raw_tx, unsigned_tx, unix_now()],
            )?;
            tx.execute(
                "UPDATE requests SET status = 'signed', signature = ?2, updated_at = ?3
                 WHERE request_id = ?1 AND status = 'pending'",
                params![request_id, raw_tx, unix_now()],
            )?;
            let t = transfer_in(&tx, request_id)?.ok_or_else(|| no_transfer(request_id))?;
            let body = serde_json::json!({
                "request_id": request_id, "tx_hash": tx_hash, "version": version,
                "raw_tx": hex::encode(raw_tx),
            });
            self.append_in(&tx, "eth_tx_signed", &body)?;
            tx.commit()?;
            Ok(t)
        })
    }

    /// Every signed version of a transfer, first first.
    pub fn versions(&self, request_id: &str) -> Result<Vec<TxVersion>, GatewayError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT tx_hash, version, unsigned_tx, raw_tx FROM transfer_txs
                 WHERE request_id = ?1 ORDER BY version",
            )?;
            let rows = stmt.query_map(params![request_id], |r| {
                Ok(TxVersion {
                    tx_hash: r.get(0)?,
                    version: r.get(1)?,
                    unsigned_tx: r.get(2)?,
                    raw_tx: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Records that a version was sent to the node now.
    pub fn mark_broadcast(&self, request_id: &str) -> Result<(), GatewayError> {
        let tx_hash = self.transfer(request_id)?.and_then(|t| t.tx_hash);
        let body = serde_json::json!({"request_id": request_id, "tx_hash": tx_hash});
        self.audited("eth_tx_broadcast", &body, |c| {
            c.execute(
                "UPDATE transfers SET last_sent_at = ?2, updated_at = ?2,
                     status = CASE status WHEN 'signed' THEN 'broadcast' ELSE status END
                 WHERE request_id = ?1",
                params![request_id, unix_now()],
            )?;
            Ok(())
        })
    }

    /// Records the block that includes version `tx_hash` (or forgets it after a reorg, with
    /// `None`), and whether the transfer is now `confirmed` or `failed` (a reverted
    /// transaction).
    pub fn mark_mined(
        &self,
        request_id: &str,
        mined: Option<(&str, u64, &str)>,
        outcome: Option<(&str, Option<&str>)>,
    ) -> Result<(), GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match mined {
                Some((hash, number, block)) => {
                    let raw: Option<Vec<u8>> = tx
                        .query_row(
                            "SELECT raw_tx FROM transfer_txs WHERE tx_hash = ?1",
                            params![hash],
                            |r| r.get(0),
                        )
                        .optional()?;
                    tx.execute(
                        "UPDATE transfers SET tx_hash = ?2, raw_tx = COALESCE(?3, raw_tx),
                             block_number = ?4, block_hash = ?5, updated_at = ?6
                         WHERE request_id = ?1",
                        params![request_id, hash, raw, to_i64(number)?, block, unix_now()],
                    )?;
                }
                None => {
                    tx.execute(
                        "UPDATE transfers SET block_number = NULL, block_hash = NULL,
                             updated_at = ?2
                         WHERE request_id = ?1",
                        params![request_id, unix_now()],
                    )?;
                }
            }
            if let Some((status, reason)) = outcome {
                tx.execute(
                    "UPDATE transfers SET status = ?2, reason = ?3, updated_at = ?4
                     WHERE request_id = ?1",
                    params![request_id, status, reason, unix_now()],
                )?;
                let body = serde_json::json!({
                    "request_id": request_id, "status": status, "reason": reason,
                    "tx_hash": mined.map(|m| m.0), "block_number": mined.map(|m| m.1),
                });
                self.append_in(&tx, "eth_tx_outcome", &body)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Ends a transfer `failed` with `reason`. `release` gives its nonce back (nothing signed
    /// for it can be mined any more, or nothing was signed); otherwise the nonce stays held.
    /// A transfer that has not been signed also marks its request failed.
    pub fn fail_transfer(
        &self,
        request_id: &str,
        code: &str,
        message: &str,
        release: bool,
    ) -> Result<(), GatewayError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE transfers SET status = 'failed', reason = ?2,
                     nonce_live = CASE WHEN ?3 THEN 0 ELSE nonce_live END, updated_at = ?4
                 WHERE request_id = ?1",
                params![
                    request_id,
                    format!("{code}: {message}"),
                    release,
                    unix_now()
                ],
            )?;
            tx.execute(
                "UPDATE requests SET status = 'failed', error_code = ?2, error_message = ?3,
                     updated_at = ?4
                 WHERE request_id = ?1 AND status IN ('pending', 'failed')",
                params![request_id, code, message, unix_now()],
            )?;
            let body = serde_json::json!({
                "request_id": request_id, "code": code, "message": message, "release": release,
            });
            self.append_in(&tx, "failure", &body)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Records the policy's hold on a transfer that has no nonce yet: `denied` or `rejected`
    /// end it (`denied`, nothing was signed, no nonce is held); `pending_approval` keeps it
    /// waiting, with the reason.
    pub fn hold_transfer(
        &self,
        request_id: &str,
        status: &str,
        code: &str,
        reason: &str,
    ) -> Result<(), GatewayError> {
        let transfer_status = if status == "pending_approval" {
            "pending_approval"
        } else {
            "denied"
        };
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE transfers SET status = ?2, reason = ?3, updated_at = ?4
                 WHERE request_id = ?1 AND status = 'pending_approval' AND nonce IS NULL",
                params![request_id, transfer_status, reason, unix_now()],
            )?;
            tx.execute(
                "UPDATE requests SET status = ?2, error_code = ?3, error_message = ?4,
                     updated_at = ?5
                 WHERE request_id = ?1 AND status IN ('pending', 'failed', 'pending_approval')",
                params![request_id, status, code, reason, unix_now()],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Records a new transfer in the same transaction as its request (see
    /// [`GatewayStore::begin`]).
    pub(super) fn insert_transfer(tx: &Transaction<'_>, t: &TransferRow) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO transfers (request_id, wallet_id, to_address, asset, amount, status,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending_approval', ?6, ?6)",
            params![
                t.request_id,
                t.wallet_id,
                t.to,
                t.asset,
                t.amount,
                unix_now()
            ],
        )?;
        Ok(())
    }
}

/// `Some` when `a` is registered already, identically; [`GatewayError::AssetExists`] when its
/// symbol or contract is registered as another asset; `None` when neither is.
fn registered_as(c: &rusqlite::Connection, a: &AssetRow) -> Result<Option<AssetRow>, GatewayError> {
    let earlier: Option<AssetRow> = c
        .query_row(
            &format!("{SELECT_ASSET} WHERE symbol = ?1 OR contract = ?2"),
            params![a.symbol, a.contract],
            asset_row,
        )
        .optional()?;
    match earlier {
        Some(e) if &e == a => Ok(Some(e)),
        Some(e) => Err(GatewayError::AssetExists(format!(
            "`{}` is registered as {} with {} decimals",
            e.symbol, e.contract, e.decimals
        ))),
        None => Ok(None),
    }
}

fn no_transfer(request_id: &str) -> GatewayError {
    GatewayError::Corrupt(format!("no transfer `{request_id}`"))
}

fn to_i64(n: u64) -> Result<i64, GatewayError> {
    i64::try_from(n).map_err(|_| GatewayError::Corrupt(format!("{n} does not fit the store")))
}

fn transfer_in(
    c: &rusqlite::Connection,
    request_id: &str,
) -> Result<Option<TransferRow>, GatewayError> {
    Ok(c.query_row(
        &format!("{SELECT_TRANSFER} WHERE request_id = ?1"),
        params![request_id],
        transfer_row,
    )
    .optional()?)
}

const SELECT_ASSET: &str = "SELECT symbol, chain, contract, decimals FROM assets";

fn asset_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssetRow> {
    Ok(AssetRow {
        symbol: r.get(0)?,
        chain: r.get(1)?,
        contract: r.get(2)?,
        decimals: r.get(3)?,
    })
}

const SELECT_TRANSFER: &str = "SELECT request_id, wallet_id, to_address, asset, amount, status,
    reason, nonce, unsigned_tx, tx_hash, raw_tx, last_sent_at, block_number, block_hash,
    created_at, updated_at FROM transfers";

fn transfer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TransferRow> {
    let nonce: Option<i64> = r.get(7)?;
    let block: Option<i64> = r.get(12)?;
    Ok(TransferRow {
        request_id: r.get(0)?,
        wallet_id: r.get(1)?,
        to: r.get(2)?,
        asset: r.get(3)?,
        amount: r.get(4)?,
        status: r.get(5)?,
        reason: r.get(6)?,
        nonce: nonce.and_then(|n| u64::try_from(n).ok()),
        unsigned_tx: r.get(8)?,
        tx_hash: r.get(9)?,
        raw_tx: r.get(10)?,
        last_sent_at: r.get(11)?,
        block_number: block.and_then(|n| u64::try_from(n).ok()),
        block_hash: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

#[cfg(test)]
#[path = "eth_tests.rs"]
mod tests;
