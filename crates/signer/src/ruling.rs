//! The policy, as each signer enforces it by itself.
//!
//! A request is ruled when it is registered, inside the store's write transaction: the policy in
//! force here (pinned by hash in this signer's store), the limits' history from this signer's
//! own records, and what the request counts against them are read and written together, so a
//! request counts once, exactly, however many arrive at once, and a restart resets nothing.
//! Only an `allow`ed request opens signing rounds (the store refuses the others). Approvals are
//! the approvers' own signed requests, verified here against this signer's client keys and the
//! group the ruling named.

use tessera_auth::Role;
use tessera_eth::{Address, U256};
use tessera_policy::{History, HistoryError, Policy, Request, Scope, Usage, UsageQuery};
use tessera_store::spend::{self, SpendFacts, SpendScope};
use tessera_store::{Decision, RequestRecord, Ruling, Store, StoreError, Verdict};
use tessera_wire::{Chain, Intent, NATIVE_DECIMALS, NATIVE_SYMBOL, WireRuling};

use crate::facts::AssetBook;
use crate::{SignerError, SignerNode};

/// Approvals are recorded in the signer's store as JSON lists; a bootstrap policy has none.
const NO_APPROVALS: &str = "[]";

impl SignerNode {
    /// Pins `bootstrap` when this signer enforces no policy yet (a new deployment); otherwise
    /// loads the policy pinned in the store, which a bootstrap file can no longer replace.
    pub(crate) fn load_policy(
        store: &mut Store,
        bootstrap: Option<&Policy>,
    ) -> Result<Policy, SignerError> {
        if let Some(pinned) = store.current_policy()? {
            let policy = Policy::parse(&pinned.text).map_err(|e| {
                StoreError::Corrupt(format!("pinned policy: {} ({})", e.message, e.code))
            })?;
            if policy.hash().as_bytes() != &pinned.hash {
                return Err(
                    StoreError::Corrupt("pinned policy does not match its hash".into()).into(),
                );
            }
            return Ok(policy);
        }
        let Some(bootstrap) = bootstrap else {
            return Err(SignerError::Ruling {
                code: "no_policy",
                message: "this signer enforces no policy yet: give it a bootstrap policy file"
                    .into(),
            });
        };
        store.pin_policy(
            bootstrap.hash().as_bytes(),
            bootstrap.version(),
            bootstrap.text(),
            NO_APPROVALS,
        )?;
        Ok(bootstrap.clone())
    }

