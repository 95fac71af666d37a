//! Policy changes, as each signer decides them by itself.
//!
//! A new policy is proposed by an admin, approved by admins, and applied by an admin; every
//! step is the admin's own signed request, verified here. Applying needs the policy in force's
//! `[changes]`: `quorum` distinct admins (each approval verified again, from its stored token,
//! against this signer's client keys) and `time_lock` seconds since the proposal. Only a higher
//! version than the one in force can be proposed or applied. Applied, the new policy is pinned
//! with the approvals and rules every request registered after it.

use tessera_auth::Role;
use tessera_policy::Policy;
use tessera_store::StoreError;
use tessera_store::proposals::{NewProposal, Proposal, ProposalApproval};
use tessera_wire::{PolicyChange, WireProposal};

use crate::{SignerError, SignerNode};

impl SignerNode {
    /// Verifies an admin's signed step in changing the policy and carries it out. Returns the
    /// proposal as it stands.
    pub fn policy_change(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
    ) -> Result<WireProposal, SignerError> {
        let step = PolicyChange::parse(method, path, body)?;
        let verified = self.verify_as(
            token,
            (method, path, body),
            now,
            Role::Admin,
            "policy changes",
        )?;
        let admin = verified.client.id.to_string();
        let approval = ProposalApproval {
            admin,
            jti: verified.claims.jti.clone(),
            token: token.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            body_hex: hex::encode(body),
            at: now,
        };
        let proposal = match step {
            PolicyChange::Propose { text } => {
                let policy = Policy::parse(&text).map_err(|e| SignerError::Ruling {
                    code: e.code,
                    message: format!("the proposed policy: {}", e.message),
                })?;
                self.check_newer(&policy)?;
                self.signer.store_mut().propose(
                    &NewProposal {
                        hash: *policy.hash().as_bytes(),
                        version: policy.version(),
                        text: policy.text(),
                    },
                    &approval,
                )?
            }
            PolicyChange::Approve { hash } => {
                let hash = parse_hash(&hash)?;
                self.signer.store_mut().approve_proposal(&hash, &approval)?
            }
            PolicyChange::Apply { hash } => {
                let hash = parse_hash(&hash)?;
                self.apply_proposal(&hash, now)?
            }
        };
        Ok(self.wire(&proposal))
    }

    /// Applies a proposal once the policy in force allows it: a quorum of distinct admins whose
    /// approvals verify here, and the time lock passed.
    fn apply_proposal(&mut self, hash: &[u8; 32], now: i64) -> Result<Proposal, SignerError> {
        let p = self.signer.store().proposal(hash)?.ok_or_else(|| {
            StoreError::NoSuchRequest(format!("policy proposal {}", hex::encode(hash)))
        })?;
        if p.state == "applied" {
            return Ok(p);
        }
        let changes = self.policy.changes();
        let approvers = self.verified_approvers(&p);
        if u32::try_from(approvers.len()).unwrap_or(u32::MAX) < changes.quorum() {
            return Err(SignerError::Ruling {
                code: "quorum_not_reached",
                message: format!(
                    "the proposal has {} verified admin approvals ({}); the policy in force needs {}",
                    approvers.len(),
                    approvers.join(", "),
                    changes.quorum()
                ),
            });
        }
        let not_before = not_before(&p, changes.time_lock());
        if now < not_before {
            return Err(SignerError::Ruling {
                code: "time_locked",
                message: format!(
                    "the proposal can be applied from {not_before} (Unix seconds), {} s from now",
                    not_before - now
                ),
            });
        }
        let policy = Policy::parse(&p.text).map_err(|e| {
            StoreError::Corrupt(format!("a stored proposal does not parse: {}", e.message))
        })?;
        self.check_newer(&policy)?;
        let applied = self.signer.store_mut().apply_proposal(hash, now)?;
        self.policy = policy;
        Ok(applied)
    }

    /// The admins whose stored approvals of `p` still verify here: a token of a configured
    /// admin, signed over a proposal or approval of exactly this policy.
    fn verified_approvers(&self, p: &Proposal) -> Vec<String> {
        let mut out: Vec<String> = p
            .approvals
            .iter()
            .filter(|a| {
                let Ok(body) = hex::decode(&a.body_hex) else {
                    return false;
                };
                let Ok((client, _)) = tessera_auth::verify_stored(
                    &a.token,
                    &self.rules.clients,
                    &a.method,
                    &a.path,
                    &body,
                ) else {
                    return false;
                };
                let about_it = match PolicyChange::parse(&a.method, &a.path, &body) {
                    Ok(PolicyChange::Propose { text }) => {
                        tessera_policy::PolicyHash::of_text(&text).as_bytes() == &p.hash
                    }
                    Ok(PolicyChange::Approve { hash }) => hash == hex::encode(p.hash),
                    _ => false,
                };
                client.role == Role::Admin && client.id.as_str() == a.admin && about_it
            })
            .map(|a| a.admin.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Refuses a policy whose version is not above the one in force.
    fn check_newer(&self, policy: &Policy) -> Result<(), SignerError> {
        if policy.version() <= self.policy.version() {
            return Err(StoreError::StalePolicy {
                offered: policy.version(),
                pinned: self.policy.version(),
            }
            .into());
        }
        Ok(())
    }

    fn wire(&self, p: &Proposal) -> WireProposal {
        let changes = self.policy.changes();
        WireProposal {
            hash: hex::encode(p.hash),
            version: p.version,
            state: p.state.clone(),
            proposer: p.proposer.clone(),
            approvals: p.approvals.iter().map(|a| a.admin.clone()).collect(),
            quorum: changes.quorum(),
            proposed_at: p.proposed_at,
            not_before: not_before(p, changes.time_lock()),
        }
    }
}

fn not_before(p: &Proposal, time_lock: u64) -> i64 {
    p.proposed_at
        .saturating_add(i64::try_from(time_lock).unwrap_or(i64::MAX))
}

fn parse_hash(hex_hash: &str) -> Result<[u8; 32], SignerError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut out).map_err(|_| SignerError::Ruling {
        code: "invalid_hash",
        message: "a policy hash is 64 lower-case hex characters".into(),
    })?;
    Ok(out)
}
