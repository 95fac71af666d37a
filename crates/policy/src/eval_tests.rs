//! Evaluating requests against rules: each condition of a rule, the order of rules, raw signing,
//! approvals. Limits are in `limit_tests.rs`.

use tessera_eth::parse_amount;

use crate::{
    Action, AssetAmount, Decision, Kind, MemoryHistory, Policy, Request, RiskLevel, TypedDataFacts,
    evaluate,
};

pub(crate) const TREASURY: &str = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
pub(crate) const OTHER: &str = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";
const PERMIT2: &str = "0x000000000022d473030f116ddee9f6b43ac78ba3";
/// 2023-11-14 12:00:00 UTC.
pub(crate) const NOON: i64 = 1_699_963_200;
pub(crate) const HOUR: i64 = 3_600;

pub(crate) fn policy(body: &str) -> Policy {
    Policy::parse(&format!(
        "version = 1\n[address_books]\ntreasury = [\"{TREASURY}\"]\n[groups]\nops = [\"a\", \"b\", \"c\"]\n{body}"
    ))
    .unwrap()
}

/// One rule with `fields` that allows.
pub(crate) fn allow_if(fields: &str) -> Policy {
    policy(&format!(
        "[[rules]]\nname = \"r\"\n{fields}\naction = \"allow\"\n"
    ))
}

pub(crate) fn eth(amount: &str) -> Option<AssetAmount> {
    Some(AssetAmount {
        base_units: parse_amount(amount, 18).unwrap(),
        decimals: 18,
    })
}

pub(crate) fn wei(n: &str) -> Option<AssetAmount> {
    Some(AssetAmount {
        base_units: n.parse().unwrap(),
        decimals: 18,
    })
}

pub(crate) fn usdc(amount: &str) -> Option<AssetAmount> {
    Some(AssetAmount {
        base_units: parse_amount(amount, 6).unwrap(),
        decimals: 6,
    })
}

/// A transfer of 0.5 ETH from `trader`'s wallet `hot-1` to the treasury, at noon.
pub(crate) fn transfer() -> Request {
    Request {
        client: "trader".into(),
        wallet: "hot-1".into(),
        kind: Kind::Transfer,
        chain: Some("ethereum".into()),
        asset: Some("ETH".into()),
        to: Some(TREASURY.into()),
        amount: eth("0.5"),
        typed_data: None,
        at: NOON,
    }
}

fn decide(policy: &Policy, request: &Request) -> Decision {
    evaluate(request, policy, &MemoryHistory::new(), RiskLevel::Normal)
}

fn allowed(policy: &Policy, request: &Request) -> bool {
    let decision = decide(policy, request);
    assert!(!decision.reasons.is_empty());
    decision.is_allowed()
}

#[test]
fn no_rule_means_deny() {
    let decision = decide(&policy(""), &transfer());
    assert_eq!(decision.action, Action::Deny);
    assert_eq!(decision.matched_rule, None);
    assert_eq!(decision.limit, None);
    assert!(
        decision.reason().contains("deny by default"),
        "{}",
        decision.reason()
    );
}

#[test]
fn the_first_matching_rule_decides() {
    let p = policy(
        "[[rules]]\nname = \"others\"\nclients = [\"bot\"]\naction = \"allow\"\n\
         [[rules]]\nname = \"block-hot-1\"\nwallets = [\"hot-1\"]\naction = \"deny\"\n\
         [[rules]]\nname = \"everything\"\naction = \"allow\"\n",
    );
    let decision = decide(&p, &transfer());
    assert!(decision.is_denied());
    assert_eq!(decision.matched_rule.as_deref(), Some("block-hot-1"));
    assert!(
        decision.reason().contains("rule `block-hot-1`"),
        "{}",
        decision.reason()
    );
    let other_wallet = Request {
        wallet: "hot-2".into(),
        ..transfer()
    };
    let decision = decide(&p, &other_wallet);
    assert!(decision.is_allowed());
    assert_eq!(decision.matched_rule.as_deref(), Some("everything"));
    assert!(decision.reason().contains("rule `everything`"));
}

