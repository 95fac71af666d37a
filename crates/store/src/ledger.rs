//! The nonce ledger: every nonce issued and consumed, each change in a durable transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tessera_types::KeyId;

use crate::{NonceRecord, NonceState, Store, StoreError, hex, now};

impl Store {
    /// Records nonces as issued in the current boot, in one durable transaction, before their
    /// commitments leave the signer. An id seen before (in any state) aborts the whole batch.
    pub fn record_issued(
        &mut self,
        key_id: &KeyId,
        generation: u32,
        ids: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let boot = self.require_boot()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO nonces (nonce_id, key_id, generation, boot, state, issued_at)
                 VALUES (?1, ?2, ?3, ?4, 'issued', ?5)",
            )?;
            let t = now();
            for id in ids {
                match stmt.execute(params![&id[..], key_id.as_str(), generation, boot, t]) {
                    Ok(_) => {}
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        return Err(StoreError::NonceCollision);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks a nonce consumed, durably, recording the digest of what it signs. Succeeds only
    /// for a nonce issued in the current boot, for this key and generation, and never consumed
    /// or discarded: the proof that it is unused. Call before the signature share is computed.
    pub fn consume(
        &mut self,
        key_id: &KeyId,
        generation: u32,
        nonce_id: &[u8; 32],
        signed_digest: &[u8; 32],
    ) -> Result<(), StoreError> {
        let boot = self.require_boot()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        consume_in(&tx, boot, key_id, generation, nonce_id, signed_digest)?;
        let body = crate::audit::share_body(None, key_id, generation, nonce_id, signed_digest);
        crate::audit::append_in(&tx, self.audit.as_ref(), "share", &body)?;
        tx.commit()?;
        Ok(())
    }

    /// A nonce's ledger row.
    pub fn nonce(&self, nonce_id: &[u8; 32]) -> Result<Option<NonceRecord>, StoreError> {
        Self::nonce_in(&self.conn, nonce_id)
    }

    /// Every ledger row, oldest first: for audits and tests.
    pub fn nonces(&self) -> Result<Vec<NonceRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT nonce_id, key_id, generation, boot, state, signed_digest FROM nonces ORDER BY rowid",
        )?;
        let rows = stmt
            .query_map([], row_tuple)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(parse_nonce).collect()
    }

    fn nonce_in(conn: &Connection, nonce_id: &[u8; 32]) -> Result<Option<NonceRecord>, StoreError> {
        conn.query_row(
            "SELECT nonce_id, key_id, generation, boot, state, signed_digest FROM nonces WHERE nonce_id = ?1",
            params![&nonce_id[..]],
            row_tuple,
        )
        .optional()?
        .map(parse_nonce)
        .transpose()
    }
}

/// Moves a nonce from `issued` (in boot `boot`, for this key and generation) to `consumed`
/// inside the caller's transaction, or says why it cannot.
pub(crate) fn consume_in(
    tx: &Connection,
    boot: i64,
    key_id: &KeyId,
    generation: u32,
    nonce_id: &[u8; 32],
    signed_digest: &[u8; 32],
) -> Result<(), StoreError> {
    let changed = tx.execute(
        "UPDATE nonces SET state = 'consumed', signed_digest = ?5, consumed_at = ?6
         WHERE nonce_id = ?1 AND key_id = ?2 AND generation = ?3 AND boot = ?4 AND state = 'issued'",
        params![&nonce_id[..], key_id.as_str(), generation, boot, &signed_digest[..], now()],
    )?;
    if changed == 1 {
        return Ok(());
    }
    let reason = match Store::nonce_in(tx, nonce_id)? {
        None => "never issued by this signer".to_owned(),
        Some(r) if r.state != NonceState::Issued => format!("already {}", r.state.as_str()),
        Some(r) if r.boot != boot => "issued before the last restart".to_owned(),
        Some(r) if r.key_id != *key_id || r.generation != generation => {
            "issued for another key or key generation".to_owned()
        }
        Some(_) => "state changed concurrently".to_owned(),
    };
    Err(StoreError::NonceUnavailable {
        id: hex(nonce_id),
        reason,
    })
}

type NonceRow = (Vec<u8>, String, u32, i64, String, Option<Vec<u8>>);

fn row_tuple(r: &rusqlite::Row<'_>) -> rusqlite::Result<NonceRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn parse_nonce(row: NonceRow) -> Result<NonceRecord, StoreError> {
    let (id, key_id, generation, boot, state, digest) = row;
    let arr = |v: Vec<u8>| -> Result<[u8; 32], StoreError> {
        v.try_into()
            .map_err(|_| StoreError::Corrupt("nonce id or digest is not 32 bytes".into()))
    };
    Ok(NonceRecord {
        id: arr(id)?,
        key_id: KeyId::new(&key_id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        generation,
        boot,
        state: NonceState::parse(&state)?,
        signed_digest: digest.map(arr).transpose()?,
    })
}
