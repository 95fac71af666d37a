//! Schema versions. Each migration runs in one transaction; `PRAGMA user_version` records the
//! version reached. Old stores must keep opening: the golden store in `golden/` is v1 and is migrated.

use rusqlite::Connection;

use crate::StoreError;

/// The newest schema this build writes.
pub const VERSION: i64 = 6;

pub(crate) const V1: &str = "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE boots (
    boot       INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL
);
CREATE TABLE keys (
    key_id       TEXT PRIMARY KEY,
    scheme       TEXT NOT NULL,
    party        INTEGER NOT NULL CHECK (party BETWEEN 1 AND 65535),
    t            INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    generation   INTEGER NOT NULL CHECK (generation >= 0),
    group_key    BLOB NOT NULL,
    sealed_share BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE TABLE nonces (
    nonce_id      BLOB PRIMARY KEY CHECK (length(nonce_id) = 32),
    key_id        TEXT NOT NULL REFERENCES keys(key_id),
    generation    INTEGER NOT NULL,
    boot          INTEGER NOT NULL REFERENCES boots(boot),
    state         TEXT NOT NULL CHECK (state IN ('issued', 'consumed', 'discarded')),
    signed_digest BLOB CHECK (signed_digest IS NULL OR length(signed_digest) = 32),
    issued_at     INTEGER NOT NULL,
    consumed_at   INTEGER,
    CHECK ((state = 'consumed') = (signed_digest IS NOT NULL))
);
CREATE INDEX nonces_issued ON nonces (key_id, state);
";

/// v2: key generation and refresh finish in two phases. A party's result waits here, unable
/// to sign, until the coordinator has seen every party finish with the same group key.
pub(crate) const V2: &str = "
CREATE TABLE pending_keys (
    key_id       TEXT PRIMARY KEY,
    scheme       TEXT NOT NULL,
    party        INTEGER NOT NULL CHECK (party BETWEEN 1 AND 65535),
    t            INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    generation   INTEGER NOT NULL CHECK (generation >= 0),
    group_key    BLOB NOT NULL,
    sealed_share BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
";

/// v3: the client requests this signer has verified and registered. A request is registered
/// while its token is fresh and is the only thing a later key generation or signature share can
/// be for; `(client, jti)` is unique, so a token is never accepted twice.
pub(crate) const V3: &str = "
CREATE TABLE requests (
    request_id    TEXT PRIMARY KEY,
    client        TEXT NOT NULL,
    jti           TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('create_wallet', 'sign')),
    key_id        TEXT NOT NULL,
    scheme        TEXT,
    message       BLOB,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    body          BLOB NOT NULL,
    token         TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    registered_at INTEGER NOT NULL,
    rounds        INTEGER NOT NULL DEFAULT 0 CHECK (rounds >= 0),
    signature     BLOB,
    completed_at  INTEGER,
    UNIQUE (client, jti),
    CHECK ((signature IS NULL) = (completed_at IS NULL))
);
";

/// v4: Ethereum. Requests gain the kinds `transfer` and `add_asset` (which names no wallet, so
/// `key_id` may be NULL); the table is rebuilt because SQLite cannot change a CHECK in place.
/// `assets` is the token registry this signer accepted from admins' signed requests (ETH is
/// built in and never stored). `eth_txs` binds every unsigned transaction this signer agreed to
/// sign to the transfer request it is for: all of a request's transactions share one nonce.
const V4: &str = "
CREATE TABLE requests_v4 (
    request_id    TEXT PRIMARY KEY,
    client        TEXT NOT NULL,
    jti           TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('create_wallet', 'sign', 'transfer', 'add_asset')),
    key_id        TEXT CHECK ((key_id IS NULL) = (kind = 'add_asset')),
    scheme        TEXT,
    message       BLOB,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    body          BLOB NOT NULL,
    token         TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    registered_at INTEGER NOT NULL,
    rounds        INTEGER NOT NULL DEFAULT 0 CHECK (rounds >= 0),
    signature     BLOB,
    completed_at  INTEGER,
    UNIQUE (client, jti),
    CHECK ((signature IS NULL) = (completed_at IS NULL))
);
INSERT INTO requests_v4 SELECT * FROM requests;
DROP TABLE requests;
ALTER TABLE requests_v4 RENAME TO requests;
CREATE TABLE assets (
    chain      TEXT NOT NULL,
    symbol     TEXT NOT NULL,
    contract   TEXT NOT NULL,
    decimals   INTEGER NOT NULL CHECK (decimals BETWEEN 0 AND 77),
    request_id TEXT NOT NULL REFERENCES requests(request_id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (chain, symbol),
    UNIQUE (chain, contract)
);
CREATE TABLE eth_txs (
    signing_hash BLOB PRIMARY KEY CHECK (length(signing_hash) = 32),
    request_id   TEXT NOT NULL REFERENCES requests(request_id),
    key_id       TEXT NOT NULL,
    nonce        INTEGER NOT NULL CHECK (nonce >= 0),
    max_fee      TEXT NOT NULL,
    priority_fee TEXT NOT NULL,
    unsigned_tx  BLOB NOT NULL,
    signature    BLOB,
    created_at   INTEGER NOT NULL
);
CREATE INDEX eth_txs_request ON eth_txs (request_id);
";

/// v5: policy. Every request carries the ruling this signer made on it when it registered it
/// (`allow`, `deny`, `pending_approval`, `rejected`), with the reason and the hash of the policy
/// it applied. `spend` holds what each request that was not denied counts against the limits
/// (velocity and rate), written in the same transaction as its registration. `approvals` holds
/// the approvers' signed verdicts; `policies` every policy this signer has enforced, the highest
/// version being the one in force.
const V5: &str = "
ALTER TABLE requests ADD COLUMN decision TEXT NOT NULL DEFAULT 'allow'
    CHECK (decision IN ('allow', 'deny', 'pending_approval', 'rejected'));
ALTER TABLE requests ADD COLUMN decision_reason TEXT;
ALTER TABLE requests ADD COLUMN policy_hash BLOB CHECK (policy_hash IS NULL OR length(policy_hash) = 32);
ALTER TABLE requests ADD COLUMN approval_group TEXT;
ALTER TABLE requests ADD COLUMN approvals_needed INTEGER NOT NULL DEFAULT 0
    CHECK (approvals_needed >= 0);
CREATE TABLE approvals (
    request_id TEXT NOT NULL REFERENCES requests(request_id),
    approver   TEXT NOT NULL,
    verdict    TEXT NOT NULL CHECK (verdict IN ('approve', 'reject')),
    jti        TEXT NOT NULL,
    token      TEXT NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    body       BLOB NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver),
    UNIQUE (approver, jti)
);
CREATE TABLE policies (
    hash      BLOB PRIMARY KEY CHECK (length(hash) = 32),
    version   INTEGER NOT NULL UNIQUE CHECK (version >= 1),
    text      TEXT NOT NULL,
    approvals TEXT NOT NULL,
    pinned_at INTEGER NOT NULL
);
";

