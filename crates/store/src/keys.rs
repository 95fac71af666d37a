//! Key records: active shares, and results of key generation or refresh waiting for activation.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tessera_types::{KeyId, PartyId, Threshold};

use crate::{Activated, KeyRecord, Store, StoreError, now};

impl Store {
    /// Adds a new key. Fails if the id is taken; nothing is half-written.
    pub fn insert_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM keys WHERE key_id = ?1)",
            params![key.key_id.as_str()],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::KeyExists(key.key_id.clone()));
        }
        insert_record(&tx, ACTIVE, key)?;
        tx.commit()?;
        Ok(())
    }

    /// Records the result of a key generation (`generation` 0) or refresh (the key's
    /// generation + 1) as pending: it cannot sign until [`Store::activate`]. The key's active
    /// share, if any, stays in use meanwhile.
    pub fn put_pending(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if pending_in(&tx, &key.key_id)?.is_some() {
            return Err(StoreError::PendingExists(key.key_id.clone()));
        }
        let active: Option<u32> = tx
            .query_row(
                "SELECT generation FROM keys WHERE key_id = ?1",
                params![key.key_id.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        match (active, key.generation) {
            (None, 0) => {}
            (Some(_), 0) => return Err(StoreError::KeyExists(key.key_id.clone())),
            (None, _) => return Err(StoreError::NoSuchKey(key.key_id.clone())),
            (Some(found), next) if found.checked_add(1) != Some(next) => {
                return Err(StoreError::StaleGeneration {
                    key: key.key_id.clone(),
                    expected: next.saturating_sub(1),
                    found,
                });
            }
            (Some(_), _) => {}
        }
        insert_record(&tx, PENDING, key)?;
        tx.commit()?;
        Ok(())
    }

    /// The result waiting for activation, if any.
    pub fn pending(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        pending_in(&self.conn, key_id)
    }

    /// Makes the pending result the key's active share, in one transaction: a new key is
    /// inserted, or a refreshed share replaces the old one (generation + 1) and every
    /// still-issued nonce of the key is discarded. `group_key` must be the group key the
    /// coordinator saw every party agree on. The old share's bytes are then scrubbed from the
    /// files (see [`Store::scrub`]).
    pub fn activate(&mut self, key_id: &KeyId, group_key: &[u8]) -> Result<Activated, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending =
            pending_in(&tx, key_id)?.ok_or_else(|| StoreError::NoPending(key_id.clone()))?;
        if pending.group_key != group_key {
            return Err(StoreError::PendingMismatch(key_id.clone()));
        }
        if pending.generation == 0 {
            tx.execute(
                "INSERT INTO keys (key_id, scheme, party, t, n, generation, group_key, sealed_share, created_at)
                 SELECT key_id, scheme, party, t, n, generation, group_key, sealed_share, ?2
                 FROM pending_keys WHERE key_id = ?1",
                params![key_id.as_str(), now()],
            )?;
        } else {
            let changed = tx.execute(
                "UPDATE keys SET generation = ?2, group_key = ?3, sealed_share = ?4
                 WHERE key_id = ?1 AND generation = ?5",
                params![
                    key_id.as_str(),
                    pending.generation,
                    pending.group_key,
                    pending.sealed_share,
                    pending.generation.saturating_sub(1)
                ],
            )?;
            if changed != 1 {
                return Err(StoreError::StaleGeneration {
                    key: key_id.clone(),
                    expected: pending.generation.saturating_sub(1),
                    found: u32::MAX,
                });
            }
        }
        tx.execute(
            "UPDATE nonces SET state = 'discarded' WHERE key_id = ?1 AND state = 'issued'",
            params![key_id.as_str()],
        )?;
        tx.execute(
            "DELETE FROM pending_keys WHERE key_id = ?1",
            params![key_id.as_str()],
        )?;
        let body = serde_json::json!({
            "key_id": key_id.as_str(),
            "scheme": pending.scheme.name(),
            "generation": pending.generation,
            "group_key": crate::audit::hex_of(&pending.group_key),
        });
        crate::audit::append_in(&tx, self.audit.as_ref(), "key_activated", &body)?;
        tx.commit()?;
        let scrubbed = self.scrub()?;
        Ok(Activated {
            generation: pending.generation,
            scrubbed,
        })
    }

    /// Drops a pending result (the session failed somewhere); the active share, if any, is
    /// untouched. Returns whether there was one.
    pub fn discard_pending(&mut self, key_id: &KeyId) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM pending_keys WHERE key_id = ?1",
            params![key_id.as_str()],
        )?;
        if n > 0 {
            self.scrub()?;
        }
        Ok(n > 0)
    }

    /// A key's active record, if present.
    pub fn key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        key_row(
            &self.conn,
            "SELECT scheme, party, t, n, generation, group_key, sealed_share FROM keys WHERE key_id = ?1",
            key_id,
        )
    }

    /// Every key id, sorted.
    pub fn key_ids(&self) -> Result<Vec<KeyId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key_id FROM keys ORDER BY key_id")?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.iter()
            .map(|s| KeyId::new(s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }
}

/// Active keys and pending results share one row shape.
const ACTIVE: &str = "INSERT INTO keys (key_id, scheme, party, t, n, generation, group_key, sealed_share, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const PENDING: &str = "INSERT INTO pending_keys (key_id, scheme, party, t, n, generation, group_key, sealed_share, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

fn insert_record(conn: &Connection, insert: &str, key: &KeyRecord) -> Result<(), StoreError> {
    conn.execute(
        insert,
        params![
            key.key_id.as_str(),
            key.scheme.name(),
            key.party.get(),
            key.threshold.t(),
            key.threshold.n(),
            key.generation,
            key.group_key,
            key.sealed_share,
            now()
        ],
    )?;
    Ok(())
}

fn pending_in(conn: &Connection, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
    key_row(
        conn,
        "SELECT scheme, party, t, n, generation, group_key, sealed_share FROM pending_keys WHERE key_id = ?1",
        key_id,
    )
}

fn key_row(conn: &Connection, sql: &str, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
    let row = conn
        .query_row(sql, params![key_id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u16>(1)?,
                r.get::<_, u16>(2)?,
                r.get::<_, u16>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, Vec<u8>>(6)?,
            ))
        })
        .optional()?;
    let Some((scheme, party, t, n, generation, group_key, sealed_share)) = row else {
        return Ok(None);
    };
    let corrupt = |e: String| StoreError::Corrupt(format!("key `{key_id}`: {e}"));
    Ok(Some(KeyRecord {
        key_id: key_id.clone(),
        scheme: scheme
            .parse()
            .map_err(|e: tessera_types::SchemeError| corrupt(e.to_string()))?,
        party: PartyId::new(party).map_err(|e| corrupt(e.to_string()))?,
        threshold: Threshold::allowing_minority(t, n).map_err(|e| corrupt(e.to_string()))?,
        generation,
        group_key,
        sealed_share,
    }))
}
