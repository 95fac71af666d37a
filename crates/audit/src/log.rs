//! The `audit_log` table: appending in the caller's transaction, reading, exporting.

use std::io::Write;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::entry::{Body, Entry, GENESIS};
use crate::error::AuditError;
use crate::key::AuditKey;

/// The table, as [`create_table`] creates it. `seq` starts at 1 and has no gaps.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL,
    sig BLOB NOT NULL
)";

/// The most entries [`page`] returns at once.
pub const MAX_PAGE: u32 = 1000;

const COLUMNS: &str = "seq, at, kind, body, prev, hash, sig";

/// Creates the `audit_log` table if it does not exist.
pub fn create_table(conn: &Connection) -> Result<(), AuditError> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// Appends an entry recording `kind` and `body` at time `at`, signed with `key`, and returns
/// it.
///
/// `conn` must be inside a transaction (a `rusqlite::Transaction` derefs to a `Connection`), so
/// that the entry commits with what it records or not at all; outside one this fails with
/// [`AuditError::NotInTransaction`]. Open it with `TransactionBehavior::Immediate`: the head is
/// read and the entry written in that transaction, and only a write lock held from the start
/// makes concurrent appenders wait for one another. (Under a deferred transaction a racing
/// appender makes one of the two fail with a busy or constraint error; the chain stays whole.)
pub fn append(
    conn: &Connection,
    key: &AuditKey,
    at: i64,
    kind: &str,
    body: &serde_json::Value,
) -> Result<Entry, AuditError> {
    if conn.is_autocommit() {
        return Err(AuditError::NotInTransaction);
    }
    let body = Body::from_value(body)?;
    let (seq, prev) = match head(conn)? {
        Some((seq, hash)) => (seq.checked_add(1).ok_or(AuditError::Full)?, hash),
        None => (1, GENESIS),
    };
    let seq_column = i64::try_from(seq).map_err(|_| AuditError::Full)?;
    let entry = Entry::sign(key, seq, at, kind, body, prev)?;
    conn.execute(
        "INSERT INTO audit_log (seq, at, kind, body, prev, hash, sig)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            seq_column,
            entry.at,
            entry.kind,
            entry.body.as_str(),
            entry.prev.as_slice(),
            entry.hash.as_slice(),
            entry.sig.as_slice(),
        ],
    )?;
    Ok(entry)
}

/// The last entry's position and hash, or `None` for an empty log.
pub fn head(conn: &Connection) -> Result<Option<(u64, [u8; 32])>, AuditError> {
    let row = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    let Some((seq, hash)) = row else {
        return Ok(None);
    };
    let seq = u64::try_from(seq).map_err(|_| AuditError::Corrupt {
        seq: 0,
        reason: format!("negative sequence number {seq}"),
    })?;
    let hash = <[u8; 32]>::try_from(hash).map_err(|h| AuditError::Corrupt {
        seq,
        reason: format!("hash of {} bytes", h.len()),
    })?;
    Ok(Some((seq, hash)))
}

/// Up to `limit` entries (at most [`MAX_PAGE`]) after position `after_seq`, in order. Entries
/// are parsed, not verified.
pub fn page(conn: &Connection, after_seq: u64, limit: u32) -> Result<Vec<Entry>, AuditError> {
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = limit.min(MAX_PAGE);
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let mut rows = stmt.query(params![after, limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(entry_from_row(row).map_err(RowError::into_corrupt)?);
    }
    Ok(out)
}

/// Writes every entry as one line of JSON (an [`Entry`]), in order, and returns how many. The
/// entries come from one read snapshot and are streamed, not loaded together. The export is not
/// verified: `verify_jsonl` does that.
pub fn export_jsonl(conn: &Connection, mut writer: impl Write) -> Result<u64, AuditError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        let entry = entry_from_row(row).map_err(RowError::into_corrupt)?;
        serde_json::to_writer(&mut writer, &entry).map_err(|e| AuditError::Io(e.to_string()))?;
        writer
            .write_all(b"\n")
            .map_err(|e| AuditError::Io(e.to_string()))?;
        count = count.saturating_add(1);
    }
    writer.flush().map_err(|e| AuditError::Io(e.to_string()))?;
    Ok(count)
}

/// A stored row that does not parse: its `seq` when that much was readable, and why.
#[derive(Debug)]
pub(crate) struct RowError {
    pub(crate) seq: Option<u64>,
    pub(crate) reason: String,
}

impl RowError {
    fn into_corrupt(self) -> AuditError {
        AuditError::Corrupt {
            seq: self.seq.unwrap_or(0),
            reason: self.reason,
        }
    }
}

/// Parses a row selected as [`COLUMNS`]. Any type or size that `append` never writes is an
/// error.
pub(crate) fn entry_from_row(row: &Row<'_>) -> Result<Entry, RowError> {
    let seq = row
        .get::<_, i64>(0)
        .ok()
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0);
    let Some(seq) = seq else {
        return Err(RowError {
            seq: None,
            reason: "sequence number is not a positive integer".into(),
        });
    };
    let fail = |reason: String| RowError {
        seq: Some(seq),
        reason,
    };
    let column = |name: &'static str| {
        move |e: rusqlite::Error| RowError {
            seq: Some(seq),
            reason: format!("column `{name}`: {e}"),
        }
    };
    let at = row.get::<_, i64>(1).map_err(column("at"))?;
    let kind = row.get::<_, String>(2).map_err(column("kind"))?;
    crate::entry::check_kind(&kind).map_err(|e| fail(e.to_string()))?;
    let body = row.get::<_, String>(3).map_err(column("body"))?;
    let body = Body::from_text(body).map_err(fail)?;
    let prev = blob::<32>(row, 4, "prev").map_err(fail)?;
    let hash = blob::<32>(row, 5, "hash").map_err(fail)?;
    let sig = blob::<64>(row, 6, "sig").map_err(fail)?;
    Ok(Entry {
        seq,
        at,
        kind,
        body,
        prev,
        hash,
        sig,
    })
}

fn blob<const N: usize>(row: &Row<'_>, i: usize, name: &str) -> Result<[u8; N], String> {
    let bytes = row
        .get::<_, Vec<u8>>(i)
        .map_err(|e| format!("column `{name}`: {e}"))?;
    <[u8; N]>::try_from(bytes)
        .map_err(|b| format!("column `{name}` has {} bytes, not {N}", b.len()))
}
