//! `tessera policy simulate FILE --data-dir DIR`: replays the requests a signer of a `tessera
//! dev` deployment registered against the policy in FILE, and reports those it would have
//! decided differently.
//!
//! Each request's policy facts are derived again exactly as the signer derived them when it
//! registered it ([`tessera_signer::facts::policy_request`], from the signer's own asset
//! registry and chain), at the request's own registration time. The requests are replayed in
//! the order the signer registered them, against a fresh in-memory history that counts what the
//! simulated policy would have counted: every request it would not have denied, until an
//! approver rejected it (a request the simulated policy also holds for approvals is taken to
//! have been rejected at the same time as it really was).
//!
//! The store is opened read-only: a running signer may hold it, and nothing in it changes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use tessera_node::config::SignerConfig;
use tessera_policy::{Action, MemoryHistory, Policy, Request, RiskLevel};
use tessera_signer::StoreBook;
use tessera_store::{Decision, RequestRecord, Store};
use tessera_wire::Intent;

use crate::error::CliError;

/// What `tessera policy simulate` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct SimulateOptions {
    /// The policy to simulate (TOML).
    pub file: PathBuf,
    /// The `tessera dev` data directory.
    pub data_dir: PathBuf,
    /// Whose history: signer N's store.
    pub signer: u16,
    /// The report as JSON.
    pub json: bool,
}

/// The simulation's outcome.
#[derive(Debug, Serialize)]
struct Report {
    policy: PolicyInfo,
    signer: u16,
    store: String,
    /// Requests the policy governs, replayed.
    replayed: usize,
    /// Requests roles alone govern (new wallets, new assets): not replayed.
    unruled: usize,
    /// Replayed requests the policy would have decided as they were.
    unchanged: usize,
    /// Replayed requests it would have decided otherwise.
    differences: usize,
    /// Those requests, in registration order.
    requests: Vec<Difference>,
}

#[derive(Debug, Serialize)]
struct PolicyInfo {
    version: u64,
    hash: String,
}

#[derive(Debug, Serialize)]
struct Difference {
    request_id: String,
    client: String,
    /// The policy's kind of request (`transfer`, `raw`, `typed_data`, `message`).
    kind: String,
    wallet: Option<String>,
    registered_at: i64,
    recorded: Recorded,
    simulated: Outcome,
}

/// How the signer ruled a request when it registered it, and where it stands now.
#[derive(Debug, Serialize)]
struct Recorded {
    /// `allow`, `deny` or `pending_approval`: the ruling at registration.
    decision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    /// Now: the same, or `allow` after its approvals, or `rejected`.
    state: String,
    reason: Option<String>,
    /// The policy that ruled it.
    policy_hash: Option<String>,
}

/// What the simulated policy decides.
#[derive(Debug, Serialize)]
struct Outcome {
    /// `allow`, `deny`, `pending_approval`, or `refused` when the request's facts cannot be
    /// established any more (its signer would not register it).
    decision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    matched_rule: Option<String>,
    limit: Option<String>,
    reason: String,
}

/// Runs the simulation and writes its report; differences are not an error.
pub(crate) fn run(opts: &SimulateOptions, out: &mut impl Write) -> Result<(), CliError> {
    let policy = read_policy(&opts.file)?;
    let dir = opts.data_dir.join(format!("signer-{}", opts.signer));
    let config_file = dir.join("signer.toml");
    if !config_file.is_file() {
        return Err(CliError::new(format!(
            "`{}` holds no signer {} (no `{}`)",
            opts.data_dir.display(),
            opts.signer,
            config_file.display()
        )));
    }
    let config: SignerConfig =
        tessera_node::config::load(&config_file).map_err(|e| CliError::new(e.to_string()))?;
    let chain_id = config.ethereum.as_ref().map_or(0, |e| e.chain_id);
    let store = Store::open_read_only(&config.store).map_err(|e| {
        CliError::new(format!(
            "signer {}'s history: {e} ({})",
            opts.signer,
            e.code()
        ))
    })?;
    let records = store
        .requests_in_order()
        .map_err(|e| CliError::new(format!("signer {}'s history: {e}", opts.signer)))?;
    let mut report = Report {
        policy: PolicyInfo {
            version: policy.version(),
            hash: policy.hash().to_string(),
        },
        signer: opts.signer,
        store: config.store.display().to_string(),
        replayed: 0,
        unruled: 0,
        unchanged: 0,
        differences: 0,
        requests: Vec::new(),
    };
    let mut replay = Replay::new(&policy);
    for rec in &records {
        let facts = facts_of(rec, chain_id, &store);
        let (kind, simulated) = match facts {
            Ok(None) => {
                report.unruled = report.unruled.saturating_add(1);
                continue;
            }
            Ok(Some(facts)) => {
                let rejected_at = rejection_time(&store, rec)?;
                (facts.kind.name(), replay.decide(&facts, rejected_at))
            }
            Err(reason) => (rec.kind.as_str(), refused(reason)),
        };
        report.replayed = report.replayed.saturating_add(1);
        let recorded = recorded(rec);
        if same(&recorded, &simulated) {
            report.unchanged = report.unchanged.saturating_add(1);
            continue;
        }
        report.differences = report.differences.saturating_add(1);
        report.requests.push(Difference {
            request_id: rec.request_id.clone(),
            client: rec.client.clone(),
            kind: kind.to_owned(),
            wallet: rec.key_id.as_ref().map(ToString::to_string),
            registered_at: rec.registered_at,
            recorded,
            simulated,
        });
    }
    write_report(&report, opts.json, out)
}

