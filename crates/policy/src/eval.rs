//! The evaluation: the first matching rule decides, then the limits may still deny. Pure: the
//! only outside fact it reads is the usage, through [`History`].

use tessera_eth::{U256, format_amount};

use crate::amount::{percent_of, percent_of_count};
use crate::decision::{Action, Decision};
use crate::history::{History, Usage, UsageQuery};
use crate::model::{Cap, Limit, Policy, Rule, RuleAction, Scope, TypedDataMatch};
use crate::request::{Kind, Request, RiskLevel, TypedDataFacts};

/// Decides what to do with `request` under `policy`, given the usage so far and the risk level.
///
/// Rules are tried top to bottom and the first that matches decides; when none matches, the
/// request is denied. A rule that allows (or asks for approvals) lets the request through only if
/// every limit that applies still has room for it. Anything that goes wrong inside (the history
/// cannot be read, a sum overflows) is a deny with the reason.
pub fn evaluate(
    request: &Request,
    policy: &Policy,
    history: &dyn History,
    risk: RiskLevel,
) -> Decision {
    let to = request.to.as_ref().map(|to| to.to_ascii_lowercase());
    let facts = Facts {
        request,
        to: to.as_deref(),
    };
    let Some(rule) = policy.rules().iter().find(|r| facts.matches(r, policy)) else {
        return Decision::deny(
            None,
            None,
            "no rule allows this request (deny by default)".to_owned(),
        );
    };
    let name = rule.name();
    let (action, reason) = match rule.action() {
        RuleAction::Deny => {
            return Decision::deny(
                Some(name),
                None,
                format!("rule `{name}` denies this request"),
            );
        }
        RuleAction::Allow => (Action::Allow, format!("rule `{name}` allows this request")),
        RuleAction::Approvals { group, count } => {
            let Some(members) = policy.group(group).map(|g| g.members().to_vec()) else {
                return Decision::deny(
                    Some(name),
                    None,
                    format!(
                        "internal error is a deny: rule `{name}` names group `{group}`, which is missing"
                    ),
                );
            };
            let action = Action::NeedsApprovals {
                group: group.clone(),
                count: *count,
                members,
            };
            (
                action,
                format!("rule `{name}` needs {count} approvals from group `{group}`"),
            )
        }
    };
    for limit in policy.limits() {
        if let Err(reason) = facts.check_limit(limit, policy, history, risk) {
            return Decision::deny(Some(name), Some(limit.name()), reason);
        }
    }
    Decision {
        action,
        matched_rule: Some(name.to_owned()),
        limit: None,
        reasons: vec![reason],
    }
}

/// The request, with its destination in lowercase once.
struct Facts<'a> {
    request: &'a Request,
    to: Option<&'a str>,
}

