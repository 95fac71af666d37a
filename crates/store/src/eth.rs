//! Ethereum records of a signer: the asset registry it accepted from admins, and the unsigned
//! transactions it agreed to sign for each transfer request.
//!
//! The store keeps opaque values (addresses as lowercase `0x` hex, fees as decimal text); the
//! signer decodes and checks them. What the store enforces is structural: an asset symbol and a
//! token contract are registered once per chain, and every transaction bound to one transfer
//! request carries the same nonce, so one client request can never become two transfers.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use tessera_types::KeyId;

use crate::{Store, StoreError, now};

/// A registered asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRecord {
    /// The chain, e.g. `ethereum`.
    pub chain: String,
    /// The symbol clients name it by, e.g. `USDC`.
    pub symbol: String,
    /// The token contract, lowercase `0x` hex.
    pub contract: String,
    /// Decimals of the token's base unit.
    pub decimals: u8,
}

/// What [`Store::add_asset`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetAdded {
    /// Newly registered.
    New,
    /// The same asset was registered before; nothing changed.
    Same,
}

/// An unsigned transaction bound to a transfer request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthTxRecord {
    /// Keccak-256 of the unsigned transaction: what is signed.
    pub signing_hash: [u8; 32],
    /// The transfer request it carries out.
    pub request_id: String,
    /// The wallet that signs it.
    pub key_id: KeyId,
    /// Its nonce.
    pub nonce: u64,
    /// Its `max_fee_per_gas`, in wei.
    pub max_fee: u128,
    /// Its `max_priority_fee_per_gas`, in wei.
    pub priority_fee: u128,
    /// The EIP-2718 encoding of the unsigned transaction.
    pub unsigned_tx: Vec<u8>,
    /// The signature, once the coordinator handed it in.
    pub signature: Option<Vec<u8>>,
}

impl Store {
    /// Registers `asset`, named by registered request `request_id`. The same asset again is a
    /// no-op; another contract or decimals under a taken symbol, or a taken contract under
    /// another symbol, is refused.
    pub fn add_asset(
        &mut self,
        asset: &AssetRecord,
        request_id: &str,
    ) -> Result<AssetAdded, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let by_symbol = asset_in(&tx, &asset.chain, &asset.symbol)?;
        if let Some(found) = by_symbol {
            return if found == *asset {
                Ok(AssetAdded::Same)
            } else {
                Err(StoreError::AssetConflict(format!(
                    "`{}` on {} is already the token {} with {} decimals",
                    found.symbol, found.chain, found.contract, found.decimals
                )))
            };
        }
        let by_contract: Option<String> = tx
            .query_row(
                "SELECT symbol FROM assets WHERE chain = ?1 AND contract = ?2",
                params![asset.chain, asset.contract],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(symbol) = by_contract {
            return Err(StoreError::AssetConflict(format!(
                "the token {} on {} is already registered as `{symbol}`",
                asset.contract, asset.chain
            )));
        }
        tx.execute(
            "INSERT INTO assets (chain, symbol, contract, decimals, request_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                asset.chain,
                asset.symbol,
                asset.contract,
                asset.decimals,
                request_id,
                now()
            ],
        )?;
        let body = serde_json::json!({
            "request_id": request_id,
            "chain": asset.chain,
            "symbol": asset.symbol,
            "contract": asset.contract,
            "decimals": asset.decimals,
        });
        crate::audit::append_in(&tx, self.audit.as_ref(), "asset_added", &body)?;
        tx.commit()?;
        Ok(AssetAdded::New)
    }

    /// The asset registered as `symbol` on `chain`.
    pub fn asset(&self, chain: &str, symbol: &str) -> Result<Option<AssetRecord>, StoreError> {
        asset_in(&self.conn, chain, symbol)
    }

    /// Every asset registered on `chain`, by symbol.
    pub fn assets(&self, chain: &str) -> Result<Vec<AssetRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT chain, symbol, contract, decimals FROM assets WHERE chain = ?1 ORDER BY symbol",
        )?;
        let rows = stmt
            .query_map(params![chain], asset_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Binds `rec` to its transfer request, durably, unless a transaction with the same signing
    /// hash is bound already (then that one is returned unchanged). Refused when the request
    /// has transactions with another nonce or for another wallet.
    pub fn bind_eth_tx(&mut self, rec: &EthTxRecord) -> Result<EthTxRecord, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(found) = eth_tx_in(&tx, &rec.signing_hash)? {
            if found.request_id != rec.request_id {
                return Err(StoreError::EthTxConflict(format!(
                    "the same transaction is bound to request `{}`",
                    found.request_id
                )));
            }
            return Ok(found);
        }
        let others = eth_txs_in(&tx, &rec.request_id)?;
        if let Some(other) = others
            .iter()
            .find(|o| o.nonce != rec.nonce || o.key_id != rec.key_id)
        {
            return Err(StoreError::EthTxConflict(format!(
                "request `{}` is bound to nonce {} of wallet `{}`",
                rec.request_id, other.nonce, other.key_id
            )));
        }
        tx.execute(
            "INSERT INTO eth_txs (signing_hash, request_id, key_id, nonce, max_fee, priority_fee,
                                  unsigned_tx, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                &rec.signing_hash[..],
                rec.request_id,
                rec.key_id.as_str(),
                i64::try_from(rec.nonce)
                    .map_err(|_| StoreError::Corrupt("nonce beyond 2^63".into()))?,
                rec.max_fee.to_string(),
                rec.priority_fee.to_string(),
                rec.unsigned_tx,
                now(),
            ],
        )?;
        let body = serde_json::json!({
            "request_id": rec.request_id,
            "key_id": rec.key_id.as_str(),
            "signing_hash": crate::audit::hex_of(&rec.signing_hash),
            "nonce": rec.nonce,
            "max_fee": rec.max_fee.to_string(),
            "priority_fee": rec.priority_fee.to_string(),
            "unsigned_tx": crate::audit::hex_of(&rec.unsigned_tx),
        });
        crate::audit::append_in(&tx, self.audit.as_ref(), "eth_tx_bound", &body)?;
        tx.commit()?;
        Ok(EthTxRecord {
            signature: None,
            ..rec.clone()
        })
    }

    /// The transactions bound to transfer request `request_id`, oldest first.
    pub fn eth_txs(&self, request_id: &str) -> Result<Vec<EthTxRecord>, StoreError> {
        eth_txs_in(&self.conn, request_id)
    }

    /// The bound transaction with this signing hash.
    pub fn eth_tx(&self, signing_hash: &[u8; 32]) -> Result<Option<EthTxRecord>, StoreError> {
        eth_tx_in(&self.conn, signing_hash)
    }

    /// Records the signature of a bound transaction. The first one recorded stays.
    pub fn sign_eth_tx(
        &mut self,
        signing_hash: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE eth_txs SET signature = ?2 WHERE signing_hash = ?1 AND signature IS NULL",
            params![&signing_hash[..], signature],
        )?;
        if changed == 0 {
            if eth_tx_in(&tx, signing_hash)?.is_none() {
                return Err(StoreError::EthTxConflict(
                    "no such transaction is bound to a request".into(),
                ));
            }
            return Ok(());
        }
        let request_id = eth_tx_in(&tx, signing_hash)?.map(|t| t.request_id);
        let body = serde_json::json!({
            "request_id": request_id,
            "signing_hash": crate::audit::hex_of(signing_hash),
            "signature": crate::audit::hex_of(signature),
        });
        crate::audit::append_in(&tx, self.audit.as_ref(), "eth_tx_signature", &body)?;
        tx.commit()?;
        Ok(())
    }
}

