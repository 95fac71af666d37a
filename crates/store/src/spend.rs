//! What requests count against the policy's limits: one row per request that was not denied,
//! written in the same transaction as the request itself, so a request counts once and exactly.
//!
//! The functions take a bare [`Connection`] so that the coordinator's store keeps the same table
//! for its pre-check. Amounts are whole base units in decimal text: SQLite's integers stop at
//! 2^63, below a few ETH in wei, so sums are made by the caller in 256 bits.

use rusqlite::{Connection, params};

use crate::StoreError;

/// The `spend` table and its indexes (idempotent).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spend (
    request_id  TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    client      TEXT NOT NULL,
    wallet      TEXT NOT NULL,
    destination TEXT,
    asset       TEXT,
    amount      TEXT CHECK (amount IS NULL OR (amount <> '' AND amount NOT GLOB '*[^0-9]*'))
);
CREATE INDEX IF NOT EXISTS spend_by_wallet ON spend (wallet, at);
CREATE INDEX IF NOT EXISTS spend_by_client ON spend (client, at);
CREATE INDEX IF NOT EXISTS spend_by_destination ON spend (destination, at);
";

/// What one request counts against the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendFacts {
    /// The request.
    pub request_id: String,
    /// When it was registered, Unix seconds.
    pub at: i64,
    /// The client that made it.
    pub client: String,
    /// The wallet it spends from.
    pub wallet: String,
    /// The recipient, lower case, when it has one.
    pub destination: Option<String>,
    /// The asset's symbol, when it moves one.
    pub asset: Option<String>,
    /// The amount in base units, decimal digits, when it moves one.
    pub amount: Option<String>,
}

/// Which column a limit groups requests by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendScope {
    /// The wallet spent from.
    Wallet,
    /// The client that asked.
    Client,
    /// The recipient.
    Destination,
}

impl SpendScope {
    fn column(self) -> &'static str {
        match self {
            SpendScope::Wallet => "wallet",
            SpendScope::Client => "client",
            SpendScope::Destination => "destination",
        }
    }
}

/// The requests of one scope value in a window: their amounts (base units, decimal) and count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendRows {
    /// The amounts of the requests that moved the asset asked about.
    pub amounts: Vec<String>,
    /// How many requests there were.
    pub requests: u64,
}

/// Records what `facts.request_id` counts against the limits. A second record for the same
/// request is refused by the primary key: a request counts once.
pub fn record(conn: &Connection, facts: &SpendFacts) -> Result<(), StoreError> {
    if facts
        .amount
        .as_deref()
        .is_some_and(|a| a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(StoreError::Corrupt(format!(
            "spend amount `{}` is not whole base units",
            facts.amount.as_deref().unwrap_or_default()
        )));
    }
    conn.execute(
        "INSERT INTO spend (request_id, at, client, wallet, destination, asset, amount)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            facts.request_id,
            facts.at,
            facts.client,
            facts.wallet,
            facts.destination,
            facts.asset,
            facts.amount
        ],
    )?;
    Ok(())
}

/// Stops counting a request (an approver rejected it).
pub fn forget(conn: &Connection, request_id: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM spend WHERE request_id = ?1",
        params![request_id],
    )?;
    Ok(())
}

/// The requests whose `scope` is `value` registered after `since` (exclusive), of `asset` when
/// given, or of every asset and none when not.
pub fn rows(
    conn: &Connection,
    scope: SpendScope,
    value: &str,
    asset: Option<&str>,
    since: i64,
) -> Result<SpendRows, StoreError> {
    let column = scope.column();
    let sql = format!(
        "SELECT amount FROM spend WHERE {column} = ?1 AND at > ?2 AND (?3 IS NULL OR asset = ?3)"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out = SpendRows::default();
    let mut found = stmt.query(params![value, since, asset])?;
    while let Some(row) = found.next()? {
        out.requests = out.requests.saturating_add(1);
        if let Some(amount) = row.get::<_, Option<String>>(0)? {
            out.amounts.push(amount);
        }
    }
    Ok(out)
}
