//! Properties of the evaluation, over random policies and requests:
//!
//! 1. deny by default: rules that cannot match, or no rules, deny every request;
//! 2. first match: the decision is the action of the first rule that a plain matcher (in
//!    `properties/model.rs`, written without the crate's code) says matches;
//! 3. limits hold: requests evaluated in any order, the allowed ones recorded, never add up to
//!    more than a limit in any window.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the test"
)]

#[path = "properties/model.rs"]
mod model;

use std::fmt::Write as _;

use model::{
    ADDRESSES, ASSETS, ActionModel, BOOKS, CHAINS, CLIENTS, DOMAINS, MEMBERS, MIDNIGHT,
    PRIMARY_TYPES, RuleModel, TypedDataModel, WALLETS, amount_text, decimals_of, header, in_list,
    list, model_matches, rules_text,
};
use proptest::prelude::*;
use proptest::sample::subsequence;
use tessera_policy::{
    Action, AssetAmount, Decision, Kind, MemoryHistory, Policy, Request, RiskLevel, TypedDataFacts,
    U256, evaluate,
};

// ---- Strategies ----

fn some_of<T: Clone + std::fmt::Debug + 'static>(
    items: &[T],
) -> impl Strategy<Value = Option<Vec<T>>> + use<T> {
    let items = items.to_vec();
    let len = items.len();
    // Mostly absent, so that rules with several conditions still match now and then.
    prop::option::weighted(0.35, subsequence(items, 1..=len))
}

fn typed_data_model() -> impl Strategy<Value = TypedDataModel> {
    (
        some_of(&DOMAINS),
        some_of(&ADDRESSES[..2]),
        some_of(&PRIMARY_TYPES),
    )
        .prop_map(|(domains, contracts, primary_types)| TypedDataModel {
            domains,
            contracts,
            primary_types,
        })
}

fn hours() -> impl Strategy<Value = (u32, u32)> {
    (0u32..48, 1u32..=48)
        .prop_map(|(start, end)| (start * 30, end * 30))
        .prop_filter("start and end differ", |(start, end)| start != end)
}

fn rule_model() -> impl Strategy<Value = RuleModel> {
    let matchers = (
        some_of(&CLIENTS),
        some_of(&WALLETS),
        some_of(&Kind::ALL),
        some_of(&CHAINS),
        some_of(&ASSETS),
        prop::option::of(prop::sample::select(BOOKS.to_vec())),
    );
    let more = (
        prop::option::of((1u128..=30, 0u32..=2)),
        prop::option::of(hours()),
        prop::option::weighted(0.3, typed_data_model()),
        prop_oneof![
            Just(ActionModel::Allow),
            Just(ActionModel::Deny),
            (1u32..=3).prop_map(ActionModel::Approvals),
        ],
    );
    (matchers, more).prop_map(
        |(
            (clients, wallets, kinds, chains, assets, to),
            (max_amount, hours, typed_data, action),
        )| {
            let mut rule = RuleModel {
                clients,
                wallets,
                kinds,
                chains,
                assets,
                to,
                max_amount,
                hours,
                typed_data,
                action,
            };
            // What the parser would refuse: an amount without assets, typed data that `kinds`
            // leaves out.
            if rule.max_amount.is_some() && rule.assets.is_none() {
                rule.assets = Some(vec!["ETH", "USDC"]);
            }
            if let (Some(_), Some(kinds)) = (&rule.typed_data, &mut rule.kinds)
                && !kinds.contains(&Kind::TypedData)
            {
                kinds.push(Kind::TypedData);
            }
            rule
        },
    )
}

/// Amounts around the rules' thresholds: `mantissa * 10^exp`, give or take one.
fn base_units(decimals: u8) -> impl Strategy<Value = u128> {
    (1u128..=40, 0u32..=u32::from(decimals) + 1, -1i128..=1).prop_map(|(m, exp, nudge)| {
        let value = i128::try_from(m * 10u128.pow(exp)).unwrap() + nudge;
        u128::try_from(value.max(0)).unwrap()
    })
}