fn asset_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssetRecord> {
    Ok(AssetRecord {
        chain: r.get(0)?,
        symbol: r.get(1)?,
        contract: r.get(2)?,
        decimals: r.get(3)?,
    })
}

fn asset_in(
    conn: &rusqlite::Connection,
    chain: &str,
    symbol: &str,
) -> Result<Option<AssetRecord>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT chain, symbol, contract, decimals FROM assets WHERE chain = ?1 AND symbol = ?2",
            params![chain, symbol],
            asset_row,
        )
        .optional()?)
}

type EthTxRow = (
    Vec<u8>,
    String,
    String,
    i64,
    String,
    String,
    Vec<u8>,
    Option<Vec<u8>>,
);

const ETH_TX_COLUMNS: &str =
    "signing_hash, request_id, key_id, nonce, max_fee, priority_fee, unsigned_tx, signature";

fn eth_tx_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EthTxRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn parse_eth_tx(row: EthTxRow) -> Result<EthTxRecord, StoreError> {
    let (hash, request_id, key_id, nonce, max_fee, priority_fee, unsigned_tx, signature) = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("eth_txs: {what}"));
    Ok(EthTxRecord {
        signing_hash: hash
            .try_into()
            .map_err(|_| corrupt("signing hash is not 32 bytes"))?,
        request_id,
        key_id: KeyId::new(&key_id).map_err(|e| corrupt(&e.to_string()))?,
        nonce: u64::try_from(nonce).map_err(|_| corrupt("negative nonce"))?,
        max_fee: max_fee.parse().map_err(|_| corrupt("max fee"))?,
        priority_fee: priority_fee.parse().map_err(|_| corrupt("priority fee"))?,
        unsigned_tx,
        signature,
    })
}

fn eth_tx_in(
    conn: &rusqlite::Connection,
    signing_hash: &[u8; 32],
) -> Result<Option<EthTxRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {ETH_TX_COLUMNS} FROM eth_txs WHERE signing_hash = ?1"),
        params![&signing_hash[..]],
        eth_tx_row,
    )
    .optional()?
    .map(parse_eth_tx)
    .transpose()
}

fn eth_txs_in(
    conn: &rusqlite::Connection,
    request_id: &str,
) -> Result<Vec<EthTxRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ETH_TX_COLUMNS} FROM eth_txs WHERE request_id = ?1 ORDER BY rowid"
    ))?;
    let rows = stmt
        .query_map(params![request_id], eth_tx_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(parse_eth_tx).collect()
}
