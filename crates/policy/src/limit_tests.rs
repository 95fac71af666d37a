//! Limits: per wallet, client and destination, per asset, in a half-open window, scaled by risk,
//! and a deny when the usage cannot be read.

use tessera_eth::U256;

use crate::eval_tests::{HOUR, NOON, OTHER, TREASURY, allow_if, eth, policy, transfer, usdc, wei};
use crate::{
    Decision, History, HistoryError, Kind, MemoryHistory, Policy, Request, RiskLevel, Usage,
    UsageQuery, evaluate,
};

/// Allows everything but raw, under one limit given by its fields.
fn limited(limit: &str) -> Policy {
    policy(&format!(
        "[[rules]]\nname = \"r\"\naction = \"allow\"\n[[limits]]\nname = \"cap\"\n{limit}\n"
    ))
}

/// Evaluates the requests in order, recording the ones not denied; returns the decisions.
fn run(policy: &Policy, requests: &[Request], risk: RiskLevel) -> Vec<Decision> {
    let mut history = MemoryHistory::new();
    requests
        .iter()
        .map(|r| {
            let decision = evaluate(r, policy, &history, risk);
            if !decision.is_denied() {
                history.record(r);
            }
            decision
        })
        .collect()
}

fn allowed_pattern(decisions: &[Decision]) -> Vec<bool> {
    decisions.iter().map(Decision::is_allowed).collect()
}

#[test]
fn amount_limits_count_per_wallet_and_name_the_figures() {
    let p =
        limited("scope = \"wallet\"\nassets = [\"ETH\"]\nwindow = \"1h\"\nmax_amount = \"3.0\"");
    let one = |wallet: &str, at| Request {
        wallet: wallet.into(),
        amount: eth("1"),
        at,
        ..transfer()
    };
    let requests = [
        one("hot-1", NOON),
        one("hot-1", NOON + 1),
        Request {
            amount: eth("0.5"),
            ..one("hot-1", NOON + 2)
        },
        one("hot-2", NOON + 3),
        one("hot-1", NOON + 4),
        Request {
            amount: eth("0.5"),
            ..one("hot-1", NOON + 5)
        },
        one("hot-1", NOON + HOUR),
        Request {
            amount: eth("1.5"),
            ..one("hot-1", NOON + HOUR + 1)
        },
    ];
    let decisions = run(&p, &requests, RiskLevel::Normal);
    assert_eq!(
        allowed_pattern(&decisions),
        [true, true, true, true, false, true, true, false]
    );
    let denied = &decisions[4];
    assert_eq!(denied.limit.as_deref(), Some("cap"));
    assert_eq!(denied.matched_rule.as_deref(), Some("r"));
    assert_eq!(
        denied.reason(),
        "limit `cap` allows 3 ETH per wallet `hot-1` in 1h: 2.5 ETH used, this request is 1 ETH"
    );
}

#[test]
fn amount_limits_leave_other_assets_and_requests_without_amounts_alone() {
    let p = limited("scope = \"wallet\"\nassets = [\"ETH\"]\nwindow = \"1h\"\nmax_amount = \"1\"");
    let history = {
        let mut h = MemoryHistory::new();
        h.record(&Request {
            amount: eth("1"),
            ..transfer()
        });
        h
    };
    let usdc_request = Request {
        asset: Some("USDC".into()),
        amount: usdc("5"),
        ..transfer()
    };
    let message = Request {
        kind: Kind::Message,
        asset: None,
        amount: None,
        to: None,
        ..transfer()
    };
    let eth_without_amount = Request {
        amount: None,
        ..transfer()
    };
    for r in [usdc_request, message, eth_without_amount] {
        assert!(
            evaluate(&r, &p, &history, RiskLevel::Normal).is_allowed(),
            "{r:?}"
        );
    }
    assert!(evaluate(&transfer(), &p, &history, RiskLevel::Normal).is_denied());
}

