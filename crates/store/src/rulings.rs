//! What a signer decided about each request under its policy, the approvers' verdicts that
//! change it, and the policies it has enforced.
//!
//! A request is ruled once, when it is registered ([`Store::register_request_with`]): `allow`,
//! `deny`, or `pending_approval`. Approvals move a pending request to `allow` once enough are
//! in, and one rejection moves it to `rejected`; no other change is possible, and only an
//! `allow`ed request opens signing rounds.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::requests::request_in;
use crate::{Store, StoreError, now};

/// The state of a request under the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// May be signed.
    Allow,
    /// Refused by a rule or a limit; never signed.
    Deny,
    /// Waits for approvals.
    PendingApproval,
    /// An approver rejected it; never signed.
    Rejected,
}

impl Decision {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::PendingApproval => "pending_approval",
            Decision::Rejected => "rejected",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "allow" => Ok(Decision::Allow),
            "deny" => Ok(Decision::Deny),
            "pending_approval" => Ok(Decision::PendingApproval),
            "rejected" => Ok(Decision::Rejected),
            other => Err(StoreError::Corrupt(format!("decision `{other}`"))),
        }
    }
}

/// A request's ruling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruling {
    /// Where it stands.
    pub decision: Decision,
    /// Why, naming the rule or limit.
    pub reason: Option<String>,
    /// The policy it was ruled under; none for requests no rule governs (admin requests).
    pub policy_hash: Option<[u8; 32]>,
    /// The group whose approvals it needs.
    pub approval_group: Option<String>,
    /// How many approvals it needs.
    pub approvals_needed: u32,
}

impl Ruling {
    /// Allowed with no policy consulted: requests that roles alone govern.
    pub fn unruled() -> Self {
        Self {
            decision: Decision::Allow,
            reason: None,
            policy_hash: None,
            approval_group: None,
            approvals_needed: 0,
        }
    }

    /// Why the request may not be signed now, if it may not.
    pub fn refusal(&self) -> Option<String> {
        let reason = self.reason.as_deref().unwrap_or("no reason recorded");
        match self.decision {
            Decision::Allow => None,
            Decision::Deny => Some(format!("it was denied: {reason}")),
            Decision::PendingApproval => Some(format!(
                "it awaits {} approvals from `{}`",
                self.approvals_needed,
                self.approval_group.as_deref().unwrap_or("?")
            )),
            Decision::Rejected => Some(format!("it was rejected: {reason}")),
        }
    }
}

/// An approver's signed verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The request.
    pub request_id: String,
    /// The approver's client id.
    pub approver: String,
    /// Approve, or reject.
    pub approve: bool,
    /// The approver's token id (single use).
    pub jti: String,
    /// The approver's token, kept as evidence.
    pub token: String,
    /// The HTTP method of the approval.
    pub method: String,
    /// Its path.
    pub path: String,
    /// Its body.
    pub body: Vec<u8>,
    /// When it was recorded, Unix seconds.
    pub at: i64,
}

/// A recorded verdict, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRecord {
    /// The approver.
    pub approver: String,
    /// Approve, or reject.
    pub approve: bool,
    /// When.
    pub at: i64,
}

/// A policy this signer enforces or enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedPolicy {
    /// Its hash.
    pub hash: [u8; 32],
    /// Its version.
    pub version: u64,
    /// Its exact text.
    pub text: String,
    /// The admins' signed approvals of it, JSON (`[]` for a bootstrap policy).
    pub approvals: String,
    /// When this signer pinned it.
    pub pinned_at: i64,
}