fn read_policy(file: &Path) -> Result<Policy, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::new(format!("`{}`: {e}", file.display())))?;
    Policy::parse(&text)
        .map_err(|e| CliError::new(format!("`{}`: {} ({})", file.display(), e.message, e.code)))
}

/// The policy's view of a stored request, as its signer made it when registering it: `Ok(None)`
/// for requests roles alone govern; `Err` when it cannot be made again (the reason).
fn facts_of(rec: &RequestRecord, chain_id: u64, store: &Store) -> Result<Option<Request>, String> {
    let id = tessera_auth::RequestId::from_str(&rec.request_id)
        .map_err(|e| format!("stored request id: {e}"))?;
    let intent = Intent::parse(&rec.method, &rec.path, &rec.body, &id)
        .map_err(|e| format!("{} ({})", e.message, e.code))?;
    tessera_signer::facts::policy_request(
        &rec.client,
        &intent,
        rec.registered_at,
        chain_id,
        &StoreBook(store),
    )
    .map_err(|e| format!("{} ({})", e.message, e.code))
}

/// When an approver rejected `rec`, if one did.
fn rejection_time(store: &Store, rec: &RequestRecord) -> Result<Option<i64>, CliError> {
    if rec.ruling.decision != Decision::Rejected {
        return Ok(None);
    }
    let verdicts = store
        .verdicts(&rec.request_id)
        .map_err(|e| CliError::new(format!("verdicts on `{}`: {e}", rec.request_id)))?;
    Ok(verdicts.iter().find(|v| !v.approve).map(|v| v.at))
}

/// The replay's state: the simulated policy and what it has counted so far.
struct Replay<'p> {
    policy: &'p Policy,
    history: MemoryHistory,
    /// What the history counts, and when (if ever) each stops counting.
    counted: Vec<(Request, Option<i64>)>,
}

impl<'p> Replay<'p> {
    fn new(policy: &'p Policy) -> Self {
        Self {
            policy,
            history: MemoryHistory::new(),
            counted: Vec::new(),
        }
    }

    /// Decides `facts` at their own time and counts them unless denied.
    fn decide(&mut self, facts: &Request, rejected_at: Option<i64>) -> Outcome {
        self.forget_rejected_before(facts.at);
        let decision =
            tessera_policy::evaluate(facts, self.policy, &self.history, RiskLevel::Normal);
        let (name, group, count) = match &decision.action {
            Action::Allow => ("allow", None, None),
            Action::Deny => ("deny", None, None),
            Action::NeedsApprovals { group, count, .. } => {
                ("pending_approval", Some(group.clone()), Some(*count))
            }
        };
        if decision.action != Action::Deny {
            // Only a request held for approvals here could have met the rejection it met.
            let stops = rejected_at.filter(|_| group.is_some());
            self.history.record(facts);
            self.counted.push((facts.clone(), stops));
        }
        Outcome {
            decision: name.to_owned(),
            group,
            count,
            matched_rule: decision.matched_rule.clone(),
            limit: decision.limit.clone(),
            reason: decision.reason(),
        }
    }

    /// Stops counting the requests rejected at or before `at`.
    fn forget_rejected_before(&mut self, at: i64) {
        let before = self.counted.len();
        self.counted
            .retain(|(_, stops)| stops.is_none_or(|t| t > at));
        if self.counted.len() != before {
            self.history = MemoryHistory::new();
            for (facts, _) in &self.counted {
                self.history.record(facts);
            }
        }
    }
}

fn refused(reason: String) -> Outcome {
    Outcome {
        decision: "refused".to_owned(),
        group: None,
        count: None,
        matched_rule: None,
        limit: None,
        reason,
    }
}

fn recorded(rec: &RequestRecord) -> Recorded {
    let r = &rec.ruling;
    // Approvals change a pending request's state but keep the group and count it was ruled to
    // need: the ruling at registration is pending whenever a group is recorded.
    let decision = match (&r.approval_group, r.decision) {
        (Some(_), _) | (None, Decision::Rejected) => Decision::PendingApproval,
        (None, other) => other,
    };
    Recorded {
        decision: decision.as_str().to_owned(),
        group: r.approval_group.clone(),
        count: r.approval_group.as_ref().map(|_| r.approvals_needed),
        state: r.decision.as_str().to_owned(),
        reason: r.reason.clone(),
        policy_hash: r.policy_hash.map(hex::encode),
    }
}