impl Facts<'_> {
    fn matches(&self, rule: &Rule, policy: &Policy) -> bool {
        let request = self.request;
        listed(rule.clients.as_deref(), Some(&request.client))
            && listed(rule.wallets.as_deref(), Some(&request.wallet))
            && self.kind_matches(rule)
            && listed(rule.chains.as_deref(), request.chain.as_deref())
            && listed(rule.assets.as_deref(), request.asset.as_deref())
            && self.to_matches(rule, policy)
            && self.amount_matches(rule)
            && rule.hours.as_ref().is_none_or(|h| h.contains(request.at))
            && rule
                .typed_data
                .as_ref()
                .is_none_or(|m| self.typed_data_matches(m))
    }

    /// Without `kinds`, a rule matches every kind but raw: raw signing needs a rule that names it.
    fn kind_matches(&self, rule: &Rule) -> bool {
        match &rule.kinds {
            Some(kinds) => kinds.contains(&self.request.kind),
            None => self.request.kind != Kind::Raw,
        }
    }

    fn to_matches(&self, rule: &Rule, policy: &Policy) -> bool {
        let Some(book) = &rule.to else {
            return true;
        };
        match (policy.address_book(book), self.to) {
            (Some(book), Some(to)) => book.contains(to),
            _ => false,
        }
    }

    /// A request at most the rule's `max_amount`, in the request's asset's units, exactly.
    fn amount_matches(&self, rule: &Rule) -> bool {
        let Some(max) = &rule.max_amount else {
            return true;
        };
        let Some(amount) = self.request.amount else {
            return false;
        };
        // A maximum past 256 bits is above every amount.
        max.to_base_units(amount.decimals)
            .is_none_or(|max| amount.base_units <= max)
    }

    fn typed_data_matches(&self, m: &TypedDataMatch) -> bool {
        let Some(TypedDataFacts {
            domain_name,
            verifying_contract,
            primary_type,
        }) = self.request.typed_data.as_ref()
        else {
            return false;
        };
        let contract_listed = |list: &[String]| {
            verifying_contract
                .as_deref()
                .is_some_and(|c| list.iter().any(|l| l.eq_ignore_ascii_case(c)))
        };
        self.request.kind == Kind::TypedData
            && listed(m.domains.as_deref(), domain_name.as_deref())
            && m.verifying_contracts.as_deref().is_none_or(contract_listed)
            && listed(m.primary_types.as_deref(), Some(primary_type))
    }

    /// `Ok` when the limit does not apply or has room for this request; else why not.
    fn check_limit(
        &self,
        limit: &Limit,
        policy: &Policy,
        history: &dyn History,
        risk: RiskLevel,
    ) -> Result<(), String> {
        let request = self.request;
        let name = limit.name();
        if !listed(limit.assets.as_deref(), request.asset.as_deref()) {
            return Ok(());
        }
        let value = match limit.scope {
            Scope::Wallet => request.wallet.as_str(),
            Scope::Client => request.client.as_str(),
            Scope::Destination => match self.to {
                Some(to) => to,
                None => return Ok(()),
            },
        };
        let percent = policy.risk_percent(risk);
        let per = || format!("per {} `{value}` in {}", limit.scope, limit.window);
        match &limit.cap {
            Cap::Amount(max) => {
                let (Some(asset), Some(amount)) = (request.asset.as_deref(), request.amount) else {
                    return Ok(());
                };
                let used = self.usage(limit, value, Some(asset), history)?.amount;
                let decimals = amount.decimals;
                let max_units = max.to_base_units(decimals).ok_or_else(|| {
                    internal(
                        name,
                        format!("`{max}` {asset} does not fit 256 bits in base units"),
                    )
                })?;
                let cap = percent_of(max_units, percent);
                let total = used.checked_add(amount.base_units).ok_or_else(|| {
                    internal(name, "the amount used overflows 256 bits".to_owned())
                })?;
                if total <= cap {
                    return Ok(());
                }
                let show = |units: U256| format!("{} {asset}", format_amount(units, decimals));
                Err(format!(
                    "limit `{name}` allows {} {}: {} used, this request is {}",
                    scaled(show(cap), &show(max_units), percent, risk),
                    per(),
                    show(used),
                    show(amount.base_units),
                ))
            }
            Cap::Requests(max) => {
                // Without `assets`, every request counts, whatever its asset.
                let asset = limit.assets.as_ref().and(request.asset.as_deref());
                let used = self.usage(limit, value, asset, history)?.requests;
                let cap = percent_of_count(*max, percent);
                if used < cap {
                    return Ok(());
                }
                Err(format!(
                    "limit `{name}` allows {} requests {}: {used} used, this request would be one more",
                    scaled(cap.to_string(), &max.to_string(), percent, risk),
                    per(),
                ))
            }
        }
    }

    /// The usage in the limit's window that ends with this request: `(at - window, at]`.
    fn usage(
        &self,
        limit: &Limit,
        value: &str,
        asset: Option<&str>,
        history: &dyn History,
    ) -> Result<Usage, String> {
        let at = self.request.at;
        let since = i64::try_from(limit.window.secs())
            .ok()
            .and_then(|window| at.checked_sub(window))
            .ok_or_else(|| {
                internal(
                    limit.name(),
                    format!("the window before {at} is out of range"),
                )
            })?;
        let query = UsageQuery {
            scope: limit.scope,
            value,
            asset,
            since,
        };
        history.usage(&query).map_err(|e| {
            internal(
                limit.name(),
                format!("the usage could not be read: {}", e.message),
            )
        })
    }
}

/// The reason of a deny caused by something going wrong while checking a limit.
fn internal(limit: &str, why: String) -> String {
    format!("internal error is a deny: limit `{limit}`: {why}")
}

/// Whether `value` is in `list`; no list matches anything, a missing value matches no list.
fn listed(list: Option<&[String]>, value: Option<&str>) -> bool {
    match (list, value) {
        (None, _) => true,
        (Some(list), Some(value)) => list.iter().any(|l| l == value),
        (Some(_), None) => false,
    }
}

/// A cap as shown in a reason: the figure, and the full maximum when risk scaled it.
fn scaled(cap: String, max: &str, percent: u8, risk: RiskLevel) -> String {
    if percent == 100 {
        cap
    } else {
        format!("{cap} ({percent}% of {max} at {risk} risk)")
    }
}
