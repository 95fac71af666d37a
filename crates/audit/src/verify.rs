//! Checking a chain, from the table or from an export, one entry at a time.

use std::collections::BTreeMap;
use std::io::BufRead;

use rusqlite::Connection;
use serde::Serialize;

use crate::entry::{Anchor, Entry, GENESIS, check_kind};
use crate::key::AuditPublicKey;
use crate::log::entry_from_row;

/// A chain that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// How many entries it has.
    pub entries: u64,
    /// The last entry's hash, `None` for an empty chain.
    pub head: Option<[u8; 32]>,
}

/// The first entry at which a chain fails to verify, with a stable code (`what`):
///
/// - `unparsable`: a row or line that is not an entry (wrong types or sizes, bad JSON or kind);
/// - `missing`: entry `seq` is absent and a later one is present (deleted);
/// - `out_of_order`: an entry whose position was seen already, or comes before it;
/// - `bad_prev`: its `prev` is not the previous entry's hash (moved, swapped, spliced);
/// - `hash_mismatch`: its contents do not hash to its `hash` (edited);
/// - `bad_signature`: its signature is not the node's (forged, re-signed by another key);
/// - `anchor_mismatch`: its hash differs from an anchor held for its position (rewritten);
/// - `truncated`: the chain ends before an anchor's position (entries cut off the end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct BadEntry {
    /// The position of the first bad (or first missing) entry.
    pub seq: u64,
    /// The stable code.
    pub what: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl BadEntry {
    fn new(seq: u64, what: &'static str, message: String) -> Self {
        Self { seq, what, message }
    }
}

/// Why a verification did not finish.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is not intact.
    #[error(transparent)]
    Bad(#[from] BadEntry),
    /// The chain could not be read (an SQLite or I/O error), so nothing is proven either way.
    #[error("cannot read the audit log: {0}")]
    Read(String),
}

impl VerifyError {
    /// A stable code: the [`BadEntry`] code, or `audit_unreadable`.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Bad(bad) => bad.what,
            VerifyError::Read(_) => "audit_unreadable",
        }
    }

    /// The bad entry, if the chain was read and found broken.
    pub fn bad_entry(&self) -> Option<&BadEntry> {
        match self {
            VerifyError::Bad(bad) => Some(bad),
            VerifyError::Read(_) => None,
        }
    }
}

impl From<rusqlite::Error> for VerifyError {
    fn from(e: rusqlite::Error) -> Self {
        VerifyError::Read(e.to_string())
    }
}

/// Checks a chain fed one entry at a time, in order, holding only the running head.
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    key: &'k AuditPublicKey,
    anchors: BTreeMap<u64, Vec<[u8; 32]>>,
    next: u64,
    prev: [u8; 32],
}

impl<'k> ChainVerifier<'k> {
    /// A verifier for a chain signed by `key`, which must pass through every anchor.
    pub fn new(key: &'k AuditPublicKey, anchors: &[Anchor]) -> Self {
        let mut by_seq: BTreeMap<u64, Vec<[u8; 32]>> = BTreeMap::new();
        for a in anchors {
            by_seq.entry(a.seq).or_default().push(a.hash);
        }
        Self {
            key,
            anchors: by_seq,
            next: 1,
            prev: GENESIS,
        }
    }

    /// A verifier for the part of a chain that follows `from`, a position checked before (by
    /// an earlier verification, or a trusted archive): the first entry must be `from.seq + 1`
    /// and link to `from.hash`. Anchors at or before `from` are not checked.
    pub fn resume(key: &'k AuditPublicKey, from: Anchor, anchors: &[Anchor]) -> Self {
        let mut verifier = Self::new(key, anchors);
        verifier.anchors = verifier.anchors.split_off(&from.seq.saturating_add(1));
        verifier.next = from.seq.saturating_add(1);
        verifier.prev = from.hash;
        verifier
    }