#[test]
fn several_assets_are_capped_separately_in_their_units() {
    let p = limited(
        "scope = \"client\"\nassets = [\"ETH\", \"USDC\"]\nwindow = \"1d\"\nmax_amount = \"2\"",
    );
    let usdc_of = |amount| Request {
        asset: Some("USDC".into()),
        amount: usdc(amount),
        ..transfer()
    };
    let requests = [
        Request {
            amount: eth("2"),
            ..transfer()
        },
        usdc_of("1.5"),
        usdc_of("0.5"),
        usdc_of("0.000001"),
        Request {
            amount: wei("1"),
            ..transfer()
        },
    ];
    assert_eq!(
        allowed_pattern(&run(&p, &requests, RiskLevel::Normal)),
        [true, true, true, false, false]
    );
}

#[test]
fn request_limits_count_per_client_across_assets() {
    let p = limited("scope = \"client\"\nwindow = \"1m\"\nmax_requests = 2");
    let requests = [
        transfer(),
        Request {
            kind: Kind::Message,
            asset: None,
            amount: None,
            wallet: "hot-9".into(),
            ..transfer()
        },
        Request {
            client: "bot".into(),
            ..transfer()
        },
        transfer(),
        Request {
            at: NOON + 59,
            ..transfer()
        },
        Request {
            at: NOON + 60,
            ..transfer()
        },
    ];
    let decisions = run(&p, &requests, RiskLevel::Normal);
    assert_eq!(
        allowed_pattern(&decisions),
        [true, true, true, false, false, true]
    );
    assert_eq!(
        decisions[3].reason(),
        "limit `cap` allows 2 requests per client `trader` in 1m: 2 used, this request would be one more"
    );
}

#[test]
fn request_limits_with_assets_count_only_those() {
    let p = limited("scope = \"wallet\"\nassets = [\"USDC\"]\nwindow = \"1h\"\nmax_requests = 1");
    let usdc_request = Request {
        asset: Some("USDC".into()),
        amount: usdc("1"),
        ..transfer()
    };
    let requests = [transfer(), usdc_request.clone(), transfer(), usdc_request];
    assert_eq!(
        allowed_pattern(&run(&p, &requests, RiskLevel::Normal)),
        [true, true, true, false]
    );
}

#[test]
fn destination_limits_count_per_address_and_skip_requests_without_one() {
    let p =
        limited("scope = \"destination\"\nassets = [\"ETH\"]\nwindow = \"1h\"\nmax_amount = \"1\"");
    let requests = [
        Request {
            amount: eth("1"),
            ..transfer()
        },
        Request {
            amount: eth("1"),
            to: Some(OTHER.into()),
            wallet: "hot-2".into(),
            ..transfer()
        },
        Request {
            amount: wei("1"),
            client: "bot".into(),
            wallet: "hot-3".into(),
            ..transfer()
        },
        Request {
            amount: wei("1"),
            to: Some(TREASURY.to_uppercase().replace("0X", "0x")),
            ..transfer()
        },
        Request {
            amount: eth("5"),
            to: None,
            ..transfer()
        },
    ];
    assert_eq!(
        allowed_pattern(&run(&p, &requests, RiskLevel::Normal)),
        [true, true, false, false, true]
    );
}

#[test]
fn the_window_is_half_open() {
    let p = limited("scope = \"wallet\"\nwindow = \"10s\"\nmax_requests = 1");
    let at = |t| Request {
        at: NOON + t,
        ..transfer()
    };
    // Recorded at 0: counted at 9 (inside (-1, 9]), not at 10 (outside (0, 10]).
    assert_eq!(
        allowed_pattern(&run(&p, &[at(0), at(9), at(10)], RiskLevel::Normal)),
        [true, false, true]
    );
    // A request recorded later than the one evaluated still counts.
    assert_eq!(
        allowed_pattern(&run(&p, &[at(5), at(0)], RiskLevel::Normal)),
        [true, false]
    );
}