fn request() -> impl Strategy<Value = Request> {
    let who = (
        prop::sample::select(CLIENTS.to_vec()),
        prop::sample::select(WALLETS.to_vec()),
        prop::sample::select(Kind::ALL.to_vec()),
        prop::option::of(prop::sample::select(CHAINS.to_vec())),
        prop::option::of(prop::sample::select(ADDRESSES.to_vec())),
    );
    let asset = prop::option::of(prop::sample::select(ASSETS.to_vec())).prop_flat_map(|asset| {
        let decimals = asset.map_or(18, decimals_of);
        (
            Just(asset),
            prop::option::of(base_units(decimals)),
            Just(decimals),
        )
    });
    let typed = prop::option::weighted(
        0.8,
        (
            prop::option::of(prop::sample::select(DOMAINS.to_vec())),
            prop::option::of(prop::sample::select(ADDRESSES.to_vec())),
            prop::sample::select(PRIMARY_TYPES.to_vec()),
        ),
    );
    // Times around the half hours, where `hours` change their mind.
    let at =
        (0i64..96, -1i64..=1).prop_map(|(half_hours, nudge)| MIDNIGHT + half_hours * 1_800 + nudge);
    (who, asset, typed, at).prop_map(
        |((client, wallet, kind, chain, to), (asset, amount, decimals), typed, at)| Request {
            client: client.into(),
            wallet: wallet.into(),
            kind,
            chain: chain.map(Into::into),
            asset: asset.map(Into::into),
            to: to.map(Into::into),
            amount: amount.map(|base| AssetAmount {
                base_units: U256::from(base),
                decimals,
            }),
            typed_data: typed.map(|(domain, contract, primary)| TypedDataFacts {
                domain_name: domain.map(Into::into),
                verifying_contract: contract.map(Into::into),
                primary_type: primary.into(),
            }),
            at,
        },
    )
}

fn risk() -> impl Strategy<Value = RiskLevel> {
    prop::sample::select(RiskLevel::ALL.to_vec())
}

fn expected_action(rule: &RuleModel) -> Action {
    match rule.action {
        ActionModel::Allow => Action::Allow,
        ActionModel::Deny => Action::Deny,
        ActionModel::Approvals(count) => Action::NeedsApprovals {
            group: "ops".into(),
            count,
            members: MEMBERS.iter().map(|m| (*m).to_owned()).collect(),
        },
    }
}

fn decide(request: &Request, policy: &Policy, risk: RiskLevel) -> Decision {
    evaluate(request, policy, &MemoryHistory::new(), risk)
}

proptest! {
    #[test]
    fn no_rules_deny_everything(request in request(), risk in risk()) {
        let policy = Policy::parse(&header()).unwrap();
        let decision = decide(&request, &policy, risk);
        prop_assert!(decision.is_denied());
        prop_assert_eq!(decision.matched_rule, None);
    }

    #[test]
    fn rules_for_other_clients_deny_everything(
        rules in prop::collection::vec(rule_model(), 1..8),
        request in request(),
        risk in risk(),
    ) {
        let rules: Vec<RuleModel> = rules
            .into_iter()
            .map(|rule| RuleModel { clients: Some(vec!["dave", "erin"]), ..rule })
            .collect();
        let policy = Policy::parse(&(header() + &rules_text(&rules))).unwrap();
        let decision = decide(&request, &policy, risk);
        prop_assert!(decision.is_denied());
        prop_assert_eq!(decision.matched_rule, None);
    }

    #[test]
    fn the_first_rule_that_matches_decides(
        rules in prop::collection::vec(rule_model(), 0..12),
        request in request(),
        risk in risk(),
    ) {
        let text = header() + &rules_text(&rules);
        let policy = Policy::parse(&text).unwrap();
        let decision = decide(&request, &policy, risk);
        match rules.iter().position(|rule| model_matches(rule, &request)) {
            None => {
                prop_assert!(decision.is_denied(), "{:?}", decision);
                prop_assert_eq!(decision.matched_rule, None);
            }
            Some(i) => {
                prop_assert_eq!(decision.matched_rule, Some(format!("r{i}")));
                prop_assert_eq!(decision.action, expected_action(&rules[i]));
            }
        }
    }
}

// ---- Limits under any order ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum ScopeModel {
    Wallet,
    Client,
    Destination,
}

#[derive(Debug, Clone)]
struct LimitModel {
    scope: ScopeModel,
    assets: Option<Vec<&'static str>>,
    window: i64,
    /// `(digits, scale)` of `max_amount`, or `max_requests`.
    cap: Result<(u128, u32), u64>,
}

fn limit_model() -> impl Strategy<Value = LimitModel> {
    (
        prop::sample::select(vec![
            ScopeModel::Wallet,
            ScopeModel::Client,
            ScopeModel::Destination,
        ]),
        some_of(&ASSETS),
        1i64..=120,
        prop_oneof![
            (1u128..=60, 0u32..=1).prop_map(Ok),
            (1u64..=6).prop_map(Err)
        ],
    )
        .prop_map(|(scope, assets, window, cap)| {
            let assets = match (&cap, assets) {
                (Ok(_), None) => Some(vec!["USDC", "TOK"]),
                (_, assets) => assets,
            };
            LimitModel {
                scope,
                assets,
                window,
                cap,
            }
        })
}