fn same(recorded: &Recorded, simulated: &Outcome) -> bool {
    recorded.decision == simulated.decision
        && recorded.group == simulated.group
        && recorded.count == simulated.count
}

fn decision_text(decision: &str, group: Option<&String>, count: Option<u32>) -> String {
    match (group, count) {
        (Some(g), Some(c)) => format!("{decision} ({c} from `{g}`)"),
        _ => decision.to_owned(),
    }
}

fn write_report(report: &Report, json: bool, out: &mut impl Write) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| CliError::new(format!("cannot encode the report: {e}")))?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    writeln!(
        out,
        "policy version {} ({}) against signer {}'s history: {} request(s) replayed, {} decided \
         differently, {} unchanged, {} not governed by the policy",
        report.policy.version,
        report.policy.hash,
        report.signer,
        report.replayed,
        report.differences,
        report.unchanged,
        report.unruled
    )?;
    for d in &report.requests {
        writeln!(
            out,
            "{} {} {}: recorded {}, simulated {}: {}",
            d.request_id,
            d.client,
            d.kind,
            decision_text(
                &d.recorded.decision,
                d.recorded.group.as_ref(),
                d.recorded.count
            ),
            decision_text(
                &d.simulated.decision,
                d.simulated.group.as_ref(),
                d.simulated.count
            ),
            d.simulated.reason
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

    use super::*;
    use tessera_policy::Kind;

    const POLICY: &str = r#"
version = 1
[groups]
ops = ["approver-1", "approver-2"]
[[rules]]
name = "big-wallet-needs-one"
wallets = ["big"]
kinds = ["raw"]
action = { approvals = { group = "ops", count = 1 } }
[[rules]]
name = "raw-allowed"
kinds = ["raw"]
action = "allow"
[[limits]]
name = "raw-rate"
scope = "client"
window = "1h"
max_requests = 2
"#;

    fn raw(wallet: &str, at: i64) -> Request {
        Request {
            client: "trader".into(),
            wallet: wallet.into(),
            kind: Kind::Raw,
            chain: None,
            asset: None,
            to: None,
            amount: None,
            typed_data: None,
            at,
        }
    }

    #[test]
    fn a_rejected_request_stops_counting_when_it_was_rejected() {
        let policy = Policy::parse(POLICY).unwrap();
        let mut replay = Replay::new(&policy);
        // Held for approval, then rejected at 20: counts from 10 to 20.
        assert_eq!(
            replay.decide(&raw("big", 10), Some(20)).decision,
            "pending_approval"
        );
        assert_eq!(replay.decide(&raw("small", 11), None).decision, "allow");
        let full = replay.decide(&raw("small", 12), None);
        assert_eq!(
            (full.decision.as_str(), full.limit.as_deref()),
            ("deny", Some("raw-rate"))
        );
        // After the rejection there is room again.
        assert_eq!(replay.decide(&raw("small", 20), None).decision, "allow");
    }

    #[test]
    fn a_rejection_met_under_another_decision_does_not_apply() {
        let policy = Policy::parse(POLICY).unwrap();
        let mut replay = Replay::new(&policy);
        // Allowed outright here: no approver would have rejected it; it keeps counting.
        assert_eq!(replay.decide(&raw("small", 10), Some(11)).decision, "allow");
        assert_eq!(replay.decide(&raw("small", 12), None).decision, "allow");
        assert_eq!(replay.decide(&raw("small", 13), None).decision, "deny");
    }

    #[test]
    fn the_recorded_ruling_is_the_one_made_at_registration() {
        let mut rec = RequestRecord {
            request_id: "00".repeat(16),
            client: "trader".into(),
            jti: "j".into(),
            kind: tessera_store::RequestKind::Sign,
            key_id: None,
            scheme: None,
            message: None,
            method: "POST".into(),
            path: "/".into(),
            body: Vec::new(),
            token: String::new(),
            issued_at: 0,
            expires_at: 0,
            registered_at: 0,
            rounds: 0,
            signature: None,
            ruling: tessera_store::Ruling {
                decision: Decision::Allow,
                reason: Some("2 approvals from `ops`".into()),
                policy_hash: None,
                approval_group: Some("ops".into()),
                approvals_needed: 2,
            },
        };
        let r = recorded(&rec);
        assert_eq!(
            (r.decision.as_str(), r.state.as_str()),
            ("pending_approval", "allow")
        );
        assert_eq!((r.group.as_deref(), r.count), (Some("ops"), Some(2)));
        rec.ruling.approval_group = None;
        rec.ruling.approvals_needed = 0;
        assert_eq!(recorded(&rec).decision, "allow");
        assert_eq!(recorded(&rec).count, None);
    }
}
