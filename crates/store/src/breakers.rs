//! Circuit breakers, the risk level and the hot balances they are measured against, as one
//! signer keeps them (schema v6).
//!
//! A breaker has a scope: the deployment ([`DEPLOYMENT`]) or one wallet ([`wallet_scope`]). It is
//! `closed` until something trips it, and stays `tripped`, across restarts, until a quorum of
//! distinct admins has asked for a reset since it last tripped. Every trip, reset vote, reset and
//! risk change is kept in `breaker_events`; an admin's signed request is recorded with its token
//! id and is unique by `(source, jti)`, so a replayed token is refused and never counts twice.
//!
//! The `*_in` functions take a bare [`Connection`] so that the registration's transaction can
//! read and trip breakers together with the ruling it writes.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{Store, StoreError};

/// Every denial by a tripped breaker has a reason that starts with this: such denials are the
/// breaker's own effect, and [`denials_in`] does not count them as a burst.
pub const BREAKER_DENIAL: &str = "circuit breaker";

/// The scope of the deployment's breaker.
pub const DEPLOYMENT: &str = "deployment";

/// The scope of one wallet's breaker.
pub fn wallet_scope(wallet: &str) -> String {
    format!("wallet:{wallet}")
}

/// Whether a breaker lets outflows through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Outflows go on under the policy.
    Closed,
    /// Every outflow is refused except sweeps to cold storage.
    Tripped,
}

impl BreakerState {
    /// `closed` or `tripped`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Tripped => "tripped",
        }
    }
}

/// One breaker as this signer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    /// [`DEPLOYMENT`] or `wallet:<id>`.
    pub scope: String,
    /// Closed or tripped.
    pub state: BreakerState,
    /// Why it tripped, or who reset it; empty for a breaker that never moved.
    pub reason: String,
    /// Who moved it last: an admin's name, `coordinator`, or `auto`.
    pub source: String,
    /// When it last changed state, Unix seconds (0 for never).
    pub changed_at: i64,
    /// The distinct admins who asked for a reset since it tripped, sorted.
    pub reset_votes: Vec<String>,
    /// Where the `spend` and `requests` tables ended when it last changed state: bursts count
    /// only what came after (by row, not by second, so nothing from before a reset counts).
    pub marks: Marks,
}

/// Row positions in `spend` and `requests` when a breaker last changed state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// The last `spend` row then.
    pub spend: i64,
    /// The last `requests` row then.
    pub requests: i64,
}

impl Breaker {
    fn never_moved(scope: &str) -> Breaker {
        Breaker {
            scope: scope.to_owned(),
            state: BreakerState::Closed,
            reason: String::new(),
            source: String::new(),
            changed_at: 0,
            reset_votes: Vec::new(),
            marks: Marks::default(),
        }
    }
}

/// The risk level set by hand (an admin) or by a signal (a feed, the coordinator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskRecord {
    /// `normal`, `elevated` or `critical`.
    pub level: String,
    /// Who set it; empty when nobody has.
    pub source: String,
    /// Why.
    pub reason: String,
    /// When, Unix seconds (0 for never).
    pub at: i64,
}

/// Who asks for a breaker or risk change, and with which signed request.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// An admin's name, `coordinator` or `auto`.
    pub source: &'a str,
    /// The id of the admin's signed token, when the change comes from one.
    pub jti: Option<&'a str>,
    /// When, Unix seconds.
    pub at: i64,
}

/// The breaker of `scope`, closed when it never moved.
pub fn breaker_in(conn: &Connection, scope: &str) -> Result<Breaker, StoreError> {
    let row = conn
        .query_row(
            "SELECT state, reason, source, changed_at, spend_mark, request_mark FROM breakers
             WHERE scope = ?1",
            params![scope],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    Marks {
                        spend: r.get(4)?,
                        requests: r.get(5)?,
                    },
                ))
            },
        )
        .optional()?;
    let Some((state, reason, source, changed_at, marks)) = row else {
        return Ok(Breaker::never_moved(scope));
    };
    let state = match state.as_str() {
        "closed" => BreakerState::Closed,
        "tripped" => BreakerState::Tripped,
        other => return Err(StoreError::Corrupt(format!("breaker state `{other}`"))),
    };
    let reset_votes = if state == BreakerState::Tripped {
        reset_votes_in(conn, scope)?
    } else {
        Vec::new()
    };
    Ok(Breaker {
        scope: scope.to_owned(),
        state,
        reason,
        source,
        changed_at,
        reset_votes,
        marks,
    })
}

