//! Circuit breakers and the risk level, as each signer enforces them by itself.
//!
//! Around the policy's evaluation, inside the registration's transaction:
//! - a tripped breaker (the deployment's, or the request's wallet's) denies every request the
//!   policy governs, except a transfer to the policy's cold storage address of its chain (a
//!   sweep, which the policy still rules);
//! - the burst counters (denials, new destinations, the outflow share of the hot balance) raise
//!   the risk the policy evaluates under to at least `elevated` once they reach half their
//!   trigger, and trip the breaker when they reach it: the request that reaches a trigger is
//!   denied with the trip, in the same transaction.
//!
//! The admins' trips, reset votes and risk changes are their own signed requests, verified
//! here; the coordinator's signals can only trip. A request approved while a breaker is tripped
//! still signs nothing: [`SignerNode::check_breakers`] runs again before every signing round.

use tessera_auth::Role;
use tessera_eth::U256;
use tessera_policy::{Action, Kind, Policy, Request, RiskLevel};
use tessera_store::breakers::{
    self, Asker, Breaker, BreakerState, DEPLOYMENT, RiskRecord, wallet_scope,
};
use tessera_store::spend::SpendFacts;
use tessera_store::{Decision, RequestRecord, Ruling, StoreError};
use tessera_wire::{GuardCommand, Intent, WireBreaker, WireRisk};

use crate::ruling::{SpendHistory, spend_facts};
use crate::{SignerError, SignerNode};

/// Every breaker denial's reason starts with this; such denials are not counted as a burst.
pub const BREAKER_DENIAL: &str = breakers::BREAKER_DENIAL;

/// The signals the coordinator may trip a breaker on.
pub const SIGNALS: [&str; 2] = ["misbehaving_signer", "balance_mismatch"];

/// Rules a request under `policy`, with the breakers and risk around it, inside the
/// registration's transaction `conn`. Returns the ruling and what it counts against the limits.
pub(crate) fn rule_in(
    conn: &rusqlite::Connection,
    policy: &Policy,
    request_id: &str,
    facts: &Request,
) -> Result<(Ruling, Option<SpendFacts>), SignerError> {
    let deny = |reason: String| Ruling {
        decision: Decision::Deny,
        reason: Some(reason),
        policy_hash: Some(*policy.hash().as_bytes()),
        approval_group: None,
        approvals_needed: 0,
    };
    let wallet_scope = wallet_scope(&facts.wallet);
    let deployment = breakers::breaker_in(conn, DEPLOYMENT)?;
    let wallet = breakers::breaker_in(conn, &wallet_scope)?;
    let sweep = is_sweep(policy, facts);
    if !sweep
        && let Some(b) = [&deployment, &wallet]
            .into_iter()
            .find(|b| b.state == BreakerState::Tripped)
    {
        return Ok((deny(tripped_reason(b)), None));
    }
    let signals = Signals::read(conn, policy, facts, &deployment, &wallet)?;
    let risk = stored_risk(conn)?.max(signals.risk());
    let decision = tessera_policy::evaluate(facts, policy, &SpendHistory(conn), risk);
    let reason = decision.reason();
    let (state, group, needed) = match decision.action {
        Action::Allow => (Decision::Allow, None, 0),
        Action::Deny => (Decision::Deny, None, 0),
        Action::NeedsApprovals { group, count, .. } => {
            (Decision::PendingApproval, Some(group), count)
        }
    };
    let ruling = Ruling {
        decision: state,
        reason: Some(reason),
        policy_hash: Some(*policy.hash().as_bytes()),
        approval_group: group,
        approvals_needed: needed,
    };
    let auto = Asker {
        source: "auto",
        jti: None,
        at: facts.at,
    };
    if ruling.decision == Decision::Deny {
        // This denial is not in the table yet: it is the `+ 1`.
        let b = policy.breakers();
        if reaches(signals.wallet_denials + 1, b.wallet_denials()) {
            let why = format!(
                "{} denials of wallet `{}`'s requests within {} s",
                signals.wallet_denials + 1,
                facts.wallet,
                b.window()
            );
            breakers::trip_in(conn, &wallet_scope, auto, &why)?;
        }
        if reaches(signals.deployment_denials + 1, b.deployment_denials()) {
            let why = format!(
                "{} denials within {} s",
                signals.deployment_denials + 1,
                b.window()
            );
            breakers::trip_in(conn, DEPLOYMENT, auto, &why)?;
        }
        return Ok((ruling, None));
    }
    if !sweep && let Some(why) = signals.trips() {
        let b = breakers::trip_in(conn, &wallet_scope, auto, &why)?;
        return Ok((deny(tripped_reason(&b)), None));
    }
    Ok((ruling, Some(spend_facts(request_id, facts))))
}