    /// The position the next entry must have.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Checks the next entry.
    pub fn push(&mut self, entry: &Entry) -> Result<(), BadEntry> {
        let seq = entry.seq;
        if seq < self.next {
            return Err(BadEntry::new(
                seq,
                "out_of_order",
                format!("entry {seq} comes where entry {} belongs", self.next),
            ));
        }
        if seq > self.next {
            return Err(BadEntry::new(
                self.next,
                "missing",
                format!("entry {} is missing (the next present is {seq})", self.next),
            ));
        }
        if check_kind(&entry.kind).is_err() {
            return Err(BadEntry::new(
                seq,
                "unparsable",
                format!("entry {seq} has an invalid kind"),
            ));
        }
        if entry.prev != self.prev {
            return Err(BadEntry::new(
                seq,
                "bad_prev",
                format!("entry {seq} does not link to the entry before it"),
            ));
        }
        if entry.compute_hash() != entry.hash {
            return Err(BadEntry::new(
                seq,
                "hash_mismatch",
                format!("entry {seq} does not match its hash: its contents were changed"),
            ));
        }
        if !entry.signature_valid(self.key) {
            return Err(BadEntry::new(
                seq,
                "bad_signature",
                format!("entry {seq} is not signed by audit key `{}`", self.key),
            ));
        }
        self.check_anchors(seq, &entry.hash)?;
        self.prev = entry.hash;
        self.next = seq.saturating_add(1);
        Ok(())
    }

    /// Ends the chain: every anchor must have been reached. `entries` counts from the start of
    /// the chain, resumed or not.
    pub fn finish(self) -> Result<Verified, BadEntry> {
        self.check_anchors(0, &GENESIS)?;
        let entries = self.next.saturating_sub(1);
        if let Some((&seq, _)) = self.anchors.range(self.next..).next() {
            return Err(BadEntry::new(
                self.next,
                "truncated",
                format!("the chain ends at entry {entries} but entry {seq} was seen before"),
            ));
        }
        Ok(Verified {
            entries,
            head: (entries > 0).then_some(self.prev),
        })
    }

    fn check_anchors(&self, seq: u64, hash: &[u8; 32]) -> Result<(), BadEntry> {
        let held = self
            .anchors
            .get(&seq)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if held.iter().any(|h| h != hash) {
            return Err(BadEntry::new(
                seq,
                "anchor_mismatch",
                format!("entry {seq} differs from the one seen before at that position"),
            ));
        }
        Ok(())
    }
}

/// Verifies the whole `audit_log` table of `conn` under `key`, streaming it in order. A chain
/// cut off at the end still verifies: use [`verify_with_anchors`] to detect that.
pub fn verify(conn: &Connection, key: &AuditPublicKey) -> Result<Verified, VerifyError> {
    verify_with_anchors(conn, key, &[])
}

/// Verifies the table as [`verify`] does, and that it passes through every anchor (from
/// receipts, or a head recorded elsewhere): a chain that ends before an anchor was truncated.
pub fn verify_with_anchors(
    conn: &Connection,
    key: &AuditPublicKey,
    anchors: &[Anchor],
) -> Result<Verified, VerifyError> {
    let mut verifier = ChainVerifier::new(key, anchors);
    let mut stmt =
        conn.prepare("SELECT seq, at, kind, body, prev, hash, sig FROM audit_log ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let entry = entry_from_row(row).map_err(|e| {
            let seq = e.seq.unwrap_or(verifier.next_seq());
            BadEntry::new(seq, "unparsable", format!("entry {seq}: {}", e.reason))
        })?;
        verifier.push(&entry)?;
    }
    Ok(verifier.finish()?)
}

/// Verifies entries given in order (for instance pages fetched from a node).
pub fn verify_entries(
    entries: impl IntoIterator<Item = Entry>,
    key: &AuditPublicKey,
    anchors: &[Anchor],
) -> Result<Verified, BadEntry> {
    let mut verifier = ChainVerifier::new(key, anchors);
    for entry in entries {
        verifier.push(&entry)?;
    }
    verifier.finish()
}

/// Verifies a JSONL export (one [`Entry`] per line, as `export_jsonl` writes it), streaming
/// it. Blank lines are skipped. Each body is hashed as the exact text on its line.
pub fn verify_jsonl(
    reader: impl BufRead,
    key: &AuditPublicKey,
    anchors: &[Anchor],
) -> Result<Verified, VerifyError> {
    let mut verifier = ChainVerifier::new(key, anchors);
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| VerifyError::Read(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(&line).map_err(|e| {
            let seq = verifier.next_seq();
            let line_no = n.saturating_add(1);
            BadEntry::new(
                seq,
                "unparsable",
                format!("line {line_no} (where entry {seq} belongs) is not an entry: {e}"),
            )
        })?;
        verifier.push(&entry)?;
    }
    Ok(verifier.finish()?)
}