/// Trips the breaker of `scope`. A breaker already tripped keeps its first reason; the trip is
/// recorded all the same. An admin's token used twice is refused ([`StoreError::Replay`]).
pub fn trip_in(
    conn: &Connection,
    scope: &str,
    asker: Asker<'_>,
    reason: &str,
) -> Result<Breaker, StoreError> {
    event(conn, scope, "trip", asker, reason)?;
    let current = breaker_in(conn, scope)?;
    if current.state == BreakerState::Closed {
        set_state(conn, scope, BreakerState::Tripped, reason, asker)?;
    }
    breaker_in(conn, scope)
}

/// Records `asker`'s request to reset the breaker of `scope`, and closes the breaker once
/// `quorum` distinct askers have asked since it last tripped. A closed breaker stays closed and
/// records nothing.
pub fn vote_reset_in(
    conn: &Connection,
    scope: &str,
    asker: Asker<'_>,
    quorum: u32,
) -> Result<Breaker, StoreError> {
    let current = breaker_in(conn, scope)?;
    if current.state == BreakerState::Closed {
        return Ok(current);
    }
    event(conn, scope, "reset_vote", asker, "reset asked")?;
    let votes = reset_votes_in(conn, scope)?;
    if u32::try_from(votes.len()).unwrap_or(u32::MAX) >= quorum {
        let reason = format!("reset by {}", votes.join(", "));
        event(conn, scope, "reset", Asker { jti: None, ..asker }, &reason)?;
        set_state(conn, scope, BreakerState::Closed, &reason, asker)?;
    }
    breaker_in(conn, scope)
}

/// The distinct askers of a reset since the breaker of `scope` last tripped.
fn reset_votes_in(conn: &Connection, scope: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT source FROM breaker_events
         WHERE scope = ?1 AND event = 'reset_vote' AND seq > coalesce(
             (SELECT max(seq) FROM breaker_events
              WHERE scope = ?1 AND event = 'reset'), 0)
         ORDER BY source",
    )?;
    let votes = stmt
        .query_map(params![scope], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(votes)
}

fn set_state(
    conn: &Connection,
    scope: &str,
    state: BreakerState,
    reason: &str,
    asker: Asker<'_>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO breakers (scope, state, reason, source, changed_at, spend_mark, request_mark)
         VALUES (?1, ?2, ?3, ?4, ?5,
                 (SELECT coalesce(max(rowid), 0) FROM spend),
                 (SELECT coalesce(max(rowid), 0) FROM requests))
         ON CONFLICT (scope) DO UPDATE SET state = ?2, reason = ?3, source = ?4, changed_at = ?5,
             spend_mark = excluded.spend_mark, request_mark = excluded.request_mark",
        params![scope, state.as_str(), reason, asker.source, asker.at],
    )?;
    Ok(())
}

fn event(
    conn: &Connection,
    scope: &str,
    event: &str,
    asker: Asker<'_>,
    reason: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO breaker_events (scope, event, source, jti, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![scope, event, asker.source, asker.jti, reason, asker.at],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Replay(asker.jti.unwrap_or_default().to_owned())
        }
        other => other.into(),
    })?;
    Ok(())
}

/// The sequence number of the last breaker event (0 for none).
pub(crate) fn last_event_in(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM breaker_events",
        [],
        |r| r.get(0),
    )?)
}