/// What the burst counters read before the request is ruled.
struct Signals {
    wallet_denials: u64,
    deployment_denials: u64,
    /// Denials that trip the wallet and the deployment (0: off).
    denial_triggers: (u32, u32),
    /// New destinations so far, whether this request adds one, and the trigger.
    new_destinations: (u64, bool, u32),
    /// Outflow of the request's asset in the window with this request, and the most allowed:
    /// `outflow_percent` of the hot balance when the window opened.
    outflow: Option<(U256, U256)>,
    wallet: String,
    outflow_window: u64,
}

impl Signals {
    fn read(
        conn: &rusqlite::Connection,
        policy: &Policy,
        facts: &Request,
        deployment: &Breaker,
        wallet: &Breaker,
    ) -> Result<Signals, SignerError> {
        let b = policy.breakers();
        let window = i64::try_from(b.window()).unwrap_or(i64::MAX);
        // Counted since the window opened, and only what came after the breaker last changed.
        let since = facts.at.saturating_sub(window);
        // Only the triggers the policy turns on are counted: each costs a query per request.
        let wallet_denials = if b.wallet_denials() > 0 {
            breakers::denials_in(conn, Some(&facts.wallet), since, wallet.marks.requests)?
        } else {
            0
        };
        let deployment_denials = if b.deployment_denials() > 0 {
            breakers::denials_in(conn, None, since, deployment.marks.requests)?
        } else {
            0
        };
        let new_so_far = if b.new_destinations() > 0 {
            breakers::new_destinations_in(conn, &facts.wallet, since, wallet.marks.spend)?
        } else {
            0
        };
        let adds = match &facts.to {
            Some(to) if b.new_destinations() > 0 => {
                !breakers::known_destination_in(conn, &facts.wallet, to)?
            }
            _ => false,
        };
        let outflow = match (&facts.asset, &facts.amount) {
            (Some(asset), Some(amount)) if b.outflow_percent() > 0 => {
                let owindow = i64::try_from(b.outflow_window()).unwrap_or(i64::MAX);
                let start = facts.at.saturating_sub(owindow);
                match breakers::hot_balance_in(conn, &facts.wallet, asset)? {
                    None => None,
                    Some(balance) => {
                        let balance: U256 = balance
                            .parse()
                            .map_err(|_| StoreError::Corrupt(format!("hot balance `{balance}`")))?;
                        let amounts = breakers::outflow_in(
                            conn,
                            &facts.wallet,
                            asset,
                            start,
                            wallet.marks.spend,
                        )?;
                        let mut sent = U256::ZERO;
                        for a in &amounts {
                            let v: U256 = a
                                .parse()
                                .map_err(|_| StoreError::Corrupt(format!("spend amount `{a}`")))?;
                            sent = sent.saturating_add(v);
                        }
                        // The share is of the balance when the window opened: what is there
                        // now and what already left within it. An empty wallet has nothing to
                        // protect (and a balance not read yet is no figure).
                        (!balance.is_zero()).then(|| {
                            let base = balance.saturating_add(sent);
                            let most = base.saturating_mul(U256::from(b.outflow_percent()))
                                / U256::from(100u8);
                            (sent.saturating_add(amount.base_units), most)
                        })
                    }
                }
            }
            _ => None,
        };
        Ok(Signals {
            wallet_denials,
            deployment_denials,
            denial_triggers: (b.wallet_denials(), b.deployment_denials()),
            new_destinations: (new_so_far, adds, b.new_destinations()),
            outflow,
            wallet: facts.wallet.clone(),
            outflow_window: b.outflow_window(),
        })
    }

    /// `elevated` once any counter has reached half its trigger.
    fn risk(&self) -> RiskLevel {
        let half = |n: u64, trigger: u32| trigger > 0 && n.saturating_mul(2) >= u64::from(trigger);
        let (new, _, trigger) = self.new_destinations;
        let outflow_half = self
            .outflow
            .is_some_and(|(sum, most)| sum.saturating_mul(U256::from(2u8)) > most);
        if half(self.wallet_denials, self.denial_triggers.0)
            || half(self.deployment_denials, self.denial_triggers.1)
            || half(new, trigger)
            || outflow_half
        {
            RiskLevel::Elevated
        } else {
            RiskLevel::Normal
        }
    }