impl Store {
    /// Records an approver's verdict on a pending request and returns the ruling it leads to:
    /// `allow` once `approvals_needed` distinct approvers approved, `rejected` at the first
    /// rejection (the request then stops counting against the limits). The same token again
    /// changes nothing; another verdict by the same approver, or one on a request that no
    /// longer waits, is refused.
    pub fn record_verdict(&mut self, v: &Verdict) -> Result<Ruling, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let req = request_in(&tx, &v.request_id)?
            .ok_or_else(|| StoreError::NoSuchRequest(v.request_id.clone()))?;
        let request_hash = crate::audit::request_hash_of(&req);
        let earlier: Option<String> = tx
            .query_row(
                "SELECT token FROM approvals WHERE request_id = ?1 AND approver = ?2",
                params![v.request_id, v.approver],
                |r| r.get(0),
            )
            .optional()?;
        match earlier {
            Some(token) if token == v.token => return Ok(req.ruling),
            Some(_) => {
                return Err(StoreError::RequestClosed {
                    id: v.request_id.clone(),
                    reason: format!("`{}` has given its verdict already", v.approver),
                });
            }
            None => {}
        }
        if req.ruling.decision != Decision::PendingApproval {
            return Err(StoreError::RequestClosed {
                id: v.request_id.clone(),
                reason: format!(
                    "it does not await approvals (it is `{}`)",
                    req.ruling.decision.as_str()
                ),
            });
        }
        tx.execute(
            "INSERT INTO approvals (request_id, approver, verdict, jti, token, method, path, body, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                v.request_id,
                v.approver,
                if v.approve { "approve" } else { "reject" },
                v.jti,
                v.token,
                v.method,
                v.path,
                v.body,
                v.at
            ],
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Replay(v.jti.clone())
            }
            other => other.into(),
        })?;
        let mut ruling = req.ruling;
        if v.approve {
            let approvals: u32 = tx.query_row(
                "SELECT count(*) FROM approvals WHERE request_id = ?1 AND verdict = 'approve'",
                params![v.request_id],
                |r| r.get(0),
            )?;
            if approvals >= ruling.approvals_needed {
                ruling.decision = Decision::Allow;
                ruling.reason = Some(format!(
                    "{approvals} approvals from `{}`",
                    ruling.approval_group.as_deref().unwrap_or("?")
                ));
            }
        } else {
            ruling.decision = Decision::Rejected;
            ruling.reason = Some(format!("rejected by `{}`", v.approver));
            crate::spend::forget(&tx, &v.request_id)?;
        }
        tx.execute(
            "UPDATE requests SET decision = ?2, decision_reason = ?3 WHERE request_id = ?1",
            params![v.request_id, ruling.decision.as_str(), ruling.reason],
        )?;
        let body = crate::audit::verdict_body(&tx, v, &request_hash, &ruling)?;
        crate::audit::append_in(&tx, self.audit.as_ref(), "verdict", &body)?;
        tx.commit()?;
        Ok(ruling)
    }

    /// The token of `approver`'s verdict on a request, if it gave one.
    pub fn verdict_token(
        &self,
        request_id: &str,
        approver: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT token FROM approvals WHERE request_id = ?1 AND approver = ?2",
                params![request_id, approver],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The verdicts recorded on a request, oldest first.
    pub fn verdicts(&self, request_id: &str) -> Result<Vec<VerdictRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT approver, verdict, at FROM approvals WHERE request_id = ?1 ORDER BY at, approver",
        )?;
        let rows = stmt.query_map(params![request_id], |r| {
            Ok(VerdictRecord {
                approver: r.get(0)?,
                approve: r.get::<_, String>(1)? == "approve",
                at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Pins `policy`: from now on it is the one in force. Its version must be above every
    /// version pinned before (a stale policy is refused); pinning the same policy again changes
    /// nothing.
    pub fn pin_policy(
        &mut self,
        hash: &[u8; 32],
        version: u64,
        text: &str,
        approvals: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        pin_policy_in(&tx, self.audit.as_ref(), hash, version, text, approvals)?;
        tx.commit()?;
        Ok(())
    }

    /// The policy in force: the highest version pinned.
    pub fn current_policy(&self) -> Result<Option<PinnedPolicy>, StoreError> {
        current_in(&self.conn)
    }

    /// A policy pinned at some time, by hash.
    pub fn policy(&self, hash: &[u8; 32]) -> Result<Option<PinnedPolicy>, StoreError> {
        self.conn
            .query_row(
                "SELECT hash, version, text, approvals, pinned_at FROM policies WHERE hash = ?1",
                params![hash.as_slice()],
                pinned_row,
            )
            .optional()?
            .transpose()
    }
}

/// [`Store::pin_policy`] inside the caller's transaction.
pub(crate) fn pin_policy_in(
    conn: &rusqlite::Connection,
    audit: Option<&tessera_audit::AuditKey>,
    hash: &[u8; 32],
    version: u64,
    text: &str,
    approvals: &str,
) -> Result<(), StoreError> {
    if let Some(current) = current_in(conn)? {
        if &current.hash == hash {
            return Ok(());
        }
        if version <= current.version {
            return Err(StoreError::StalePolicy {
                offered: version,
                pinned: current.version,
            });
        }
    }
    let version_sql = i64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("policy version {version} is too large")))?;
    conn.execute(
        "INSERT INTO policies (hash, version, text, approvals, pinned_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash.as_slice(), version_sql, text, approvals, now()],
    )?;
    let body = serde_json::json!({
        "policy_hash": crate::hex(hash),
        "version": version,
        "approvals": serde_json::from_str::<serde_json::Value>(approvals)
            .unwrap_or_else(|_| serde_json::Value::String(approvals.to_owned())),
    });
    crate::audit::append_in(conn, audit, "policy_pin", &body)?;
    Ok(())
}

pub(crate) fn current_in(conn: &rusqlite::Connection) -> Result<Option<PinnedPolicy>, StoreError> {
    conn.query_row(
        "SELECT hash, version, text, approvals, pinned_at FROM policies
         ORDER BY version DESC LIMIT 1",
        [],
        pinned_row,
    )
    .optional()?
    .transpose()
}

type PinnedRow = Result<PinnedPolicy, StoreError>;

fn pinned_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PinnedRow> {
    let hash: Vec<u8> = r.get(0)?;
    let version: i64 = r.get(1)?;
    Ok((|| {
        Ok(PinnedPolicy {
            hash: <[u8; 32]>::try_from(hash.as_slice())
                .map_err(|_| StoreError::Corrupt("policy hash is not 32 bytes".into()))?,
            version: u64::try_from(version)
                .map_err(|_| StoreError::Corrupt(format!("policy version {version}")))?,
            text: r.get(2)?,
            approvals: r.get(3)?,
            pinned_at: r.get(4)?,
        })
    })())
}
