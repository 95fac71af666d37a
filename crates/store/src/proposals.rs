//! Policy change proposals, as one signer records them (schema v6).
//!
//! A proposal is a policy text an admin proposed; each admin's approval is that admin's own
//! signed request, kept whole (token, method, path, body) so that anyone can verify it again
//! later. Applying one pins it (see [`Store::pin_policy`]) with those approvals, in the same
//! transaction. Whether enough admins approved and the time lock has passed is the caller's
//! decision, under the policy in force; the store keeps the facts it needs.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::{Store, StoreError};

/// One admin's signed approval of a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalApproval {
    /// The admin.
    pub admin: String,
    /// The token's id.
    pub jti: String,
    /// The admin's token (compact JWS) over the request below.
    pub token: String,
    /// The HTTP method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The exact body, hex.
    pub body_hex: String,
    /// When this signer recorded it, Unix seconds.
    pub at: i64,
}

/// A proposed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The policy's hash.
    pub hash: [u8; 32],
    /// Its version.
    pub version: u64,
    /// Its exact text.
    pub text: String,
    /// Who proposed it.
    pub proposer: String,
    /// When, Unix seconds.
    pub proposed_at: i64,
    /// `open` or `applied`.
    pub state: String,
    /// The approvals recorded, by admin name.
    pub approvals: Vec<ProposalApproval>,
}

/// What a new proposal is.
#[derive(Debug, Clone)]
pub struct NewProposal<'a> {
    /// The policy's hash.
    pub hash: [u8; 32],
    /// Its version.
    pub version: u64,
    /// Its exact text.
    pub text: &'a str,
}

impl Store {
    /// Records `proposal` (once: the same policy again is the same proposal) with `approval`,
    /// its proposer's, and returns it.
    pub fn propose(
        &mut self,
        proposal: &NewProposal<'_>,
        approval: &ProposalApproval,
    ) -> Result<Proposal, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = i64::try_from(proposal.version).map_err(|_| {
            StoreError::Corrupt(format!("policy version {} is too large", proposal.version))
        })?;
        tx.execute(
            "INSERT INTO policy_proposals (hash, version, text, proposer, proposed_at, state)
             VALUES (?1, ?2, ?3, ?4, ?5, 'open') ON CONFLICT (hash) DO NOTHING",
            params![
                proposal.hash.as_slice(),
                version,
                proposal.text,
                approval.admin,
                approval.at
            ],
        )?;
        approve_in(&tx, &proposal.hash, approval)?;
        audit_in(
            &tx,
            self.audit.as_ref(),
            "policy_proposal",
            &proposal.hash,
            approval,
        )?;
        let p = proposal_in(&tx, &proposal.hash)?
            .ok_or_else(|| StoreError::Corrupt("the proposal vanished".into()))?;
        tx.commit()?;
        Ok(p)
    }

    /// Records an admin's approval of an open proposal. The same admin again changes nothing.
    pub fn approve_proposal(
        &mut self,
        hash: &[u8; 32],
        approval: &ProposalApproval,
    ) -> Result<Proposal, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = proposal_in(&tx, hash)?.ok_or_else(|| no_proposal(hash))?;
        if current.state != "open" {
            return Err(StoreError::RequestClosed {
                id: hex::encode(hash),
                reason: "the proposal was applied already".into(),
            });
        }
        approve_in(&tx, hash, approval)?;
        audit_in(&tx, self.audit.as_ref(), "policy_approval", hash, approval)?;
        let p = proposal_in(&tx, hash)?.ok_or_else(|| no_proposal(hash))?;
        tx.commit()?;
        Ok(p)
    }

    /// A proposal, by its policy's hash.
    pub fn proposal(&self, hash: &[u8; 32]) -> Result<Option<Proposal>, StoreError> {
        proposal_in(&self.conn, hash)
    }

    /// Pins an open proposal's policy with its approvals, and marks it applied, in one
    /// transaction. Applying it again changes nothing.
    pub fn apply_proposal(&mut self, hash: &[u8; 32], at: i64) -> Result<Proposal, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let p = proposal_in(&tx, hash)?.ok_or_else(|| no_proposal(hash))?;
        if p.state == "applied" {
            return Ok(p);
        }
        let approvals = serde_json::to_string(&p.approvals)
            .map_err(|e| StoreError::Corrupt(format!("approvals: {e}")))?;
        crate::rulings::pin_policy_in(
            &tx,
            self.audit.as_ref(),
            hash,
            p.version,
            &p.text,
            &approvals,
        )?;
        tx.execute(
            "UPDATE policy_proposals SET state = 'applied', applied_at = ?2 WHERE hash = ?1",
            params![hash.as_slice(), at],
        )?;
        let p = proposal_in(&tx, hash)?.ok_or_else(|| no_proposal(hash))?;
        tx.commit()?;
        Ok(p)
    }
}

/// A proposal or an approval, in the audit chain: the policy's hash and the admin's request.
fn audit_in(
    conn: &Connection,
    key: Option<&tessera_audit::AuditKey>,
    kind: &str,
    hash: &[u8; 32],
    a: &ProposalApproval,
) -> Result<(), StoreError> {
    let body = serde_json::json!({
        "policy_hash": hex::encode(hash),
        "admin": a.admin,
        "jti": a.jti,
        "method": a.method,
        "path": a.path,
    });
    crate::audit::append_in(conn, key, kind, &body)?;
    Ok(())
}

fn no_proposal(hash: &[u8; 32]) -> StoreError {
    StoreError::NoSuchRequest(format!("policy proposal {}", hex::encode(hash)))
}

fn approve_in(conn: &Connection, hash: &[u8; 32], a: &ProposalApproval) -> Result<(), StoreError> {
    let body = hex::decode(&a.body_hex)
        .map_err(|_| StoreError::Corrupt("an approval's body is not hex".into()))?;
    conn.execute(
        "INSERT INTO policy_approvals (hash, admin, jti, token, method, path, body, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (hash, admin) DO NOTHING",
        params![
            hash.as_slice(),
            a.admin,
            a.jti,
            a.token,
            a.method,
            a.path,
            body,
            a.at
        ],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Replay(a.jti.clone())
        }
        other => other.into(),
    })?;
    Ok(())
}

fn proposal_in(conn: &Connection, hash: &[u8; 32]) -> Result<Option<Proposal>, StoreError> {
    let row = conn
        .query_row(
            "SELECT version, text, proposer, proposed_at, state FROM policy_proposals
             WHERE hash = ?1",
            params![hash.as_slice()],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((version, text, proposer, proposed_at, state)) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT admin, jti, token, method, path, body, at FROM policy_approvals
         WHERE hash = ?1 ORDER BY admin",
    )?;
    let approvals = stmt
        .query_map(params![hash.as_slice()], |r| {
            Ok(ProposalApproval {
                admin: r.get(0)?,
                jti: r.get(1)?,
                token: r.get(2)?,
                method: r.get(3)?,
                path: r.get(4)?,
                body_hex: hex::encode(r.get::<_, Vec<u8>>(5)?),
                at: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Proposal {
        hash: *hash,
        version: u64::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("proposal version {version}")))?,
        text,
        proposer,
        proposed_at,
        state,
        approvals,
    }))
}