/// Appends every breaker event after `after` to the audit chain (kind `breaker`), inside the
/// transaction that recorded them.
pub(crate) fn audit_events_in(
    conn: &Connection,
    key: Option<&tessera_audit::AuditKey>,
    after: i64,
) -> Result<(), StoreError> {
    if key.is_none() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT seq, scope, event, source, jti, reason, at FROM breaker_events
         WHERE seq > ?1 ORDER BY seq",
    )?;
    let events = stmt
        .query_map(params![after], |r| {
            Ok(serde_json::json!({
                "event_seq": r.get::<_, i64>(0)?,
                "scope": r.get::<_, String>(1)?,
                "event": r.get::<_, String>(2)?,
                "source": r.get::<_, String>(3)?,
                "jti": r.get::<_, Option<String>>(4)?,
                "reason": r.get::<_, String>(5)?,
                "at": r.get::<_, i64>(6)?,
            }))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for body in &events {
        crate::audit::append_in(conn, key, "breaker", body)?;
    }
    Ok(())
}

/// The risk level in force, `normal` when nobody has set one.
pub fn risk_in(conn: &Connection) -> Result<RiskRecord, StoreError> {
    Ok(conn
        .query_row(
            "SELECT level, source, reason, at FROM risk WHERE only = 1",
            [],
            |r| {
                Ok(RiskRecord {
                    level: r.get(0)?,
                    source: r.get(1)?,
                    reason: r.get(2)?,
                    at: r.get(3)?,
                })
            },
        )
        .optional()?
        .unwrap_or_else(|| RiskRecord {
            level: "normal".to_owned(),
            source: String::new(),
            reason: String::new(),
            at: 0,
        }))
}

/// Sets the risk level (`normal`, `elevated` or `critical`; the table refuses others).
pub fn set_risk_in(
    conn: &Connection,
    level: &str,
    asker: Asker<'_>,
    reason: &str,
) -> Result<RiskRecord, StoreError> {
    event(
        conn,
        DEPLOYMENT,
        "risk",
        asker,
        &format!("{level}: {reason}"),
    )?;
    conn.execute(
        "INSERT INTO risk (only, level, source, reason, at) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (only) DO UPDATE SET level = ?1, source = ?2, reason = ?3, at = ?4",
        params![level, asker.source, reason, asker.at],
    )?;
    risk_in(conn)
}

/// Denied requests registered at or after `since` and after row `after` of `requests`, of
/// `wallet` or of every wallet, leaving out the denials of tripped breakers.
pub fn denials_in(
    conn: &Connection,
    wallet: Option<&str>,
    since: i64,
    after: i64,
) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM requests
         WHERE decision = 'deny' AND registered_at >= ?2 AND rowid > ?4
           AND (?1 IS NULL OR key_id = ?1)
           AND substr(coalesce(decision_reason, ''), 1, length(?3)) <> ?3",
        params![wallet, since, BREAKER_DENIAL, after],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The destinations `wallet` first paid (a request that counts against the limits) at or after
/// `since` and after row `after` of `spend`.
pub fn new_destinations_in(
    conn: &Connection,
    wallet: &str,
    since: i64,
    after: i64,
) -> Result<u64, StoreError> {
    // Only the window's rows are scanned (`spend_by_wallet`); each destination in it is looked
    // up for an earlier payment (`spend_by_destination`).
    let n: i64 = conn.query_row(
        "SELECT count(DISTINCT s.destination) FROM spend s
         WHERE s.wallet = ?1 AND s.at >= ?2 AND s.rowid > ?3 AND s.destination IS NOT NULL
           AND NOT EXISTS (
               SELECT 1 FROM spend p
               WHERE p.destination = s.destination AND p.wallet = s.wallet
                 AND (p.at < ?2 OR p.rowid <= ?3))",
        params![wallet, since, after],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The amounts (base units, decimal) of `asset` that `wallet` sent at or after `since` and after
/// row `after` of `spend`.
pub fn outflow_in(
    conn: &Connection,
    wallet: &str,
    asset: &str,
    since: i64,
    after: i64,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT amount FROM spend
         WHERE wallet = ?1 AND asset = ?2 AND at >= ?3 AND rowid > ?4 AND amount IS NOT NULL",
    )?;
    let rows = stmt
        .query_map(params![wallet, asset, since, after], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Whether `wallet` has paid `destination` before (a request that counts against the limits).
pub fn known_destination_in(
    conn: &Connection,
    wallet: &str,
    destination: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM spend WHERE wallet = ?1 AND destination = ?2 LIMIT 1",
            params![wallet, destination],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The most transactions Tessera can have signed for `wallet`, as this signer knows: every
/// allowed transaction request (a transfer, or a JSON-RPC transaction; each signs at most one
/// nonce, however often its fees are bumped), and at least one past the highest nonce this
/// signer agreed to sign. A wallet whose account nonce on chain passes it sent something
/// Tessera never signed. A signer that missed registrations while it was down counts fewer,
/// and trips on its own: a false alarm, on the safe side.
pub fn signable_txs_in(conn: &Connection, wallet: &str) -> Result<u64, StoreError> {
    let (allowed, max_nonce): (i64, Option<i64>) = conn.query_row(
        "SELECT (SELECT count(*) FROM requests
                 WHERE key_id = ?1 AND kind = 'transfer' AND decision = 'allow'),
                (SELECT max(nonce) FROM eth_txs WHERE key_id = ?1)",
        params![wallet],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let past_max = max_nonce
        .and_then(|n| u64::try_from(n).ok())
        .map_or(0, |n| n.saturating_add(1));
    Ok(u64::try_from(allowed).unwrap_or(0).max(past_max))
}

/// The hot balance of `wallet` in `asset` (base units, decimal) last reported, if any.
pub fn hot_balance_in(
    conn: &Connection,
    wallet: &str,
    asset: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT base_units FROM hot_balances WHERE wallet = ?1 AND asset = ?2",
            params![wallet, asset],
            |r| r.get(0),
        )
        .optional()?)
}

impl Store {
    /// The breaker of `scope`.
    pub fn breaker(&self, scope: &str) -> Result<Breaker, StoreError> {
        breaker_in(&self.conn, scope)
    }

    /// Every breaker that ever moved, the deployment's first, then wallets by scope.
    pub fn breakers(&self) -> Result<Vec<Breaker>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT scope FROM breakers ORDER BY scope <> 'deployment', scope")?;
        let scopes = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        scopes.iter().map(|s| breaker_in(&self.conn, s)).collect()
    }

    /// Trips the breaker of `scope` in its own transaction.
    pub fn trip(
        &mut self,
        scope: &str,
        asker: Asker<'_>,
        reason: &str,
    ) -> Result<Breaker, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = last_event_in(&tx)?;
        let b = trip_in(&tx, scope, asker, reason)?;
        audit_events_in(&tx, self.audit.as_ref(), before)?;
        tx.commit()?;
        Ok(b)
    }

    /// Records a reset vote in its own transaction; see [`vote_reset_in`].
    pub fn vote_reset(
        &mut self,
        scope: &str,
        asker: Asker<'_>,
        quorum: u32,
    ) -> Result<Breaker, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = last_event_in(&tx)?;
        let b = vote_reset_in(&tx, scope, asker, quorum)?;
        audit_events_in(&tx, self.audit.as_ref(), before)?;
        tx.commit()?;
        Ok(b)
    }

    /// The risk level in force.
    pub fn risk(&self) -> Result<RiskRecord, StoreError> {
        risk_in(&self.conn)
    }

    /// Sets the risk level in its own transaction.
    pub fn set_risk(
        &mut self,
        level: &str,
        asker: Asker<'_>,
        reason: &str,
    ) -> Result<RiskRecord, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = last_event_in(&tx)?;
        let r = set_risk_in(&tx, level, asker, reason)?;
        audit_events_in(&tx, self.audit.as_ref(), before)?;
        tx.commit()?;
        Ok(r)
    }

    /// See [`signable_txs_in`].
    pub fn signable_txs(&self, wallet: &str) -> Result<u64, StoreError> {
        signable_txs_in(&self.conn, wallet)
    }

    /// Records the hot balance of `wallet` in `asset` (base units, decimal digits).
    pub fn set_hot_balance(
        &mut self,
        wallet: &str,
        asset: &str,
        base_units: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        if base_units.is_empty() || !base_units.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Corrupt(format!(
                "hot balance `{base_units}` is not whole base units"
            )));
        }
        self.conn.execute(
            "INSERT INTO hot_balances (wallet, asset, base_units, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (wallet, asset) DO UPDATE SET base_units = ?3, at = ?4",
            params![wallet, asset, base_units, at],
        )?;
        Ok(())
    }
}