#[test]
fn risk_scales_every_limit_down() {
    let amount =
        limited("scope = \"wallet\"\nassets = [\"ETH\"]\nwindow = \"1h\"\nmax_amount = \"3\"");
    let requests = vec![
        Request {
            amount: eth("1"),
            ..transfer()
        };
        4
    ];
    let count = |p: &Policy, risk| {
        run(p, &requests, risk)
            .iter()
            .filter(|d| d.is_allowed())
            .count()
    };
    assert_eq!(count(&amount, RiskLevel::Normal), 3);
    // 50% of 3 ETH is 1.5 ETH; 10% is 0.3 ETH.
    assert_eq!(count(&amount, RiskLevel::Elevated), 1);
    assert_eq!(count(&amount, RiskLevel::Critical), 0);
    let decisions = run(&amount, &requests, RiskLevel::Elevated);
    assert_eq!(
        decisions[1].reason(),
        "limit `cap` allows 1.5 ETH (50% of 3 ETH at elevated risk) per wallet `hot-1` in 1h: 1 ETH used, this request is 1 ETH"
    );
    let requests_limit = limited("scope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 15");
    let many = vec![transfer(); 20];
    let count = |risk| {
        run(&requests_limit, &many, risk)
            .iter()
            .filter(|d| d.is_allowed())
            .count()
    };
    assert_eq!(count(RiskLevel::Normal), 15);
    assert_eq!(count(RiskLevel::Elevated), 7);
    assert_eq!(count(RiskLevel::Critical), 1);
    // A rule without limits is not affected.
    assert!(
        evaluate(
            &transfer(),
            &allow_if(""),
            &MemoryHistory::new(),
            RiskLevel::Critical
        )
        .is_allowed()
    );
}

#[test]
fn risk_at_zero_percent_stops_everything_limited() {
    let p = policy(
        "[risk]\nelevated_percent = 0\ncritical_percent = 0\n[[rules]]\nname = \"r\"\naction = \"allow\"\n\
         [[limits]]\nname = \"cap\"\nscope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 1000\n",
    );
    let decision = evaluate(&transfer(), &p, &MemoryHistory::new(), RiskLevel::Elevated);
    assert!(decision.is_denied());
    assert_eq!(decision.limit.as_deref(), Some("cap"));
}

struct Broken;

impl History for Broken {
    fn usage(&self, _: &UsageQuery<'_>) -> Result<Usage, HistoryError> {
        Err(HistoryError::new("database is locked"))
    }
}

struct Full;

impl History for Full {
    fn usage(&self, _: &UsageQuery<'_>) -> Result<Usage, HistoryError> {
        Ok(Usage {
            amount: U256::MAX,
            requests: u64::MAX,
        })
    }
}

#[test]
fn errors_inside_are_a_deny() {
    let p = limited("scope = \"wallet\"\nassets = [\"ETH\"]\nwindow = \"1h\"\nmax_amount = \"3\"");
    let decision = evaluate(&transfer(), &p, &Broken, RiskLevel::Normal);
    assert!(decision.is_denied());
    assert_eq!(decision.limit.as_deref(), Some("cap"));
    assert!(
        decision.reason().contains("internal error is a deny"),
        "{}",
        decision.reason()
    );
    assert!(decision.reason().contains("database is locked"));
    let decision = evaluate(&transfer(), &p, &Full, RiskLevel::Normal);
    assert!(decision.is_denied());
    assert!(
        decision.reason().contains("overflows"),
        "{}",
        decision.reason()
    );
    let far_past = Request {
        at: i64::MIN + 5,
        ..transfer()
    };
    assert!(evaluate(&far_past, &p, &MemoryHistory::new(), RiskLevel::Normal).is_denied());
    let requests = limited("scope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 1");
    assert!(evaluate(&transfer(), &requests, &Full, RiskLevel::Normal).is_denied());
    // No limit applies: nothing to read, nothing to fail.
    assert!(evaluate(&transfer(), &allow_if(""), &Broken, RiskLevel::Normal).is_allowed());
}

#[test]
fn a_deny_rule_skips_the_limits() {
    let p = policy(
        "[[rules]]\nname = \"stop\"\naction = \"deny\"\n\
         [[limits]]\nname = \"cap\"\nscope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 1\n",
    );
    let decision = evaluate(&transfer(), &p, &Broken, RiskLevel::Normal);
    assert_eq!(decision.limit, None);
    assert_eq!(decision.reason(), "rule `stop` denies this request");
}

#[test]
fn limits_apply_to_requests_waiting_for_approvals() {
    let p = policy(
        "[[rules]]\nname = \"big\"\naction = { approvals = { group = \"ops\", count = 1 } }\n\
         [[limits]]\nname = \"cap\"\nscope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 1\n",
    );
    let decisions = run(&p, &[transfer(), transfer()], RiskLevel::Normal);
    assert_eq!(decisions[0].action.name(), "pending_approval");
    assert!(decisions[1].is_denied());
}