    /// Why the wallet's breaker trips if this request goes through, if it does.
    fn trips(&self) -> Option<String> {
        let (new, adds, trigger) = self.new_destinations;
        if adds && trigger > 0 && new + 1 > u64::from(trigger) {
            return Some(format!(
                "wallet `{}` would pay more than {trigger} new destinations within the window",
                self.wallet
            ));
        }
        if let Some((sum, most)) = self.outflow
            && sum > most
        {
            return Some(format!(
                "wallet `{}` would send {sum} base units within {} s, above its share of the hot balance ({most})",
                self.wallet, self.outflow_window
            ));
        }
        None
    }
}

/// Whether `n` reaches a trigger (0 is off).
fn reaches(n: u64, trigger: u32) -> bool {
    trigger > 0 && n >= u64::from(trigger)
}

/// A transfer to the cold storage address of its chain.
fn is_sweep(policy: &Policy, facts: &Request) -> bool {
    facts.kind == Kind::Transfer
        && facts.to.is_some()
        && facts.chain.as_deref().and_then(|c| policy.cold_storage(c)) == facts.to.as_deref()
}

fn tripped_reason(b: &Breaker) -> String {
    format!("{BREAKER_DENIAL} `{}` is tripped: {}", b.scope, b.reason)
}

fn stored_risk(conn: &rusqlite::Connection) -> Result<RiskLevel, SignerError> {
    let r = breakers::risk_in(conn)?;
    r.level
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("risk level `{}`", r.level)).into())
}