fn limits_text(limits: &[LimitModel]) -> String {
    let mut text = String::from(
        "[[rules]]\nname = \"all\"\nkinds = [\"transfer\", \"raw\", \"typed_data\", \"message\"]\naction = \"allow\"\n",
    );
    for (i, limit) in limits.iter().enumerate() {
        let scope = match limit.scope {
            ScopeModel::Wallet => "wallet",
            ScopeModel::Client => "client",
            ScopeModel::Destination => "destination",
        };
        writeln!(
            text,
            "[[limits]]\nname = \"l{i}\"\nscope = \"{scope}\"\nwindow = \"{}s\"",
            limit.window
        )
        .unwrap();
        if let Some(assets) = &limit.assets {
            writeln!(text, "assets = {}", list(assets)).unwrap();
        }
        match limit.cap {
            Ok((digits, scale)) => {
                writeln!(text, "max_amount = \"{}\"", amount_text(digits, scale))
            }
            Err(count) => writeln!(text, "max_requests = {count}"),
        }
        .unwrap();
    }
    text
}

/// A request for the limits test: small amounts in the test's assets, near the limits' sizes.
fn small_request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(CLIENTS[..2].to_vec()),
        prop::sample::select(WALLETS[..2].to_vec()),
        prop::option::of(prop::sample::select(ADDRESSES[..2].to_vec())),
        prop::option::of(prop::sample::select(vec!["USDC", "TOK"])),
        prop::option::of(1u64..=9),
        0i64..300,
    )
        .prop_map(|(client, wallet, to, asset, amount, at)| Request {
            client: client.into(),
            wallet: wallet.into(),
            kind: Kind::Transfer,
            chain: None,
            asset: asset.map(Into::into),
            to: to.map(Into::into),
            amount: asset.zip(amount).map(|(asset, a)| {
                // A quarter of a unit of USDC, one unit of TOK.
                let decimals = decimals_of(asset);
                let unit = if decimals == 0 {
                    1
                } else {
                    10u64.pow(u32::from(decimals)) / 4
                };
                AssetAmount {
                    base_units: U256::from(a * unit),
                    decimals,
                }
            }),
            typed_data: None,
            at: MIDNIGHT + at,
        })
}

/// Checks every window of every limit over the recorded requests, by brute force.
fn check_limits(limits: &[LimitModel], recorded: &[Request]) -> Result<(), TestCaseError> {
    for (i, limit) in limits.iter().enumerate() {
        let value_of = |r: &Request| match limit.scope {
            ScopeModel::Wallet => Some(r.wallet.clone()),
            ScopeModel::Client => Some(r.client.clone()),
            ScopeModel::Destination => r.to.clone(),
        };
        let counted = |r: &Request| {
            value_of(r).is_some()
                && in_list(&limit.assets, r.asset.as_deref())
                && (limit.cap.is_err() || r.amount.is_some())
        };
        for end in recorded.iter().filter(|r| counted(r)) {
            // The window (end.at - window, end.at] of end's scope value, and of its asset when the
            // limit lists assets: each is capped separately.
            let same = |r: &&Request| {
                counted(r)
                    && value_of(r) == value_of(end)
                    && r.at > end.at - limit.window
                    && r.at <= end.at
                    && (limit.assets.is_none() || r.asset == end.asset)
            };
            let in_window: Vec<&Request> = recorded.iter().filter(same).collect();
            match limit.cap {
                Err(max) => prop_assert!(
                    in_window.len() as u64 <= max,
                    "limit l{} over {} requests",
                    i,
                    max
                ),
                Ok((digits, scale)) => {
                    let decimals = u32::from(decimals_of(end.asset.as_deref().unwrap()));
                    let max = digits * 10u128.pow(decimals) / 10u128.pow(scale);
                    let sum: u128 = in_window
                        .iter()
                        .map(|r| u128::try_from(r.amount.unwrap().base_units).unwrap())
                        .sum();
                    prop_assert!(sum <= max, "limit l{} over {} base units: {}", i, max, sum);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn limits_hold_whatever_the_order(
        limits in prop::collection::vec(limit_model(), 1..4),
        requests in prop::collection::vec((small_request(), risk()), 1..60)
            .prop_shuffle(),
    ) {
        let policy = Policy::parse(&(header() + &limits_text(&limits))).unwrap();
        let mut history = MemoryHistory::new();
        let mut recorded = Vec::new();
        for (request, risk) in &requests {
            let decision = evaluate(request, &policy, &history, *risk);
            if !decision.is_denied() {
                history.record(request);
                recorded.push(request.clone());
            } else {
                prop_assert!(decision.limit.is_some(), "{:?}", decision);
            }
        }
        check_limits(&limits, &recorded)?;
    }
}
