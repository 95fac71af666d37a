//! A signer's embedded store (SQLite): its sealed key shares and its nonce ledger.
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

mod schema;

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
    /// A stored value that does not parse.
    #[error("corrupt record in store: {0}")]
    Corrupt(String),
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
            StoreError::Corrupt(_) => "store_corrupt",
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
        let mut store = Self { conn, boot: None };
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
        tx.execute(
            "INSERT INTO keys (key_id, scheme, party, t, n, generation, group_key, sealed_share, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
        tx.execute(
            "INSERT INTO pending_keys (key_id, scheme, party, t, n, generation, group_key, sealed_share, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
        let changed = tx.execute(
            "UPDATE nonces SET state = 'consumed', signed_digest = ?5, consumed_at = ?6
             WHERE nonce_id = ?1 AND key_id = ?2 AND generation = ?3 AND boot = ?4 AND state = 'issued'",
            params![&nonce_id[..], key_id.as_str(), generation, boot, &signed_digest[..], now()],
        )?;
        if changed != 1 {
            let reason = match Self::nonce_in(&tx, nonce_id)? {
                None => "never issued by this signer".to_owned(),
                Some(r) if r.state != NonceState::Issued => format!("already {}", r.state.as_str()),
                Some(r) if r.boot != boot => "issued before the last restart".to_owned(),
                Some(r) if r.key_id != *key_id || r.generation != generation => {
                    "issued for another key or key generation".to_owned()
                }
                Some(_) => "state changed concurrently".to_owned(),
            };
            return Err(StoreError::NonceUnavailable {
                id: hex(nonce_id),
                reason,
            });
        }
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

    fn require_boot(&self) -> Result<i64, StoreError> {
        self.boot
            .ok_or_else(|| StoreError::Corrupt("no boot started on this store handle".into()))
    }
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

#[cfg(test)]
mod tests;