impl SignerNode {
    /// Verifies an admin's signed breaker or risk command and applies it. The same token
    /// forwarded again changes nothing and answers the state.
    pub fn guard(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignerError> {
        let command = GuardCommand::parse(method, path, body)?;
        let verified = self.verify_as(
            token,
            (method, path, body),
            now,
            Role::Admin,
            "breaker and risk commands",
        )?;
        let admin = verified.client.id.to_string();
        let asker = Asker {
            source: &admin,
            jti: Some(&verified.claims.jti),
            at: now,
        };
        let quorum = self.policy.breakers().reset_quorum();
        let applied = match &command {
            GuardCommand::Trip { wallet, reason } => {
                let scope = self.scope_of(wallet.as_deref())?;
                self.signer
                    .store_mut()
                    .trip(&scope, asker, reason)
                    .map(drop)
            }
            GuardCommand::Reset { wallet, .. } => {
                let scope = self.scope_of(wallet.as_deref())?;
                self.signer
                    .store_mut()
                    .vote_reset(&scope, asker, quorum)
                    .map(drop)
            }
            GuardCommand::Risk { level, reason } => self
                .signer
                .store_mut()
                .set_risk(level, asker, reason)
                .map(drop),
        };
        match applied {
            // The same signed command again: it was applied the first time.
            Ok(()) | Err(StoreError::Replay(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Trips a breaker on a signal the coordinator saw (see [`SIGNALS`]).
    pub fn signal(
        &mut self,
        wallet: Option<&str>,
        signal: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), SignerError> {
        if !SIGNALS.contains(&signal) {
            return Err(SignerError::Ruling {
                code: "unknown_signal",
                message: format!("`{signal}` is not a signal: {}", SIGNALS.join(", ")),
            });
        }
        let scope = self.scope_of(wallet)?;
        let reason = format!("{signal}: {}", reason.chars().take(512).collect::<String>());
        let asker = Asker {
            source: "coordinator",
            jti: None,
            at: now,
        };
        self.signer.store_mut().trip(&scope, asker, &reason)?;
        Ok(())
    }

    /// Records a wallet's hot balance as the coordinator read it from the chain.
    pub fn hot_balance(
        &mut self,
        wallet: &str,
        asset: &str,
        base_units: &str,
        now: i64,
    ) -> Result<(), SignerError> {
        self.scope_of(Some(wallet))?;
        if base_units.is_empty()
            || base_units.len() > 78
            || !base_units.bytes().all(|b| b.is_ascii_digit())
            || base_units.parse::<U256>().is_err()
        {
            return Err(SignerError::Ruling {
                code: "invalid_amount",
                message: format!("a hot balance is whole base units, not `{base_units:.80}`"),
            });
        }
        self.signer
            .store_mut()
            .set_hot_balance(wallet, asset, base_units, now)?;
        Ok(())
    }

    /// Trips `wallet`'s breaker when the chain says it sent more transactions (`chain_nonce`,
    /// its account nonce) than this signer ever agreed to sign for it: its key signed something
    /// outside Tessera, so its balance no longer matches the ledger. A coordinator that lies
    /// here can only trip a breaker, or fail to.
    pub fn check_chain_nonce(
        &mut self,
        wallet: &str,
        chain_nonce: u64,
        now: i64,
    ) -> Result<(), SignerError> {
        self.scope_of(Some(wallet))?;
        let most = self.signer.store().signable_txs(wallet)?;
        if chain_nonce > most {
            let reason = format!(
                "balance_mismatch: wallet `{wallet}` has sent {chain_nonce} transactions on chain; this signer agreed to sign {most}"
            );
            let asker = Asker {
                source: "coordinator",
                jti: None,
                at: now,
            };
            self.signer
                .store_mut()
                .trip(&wallet_scope(wallet), asker, &reason)?;
        }
        Ok(())
    }

    /// The breakers that ever moved, the risk level, and the reset quorum.
    pub fn breakers(&self) -> Result<(Vec<WireBreaker>, WireRisk, u32), SignerError> {
        let store = self.signer.store();
        let breakers = store.breakers()?.into_iter().map(wire_breaker).collect();
        let RiskRecord {
            level,
            source,
            reason,
            at,
        } = store.risk()?;
        Ok((
            breakers,
            WireRisk {
                level,
                source,
                reason,
                at,
            },
            self.policy.breakers().reset_quorum(),
        ))
    }

    /// Refuses to sign for an allowed request while its wallet's or the deployment's breaker
    /// is tripped, unless it is a sweep to cold storage.
    pub(crate) fn check_breakers(&self, req: &RequestRecord) -> Result<(), SignerError> {
        let Some(wallet) = &req.key_id else {
            return Ok(());
        };
        let store = self.signer.store();
        let tripped = [
            store.breaker(DEPLOYMENT)?,
            store.breaker(&wallet_scope(wallet.as_str()))?,
        ]
        .into_iter()
        .find(|b| b.state == BreakerState::Tripped);
        let Some(tripped) = tripped else {
            return Ok(());
        };
        if req.ruling.policy_hash.is_some() && self.is_stored_sweep(req)? {
            return Ok(());
        }
        Err(SignerError::Ruling {
            code: "breaker_tripped",
            message: format!(
                "request `{}` may not be signed: {}",
                req.request_id,
                tripped_reason(&tripped)
            ),
        })
    }

    /// Whether a registered request is a sweep to cold storage under the policy in force.
    fn is_stored_sweep(&self, req: &RequestRecord) -> Result<bool, SignerError> {
        let (client, claims) =
            tessera_auth::verify_signature_only(&req.token, &self.rules.clients)?;
        let id = tessera_auth::RequestId::derive(&client.id, &claims.jti);
        let intent = Intent::parse(&req.method, &req.path, &req.body, &id)?;
        let facts = self.facts(&req.client, &intent, req.registered_at)?;
        Ok(facts.is_some_and(|f| is_sweep(&self.policy, &f)))
    }

    /// The breaker scope of a wallet held here, or the deployment's.
    fn scope_of(&self, wallet: Option<&str>) -> Result<String, SignerError> {
        let Some(wallet) = wallet else {
            return Ok(DEPLOYMENT.to_owned());
        };
        let key = tessera_types::KeyId::new(wallet).map_err(|e| SignerError::Ruling {
            code: "invalid_wallet",
            message: e.to_string(),
        })?;
        if self.signer.store().key(&key)?.is_none() {
            return Err(SignerError::NoSuchKey(key));
        }
        Ok(wallet_scope(wallet))
    }
}

fn wire_breaker(b: Breaker) -> WireBreaker {
    WireBreaker {
        scope: b.scope,
        state: b.state.as_str().to_owned(),
        reason: b.reason,
        source: b.source,
        changed_at: b.changed_at,
        reset_votes: b.reset_votes,
    }
}