#[test]
fn clients_wallets_chains_and_assets_must_be_listed() {
    let r = transfer();
    assert!(allowed(&allow_if("clients = [\"bot\", \"trader\"]"), &r));
    assert!(!allowed(&allow_if("clients = [\"bot\"]"), &r));
    assert!(!allowed(&allow_if("clients = [\"Trader\"]"), &r));
    assert!(allowed(&allow_if("wallets = [\"hot-1\"]"), &r));
    assert!(!allowed(&allow_if("wallets = [\"hot-10\"]"), &r));
    assert!(allowed(&allow_if("chains = [\"ethereum\"]"), &r));
    assert!(!allowed(&allow_if("chains = [\"sepolia\"]"), &r));
    assert!(!allowed(
        &allow_if("chains = [\"ethereum\"]"),
        &Request {
            chain: None,
            ..transfer()
        }
    ));
    assert!(allowed(&allow_if("assets = [\"USDC\", \"ETH\"]"), &r));
    assert!(!allowed(&allow_if("assets = [\"eth\"]"), &r));
    assert!(!allowed(
        &allow_if("assets = [\"ETH\"]"),
        &Request {
            asset: None,
            ..transfer()
        }
    ));
}

#[test]
fn kinds_must_be_listed() {
    let p = allow_if("kinds = [\"transfer\", \"message\"]");
    assert!(allowed(&p, &transfer()));
    assert!(allowed(
        &p,
        &Request {
            kind: Kind::Message,
            ..transfer()
        }
    ));
    assert!(!allowed(
        &p,
        &Request {
            kind: Kind::TypedData,
            ..transfer()
        }
    ));
    assert!(!allowed(
        &p,
        &Request {
            kind: Kind::Raw,
            ..transfer()
        }
    ));
}

#[test]
fn raw_is_denied_unless_a_rule_lists_it() {
    let raw = Request {
        kind: Kind::Raw,
        ..transfer()
    };
    let anything = allow_if("");
    for kind in [Kind::Transfer, Kind::TypedData, Kind::Message] {
        assert!(
            allowed(&anything, &Request { kind, ..transfer() }),
            "{kind}"
        );
    }
    let decision = decide(&anything, &raw);
    assert!(decision.is_denied());
    assert_eq!(decision.matched_rule, None);
    assert!(allowed(&allow_if("kinds = [\"raw\"]"), &raw));
    assert!(allowed(&Policy::permissive_dev(), &raw));
}

#[test]
fn to_must_be_in_the_address_book() {
    let p = allow_if("to = \"treasury\"");
    assert!(allowed(&p, &transfer()));
    assert!(allowed(
        &p,
        &Request {
            to: Some(TREASURY.to_uppercase().replace("0X", "0x")),
            ..transfer()
        }
    ));
    assert!(!allowed(
        &p,
        &Request {
            to: Some(OTHER.into()),
            ..transfer()
        }
    ));
    assert!(!allowed(
        &p,
        &Request {
            to: None,
            ..transfer()
        }
    ));
}

#[test]
fn max_amount_is_exact_in_base_units() {
    let p = allow_if("assets = [\"ETH\", \"USDC\"]\nmax_amount = \"1.0\"");
    assert!(allowed(
        &p,
        &Request {
            amount: wei("1000000000000000000"),
            ..transfer()
        }
    ));
    assert!(!allowed(
        &p,
        &Request {
            amount: wei("1000000000000000001"),
            ..transfer()
        }
    ));
    assert!(allowed(
        &p,
        &Request {
            amount: wei("1"),
            ..transfer()
        }
    ));
    assert!(!allowed(
        &p,
        &Request {
            amount: None,
            ..transfer()
        }
    ));
    // The same figure in another asset's units.
    let usdc_request = |amount| Request {
        asset: Some("USDC".into()),
        amount,
        ..transfer()
    };
    assert!(allowed(&p, &usdc_request(usdc("1"))));
    assert!(!allowed(&p, &usdc_request(usdc("1.000001"))));
    // Finer than the asset: rounded down.
    let fine = allow_if("assets = [\"USDC\"]\nmax_amount = \"1.0000019\"");
    assert!(allowed(&fine, &usdc_request(usdc("1.000001"))));
    assert!(!allowed(&fine, &usdc_request(usdc("1.000002"))));
}