/// v6: circuit breakers, risk and the audit log. `breakers` holds the state of the deployment's
/// breaker (scope `deployment`) and of each wallet's (scope `wallet:<id>`); `breaker_events` every
/// trip, reset vote, reset and risk change, with who asked (an admin's signed request is unique
/// by `(source, jti)`, so none is counted twice); `risk` the level set by hand or by a signal;
/// `hot_balances` the wallets' balances last reported by the coordinator, against which the
/// outflow share is measured; `policy_proposals` the policies admins proposed, each with the
/// admins' signed approvals in `policy_approvals` (one per admin), until one is applied. The
/// audit log (`audit_log`) is the hash chain of ADR 0013.
const V6: &str = "
CREATE TABLE breakers (
    scope      TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('closed', 'tripped')),
    reason     TEXT NOT NULL,
    source       TEXT NOT NULL,
    changed_at   INTEGER NOT NULL,
    spend_mark   INTEGER NOT NULL DEFAULT 0,
    request_mark INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE breaker_events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    scope  TEXT NOT NULL,
    event  TEXT NOT NULL CHECK (event IN ('trip', 'reset_vote', 'reset', 'risk')),
    source TEXT NOT NULL,
    jti    TEXT,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL,
    UNIQUE (source, jti)
);
CREATE TABLE risk (
    only   INTEGER PRIMARY KEY CHECK (only = 1),
    level  TEXT NOT NULL CHECK (level IN ('normal', 'elevated', 'critical')),
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE TABLE policy_proposals (
    hash        BLOB PRIMARY KEY CHECK (length(hash) = 32),
    version     INTEGER NOT NULL CHECK (version >= 1),
    text        TEXT NOT NULL,
    proposer    TEXT NOT NULL,
    proposed_at INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('open', 'applied')),
    applied_at  INTEGER
);
CREATE TABLE policy_approvals (
    hash   BLOB NOT NULL REFERENCES policy_proposals(hash),
    admin  TEXT NOT NULL,
    jti    TEXT NOT NULL,
    token  TEXT NOT NULL,
    method TEXT NOT NULL,
    path   TEXT NOT NULL,
    body   BLOB NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (hash, admin),
    UNIQUE (admin, jti)
);
CREATE INDEX requests_denials ON requests (decision, registered_at);
CREATE INDEX requests_wallet_denials ON requests (key_id, decision, registered_at);
CREATE TABLE hot_balances (
    wallet     TEXT NOT NULL,
    asset      TEXT NOT NULL,
    base_units TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (wallet, asset)
);
";

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: VERSION,
        });
    }
    let steps: [(i64, &[&str]); 6] = [
        (1, &[V1]),
        (2, &[V2]),
        (3, &[V3]),
        (4, &[V4]),
        (5, &[V5, crate::spend::SCHEMA]),
        (6, &[V6, tessera_audit::SCHEMA]),
    ];
    for (version, ddl) in steps {
        if found < version {
            let tx = conn.transaction()?;
            for batch in ddl {
                tx.execute_batch(batch)?;
            }
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
        }
    }
    Ok(())
}