    /// The policy in force here.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Refuses a request the coordinator pre-checked under another policy than the one in force
    /// here: its decision would not be the one it expected.
    pub(crate) fn check_policy_hash(&self, expected: Option<&str>) -> Result<(), SignerError> {
        match expected {
            Some(h) if h != self.policy.hash().to_string() => Err(SignerError::Ruling {
                code: "stale_policy",
                message: format!(
                    "this signer enforces policy version {} ({}), not `{}`",
                    self.policy.version(),
                    self.policy.hash(),
                    shorten(h)
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Registers `record`, ruling it under the policy, the breakers and the risk level in the
    /// same transaction when the policy governs it (`facts` is some).
    pub(crate) fn register_ruled(
        &mut self,
        record: &RequestRecord,
        facts: Option<Request>,
    ) -> Result<(tessera_store::Registration, Ruling), SignerError> {
        let policy = &self.policy;
        self.signer
            .store_mut()
            .register_request_with(record, |conn| -> Result<_, SignerError> {
                match facts {
                    None => Ok((Ruling::unruled(), None)),
                    Some(facts) => {
                        crate::breaker::rule_in(conn, policy, &record.request_id, &facts)
                    }
                }
            })
    }

    /// Verifies an approver's signed verdict on a request waiting for approvals and records it.
    /// The approver must be configured here as an `approver` and be a member of the group the
    /// request's ruling named, under the policy it was ruled by; a request's approvals expire
    /// after the policy's `[approvals] expire_after`. Returns the request's id, its ruling and
    /// the approvals recorded.
    pub fn verdict(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(String, Ruling, u32), SignerError> {
        let parsed = tessera_wire::Verdict::parse(method, path, body)?;
        let req = self.request(&parsed.request_id)?;
        // The same verdict forwarded again after its token expired: answered from the record.
        if let Ok((client, _)) = tessera_auth::verify_signature_only(token, &self.rules.clients)
            && self
                .signer
                .store()
                .verdict_token(&parsed.request_id, client.id.as_str())?
                .as_deref()
                == Some(token)
        {
            let approvals = self.approvals(&parsed.request_id)?;
            return Ok((parsed.request_id, req.ruling, approvals));
        }
        let verified =
            self.verify_as(token, (method, path, body), now, Role::Approver, "verdicts")?;
        let approver = verified.client.id.to_string();
        let ruling = &req.ruling;
        if ruling.decision == Decision::PendingApproval {
            let hash = ruling.policy_hash.ok_or_else(|| {
                StoreError::Corrupt(format!("request `{}` has no policy", req.request_id))
            })?;
            let text = self
                .signer
                .store()
                .policy(&hash)?
                .ok_or_else(|| StoreError::Corrupt("the request's policy is not pinned".into()))?
                .text;
            let policy = Policy::parse(&text)
                .map_err(|e| StoreError::Corrupt(format!("pinned policy: {}", e.message)))?;
            let group = ruling.approval_group.as_deref().unwrap_or_default();
            if !policy.group(group).is_some_and(|g| g.contains(&approver)) {
                return Err(SignerError::Forbidden(format!(
                    "`{approver}` is not a member of group `{group}`, whose approvals request `{}` needs",
                    req.request_id
                )));
            }
            let deadline = req
                .registered_at
                .saturating_add(i64::try_from(policy.approvals_expire_after()).unwrap_or(i64::MAX));
            if now > deadline {
                return Err(SignerError::Ruling {
                    code: "approval_expired",
                    message: format!(
                        "request `{}` waited for approvals longer than {} s",
                        req.request_id,
                        policy.approvals_expire_after()
                    ),
                });
            }
        }
        let ruling = self.signer.store_mut().record_verdict(&Verdict {
            request_id: parsed.request_id.clone(),
            approver,
            approve: parsed.approve,
            jti: verified.claims.jti.clone(),
            token: token.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            body: body.to_vec(),
            at: now,
        })?;
        let approvals = self.approvals(&parsed.request_id)?;
        Ok((parsed.request_id, ruling, approvals))
    }

    /// Verifies a client's signed request (fresh, bound to `method`, `path` and `body`, from a
    /// configured client) and that the client has `role`; `what` names such requests in the
    /// refusal.
    pub(crate) fn verify_as(
        &self,
        token: &str,
        (method, path, body): (&str, &str, &[u8]),
        now: i64,
        role: Role,
        what: &str,
    ) -> Result<tessera_auth::Verified, SignerError> {
        let verified = tessera_auth::verify(
            token,
            &self.rules.clients,
            method,
            path,
            body,
            now,
            &self.rules.tokens,
        )?;
        if verified.client.role != role {
            return Err(SignerError::Forbidden(format!(
                "client `{}` has role `{}`; {what} need `{role}`",
                verified.client.id, verified.client.role
            )));
        }
        Ok(verified)
    }

    pub(crate) fn approvals(&self, request_id: &str) -> Result<u32, SignerError> {
        let verdicts = self.signer.store().verdicts(request_id)?;
        Ok(u32::try_from(verdicts.iter().filter(|v| v.approve).count()).unwrap_or(u32::MAX))
    }

    /// A registered request may be signed only once its ruling allows it.
    /// While a breaker is tripped, only sweeps to cold storage are signed.
    pub(crate) fn check_allowed(&self, req: &RequestRecord) -> Result<(), SignerError> {
        let (code, _) = match req.ruling.decision {
            Decision::Allow => return self.check_breakers(req),
            Decision::Deny => ("policy_denied", ()),
            Decision::PendingApproval => ("approval_required", ()),
            Decision::Rejected => ("request_rejected", ()),
        };
        Err(SignerError::Ruling {
            code,
            message: format!(
                "request `{}` may not be signed: {}",
                req.request_id,
                req.ruling.refusal().unwrap_or_default()
            ),
        })
    }

    /// What the policy is told about a request, from this signer's own asset registry.
    pub(crate) fn facts(
        &self,
        client: &str,
        intent: &Intent,
        now: i64,
    ) -> Result<Option<Request>, SignerError> {
        let chain_id = self.rules.ethereum.map_or(0, |e| e.chain_id);
        crate::facts::policy_request(
            client,
            intent,
            now,
            chain_id,
            &StoreBook(self.signer.store()),
        )
        .map_err(|e| SignerError::Transaction {
            code: e.code,
            message: e.message,
        })
    }
}

/// A signer's asset registry, as the policy's facts look assets up (here, and in tools that
/// replay a signer's history).
#[derive(Debug)]
pub struct StoreBook<'s>(pub &'s Store);

impl AssetBook for StoreBook<'_> {
    fn decimals(&self, symbol: &str) -> Result<Option<u8>, String> {
        if symbol == NATIVE_SYMBOL {
            return Ok(Some(NATIVE_DECIMALS));
        }
        Ok(self
            .0
            .asset(Chain::Ethereum.name(), symbol)
            .map_err(|e| e.to_string())?
            .map(|a| a.decimals))
    }

    fn token_at(&self, contract: &Address) -> Result<Option<(String, u8)>, String> {
        let contract = format!("{contract:#x}");
        Ok(self
            .0
            .assets(Chain::Ethereum.name())
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|a| a.contract.eq_ignore_ascii_case(&contract))
            .map(|a| (a.symbol, a.decimals)))
    }
}

/// A ruling as it travels to the coordinator.
pub fn wire_ruling(ruling: &Ruling, approvals: u32) -> WireRuling {
    WireRuling {
        decision: ruling.decision.as_str().to_owned(),
        reason: ruling.reason.clone(),
        policy_hash: ruling.policy_hash.map(hex::encode),
        approval_group: ruling.approval_group.clone(),
        approvals_needed: ruling.approvals_needed,
        approvals,
    }
}

/// What a request counts against the limits, as a store's `spend` table records it.
pub fn spend_facts(request_id: &str, facts: &Request) -> SpendFacts {
    SpendFacts {
        request_id: request_id.to_owned(),
        at: facts.at,
        client: facts.client.clone(),
        wallet: facts.wallet.clone(),
        destination: facts.to.clone(),
        asset: facts.asset.clone(),
        amount: facts.amount.map(|a| a.base_units.to_string()),
    }
}

/// The limits' history from a store's `spend` table (a signer's, read inside the
/// registration's transaction, or the coordinator's, for its pre-check).
#[derive(Debug)]
pub struct SpendHistory<'c>(pub &'c rusqlite::Connection);

impl History for SpendHistory<'_> {
    fn usage(&self, q: &UsageQuery<'_>) -> Result<Usage, HistoryError> {
        let scope = match q.scope {
            Scope::Wallet => SpendScope::Wallet,
            Scope::Client => SpendScope::Client,
            Scope::Destination => SpendScope::Destination,
        };
        let rows = spend::rows(self.0, scope, q.value, q.asset, q.since)
            .map_err(|e| HistoryError::new(e.to_string()))?;
        let mut amount = U256::ZERO;
        for a in &rows.amounts {
            let v: U256 = a
                .parse()
                .map_err(|_| HistoryError::new(format!("stored amount `{a}` is not a number")))?;
            amount = amount
                .checked_add(v)
                .ok_or_else(|| HistoryError::new("the window's total overflows".to_owned()))?;
        }
        Ok(Usage {
            amount,
            requests: rows.requests,
        })
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}