#[test]
fn hours_are_utc_and_may_wrap() {
    let office = allow_if("hours = \"08:00-18:00\"");
    assert!(allowed(&office, &transfer()));
    assert!(allowed(
        &office,
        &Request {
            at: NOON - 4 * HOUR,
            ..transfer()
        }
    ));
    assert!(!allowed(
        &office,
        &Request {
            at: NOON - 4 * HOUR - 1,
            ..transfer()
        }
    ));
    assert!(!allowed(
        &office,
        &Request {
            at: NOON + 6 * HOUR,
            ..transfer()
        }
    ));
    let night = allow_if("hours = \"22:00-06:00\"");
    assert!(!allowed(&night, &transfer()));
    assert!(allowed(
        &night,
        &Request {
            at: NOON + 10 * HOUR,
            ..transfer()
        }
    ));
    assert!(allowed(
        &night,
        &Request {
            at: NOON + 12 * HOUR,
            ..transfer()
        }
    ));
    assert!(allowed(
        &night,
        &Request {
            at: NOON + 18 * HOUR - 1,
            ..transfer()
        }
    ));
    assert!(!allowed(
        &night,
        &Request {
            at: NOON + 18 * HOUR,
            ..transfer()
        }
    ));
}

#[test]
fn typed_data_facts_must_match_every_list() {
    let p = allow_if(&format!(
        "typed_data = {{ domains = [\"Permit2\"], verifying_contracts = [\"{PERMIT2}\"], primary_types = [\"PermitSingle\"] }}"
    ));
    let permit = Request {
        kind: Kind::TypedData,
        typed_data: Some(TypedDataFacts {
            domain_name: Some("Permit2".into()),
            verifying_contract: Some(PERMIT2.into()),
            primary_type: "PermitSingle".into(),
        }),
        ..transfer()
    };
    assert!(allowed(&p, &permit));
    let with = |f: &dyn Fn(&mut TypedDataFacts)| {
        let mut r = permit.clone();
        f(r.typed_data.as_mut().unwrap());
        r
    };
    assert!(!allowed(&p, &with(&|t| t.domain_name = None)));
    assert!(!allowed(
        &p,
        &with(&|t| t.domain_name = Some("Permit3".into()))
    ));
    assert!(!allowed(&p, &with(&|t| t.verifying_contract = None)));
    assert!(!allowed(
        &p,
        &with(&|t| t.verifying_contract = Some(OTHER.into()))
    ));
    assert!(!allowed(
        &p,
        &with(&|t| t.primary_type = "PermitBatch".into())
    ));
    assert!(!allowed(
        &p,
        &Request {
            typed_data: None,
            ..permit.clone()
        }
    ));
    assert!(!allowed(
        &p,
        &Request {
            kind: Kind::Message,
            ..permit.clone()
        }
    ));
    // One list only: the others are free.
    let any_permit2 = allow_if("typed_data = { domains = [\"Permit2\"] }");
    assert!(allowed(
        &any_permit2,
        &with(&|t| t.primary_type = "PermitBatch".into())
    ));
}

#[test]
fn approvals_carry_the_group_and_its_members() {
    let p = policy(
        "[[rules]]\nname = \"big\"\naction = { approvals = { group = \"ops\", count = 2 } }\n",
    );
    let decision = decide(&p, &transfer());
    assert_eq!(
        decision.action,
        Action::NeedsApprovals {
            group: "ops".into(),
            count: 2,
            members: vec!["a".into(), "b".into(), "c".into()],
        }
    );
    assert_eq!(decision.matched_rule.as_deref(), Some("big"));
    assert!(!decision.is_allowed() && !decision.is_denied());
    assert_eq!(
        decision.reason(),
        "rule `big` needs 2 approvals from group `ops`"
    );
}
