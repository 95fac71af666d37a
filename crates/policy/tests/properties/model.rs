//! The rules side of the property tests: a model of a rule, a matcher for it written from
//! `docs/POLICY.md` without the crate's code, and the policy file text the model stands for.

use std::fmt::Write as _;

use tessera_policy::{Kind, Request};

pub const CLIENTS: [&str; 3] = ["alice", "bob", "carol"];
pub const WALLETS: [&str; 3] = ["w1", "w2", "w3"];
pub const CHAINS: [&str; 2] = ["ethereum", "base"];
pub const ASSETS: [&str; 3] = ["ETH", "USDC", "TOK"];
pub const DOMAINS: [&str; 2] = ["Permit2", "Seaport"];
pub const PRIMARY_TYPES: [&str; 2] = ["PermitSingle", "OrderComponents"];
pub const ADDRESSES: [&str; 3] = [
    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359",
    "0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb",
];
/// Address books by name: `one` holds the first address, `two` the first two.
pub const BOOKS: [(&str, usize); 2] = [("one", 1), ("two", 2)];
pub const MEMBERS: [&str; 3] = ["ann", "ben", "cat"];
/// 2023-11-14 00:00:00 UTC.
pub const MIDNIGHT: i64 = 1_699_920_000;

/// The decimals of each asset of `ASSETS`.
pub fn decimals_of(asset: &str) -> u8 {
    match asset {
        "ETH" => 18,
        "USDC" => 6,
        _ => 0,
    }
}

// ---- The model of a rule, and a matcher written from the documentation ----

#[derive(Debug, Clone)]
pub struct TypedDataModel {
    pub domains: Option<Vec<&'static str>>,
    pub contracts: Option<Vec<&'static str>>,
    pub primary_types: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
pub enum ActionModel {
    Allow,
    Deny,
    Approvals(u32),
}

#[derive(Debug, Clone)]
pub struct RuleModel {
    pub clients: Option<Vec<&'static str>>,
    pub wallets: Option<Vec<&'static str>>,
    pub kinds: Option<Vec<Kind>>,
    pub chains: Option<Vec<&'static str>>,
    pub assets: Option<Vec<&'static str>>,
    pub to: Option<(&'static str, usize)>,
    /// `digits / 10^scale`.
    pub max_amount: Option<(u128, u32)>,
    /// Minutes after midnight; the end may be 1440.
    pub hours: Option<(u32, u32)>,
    pub typed_data: Option<TypedDataModel>,
    pub action: ActionModel,
}

pub fn in_list<T: PartialEq>(list: &Option<Vec<T>>, value: Option<T>) -> bool {
    match list {
        None => true,
        Some(list) => value.is_some_and(|v| list.contains(&v)),
    }
}

pub fn model_matches(rule: &RuleModel, r: &Request) -> bool {
    let kind_ok = match &rule.kinds {
        None => r.kind != Kind::Raw,
        Some(kinds) => kinds.contains(&r.kind),
    };
    let to_ok = match rule.to {
        None => true,
        Some((_, size)) => {
            r.to.as_deref()
                .is_some_and(|to| ADDRESSES[..size].contains(&to))
        }
    };
    let amount_ok = match rule.max_amount {
        None => true,
        Some((digits, scale)) => r.amount.is_some_and(|a| {
            // base / 10^decimals <= digits / 10^scale, in integers.
            let base = u128::try_from(a.base_units).unwrap();
            base * 10u128.pow(scale) <= digits * 10u128.pow(u32::from(a.decimals))
        }),
    };
    let hours_ok = match rule.hours {
        None => true,
        Some((start, end)) => {
            let second = r.at.rem_euclid(86_400);
            let (start, end) = (i64::from(start) * 60, i64::from(end) * 60);
            if start < end {
                (start..end).contains(&second)
            } else {
                !(end..start).contains(&second)
            }
        }
    };
    let typed_ok = match &rule.typed_data {
        None => true,
        Some(m) => {
            r.kind == Kind::TypedData
                && r.typed_data.as_ref().is_some_and(|t| {
                    in_list(&m.domains, t.domain_name.as_deref())
                        && in_list(&m.contracts, t.verifying_contract.as_deref())
                        && in_list(&m.primary_types, Some(t.primary_type.as_str()))
                })
        }
    };
    in_list(&rule.clients, Some(r.client.as_str()))
        && in_list(&rule.wallets, Some(r.wallet.as_str()))
        && kind_ok
        && in_list(&rule.chains, r.chain.as_deref())
        && in_list(&rule.assets, r.asset.as_deref())
        && to_ok
        && amount_ok
        && hours_ok
        && typed_ok
}

// ---- Writing a model out as a policy file ----

pub fn list<T: AsRef<str>>(items: &[T]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|i| format!("\"{}\"", i.as_ref()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

pub fn amount_text(digits: u128, scale: u32) -> String {
    let unit = 10u128.pow(scale);
    let (whole, fraction) = (digits / unit, digits % unit);
    if scale == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{fraction:0width$}", width = scale as usize)
    }
}

fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub fn header() -> String {
    let mut text = String::from("version = 1\n[address_books]\n");
    for (name, size) in BOOKS {
        writeln!(text, "{name} = {}", list(&ADDRESSES[..size])).unwrap();
    }
    writeln!(text, "[groups]\nops = {}", list(&MEMBERS)).unwrap();
    text
}

pub fn rules_text(rules: &[RuleModel]) -> String {
    let mut text = String::new();
    for (i, rule) in rules.iter().enumerate() {
        writeln!(text, "[[rules]]\nname = \"r{i}\"").unwrap();
        let mut field = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                writeln!(text, "{name} = {value}").unwrap();
            }
        };
        field("clients", rule.clients.as_deref().map(list));
        field("wallets", rule.wallets.as_deref().map(list));
        let kinds = rule
            .kinds
            .as_ref()
            .map(|k| k.iter().map(|k| k.name()).collect::<Vec<_>>());
        field("kinds", kinds.as_deref().map(list));
        field("chains", rule.chains.as_deref().map(list));
        field("assets", rule.assets.as_deref().map(list));
        field("to", rule.to.map(|(name, _)| format!("\"{name}\"")));
        field(
            "max_amount",
            rule.max_amount
                .map(|(d, s)| format!("\"{}\"", amount_text(d, s))),
        );
        field(
            "hours",
            rule.hours
                .map(|(s, e)| format!("\"{}-{}\"", clock(s), clock(e))),
        );
        field(
            "typed_data",
            rule.typed_data.as_ref().map(|t| {
                let mut parts = Vec::new();
                if let Some(d) = &t.domains {
                    parts.push(format!("domains = {}", list(d)));
                }
                if let Some(c) = &t.contracts {
                    parts.push(format!("verifying_contracts = {}", list(c)));
                }
                if let Some(p) = &t.primary_types {
                    parts.push(format!("primary_types = {}", list(p)));
                }
                format!("{{ {} }}", parts.join(", "))
            }),
        );
        field(
            "action",
            Some(match rule.action {
                ActionModel::Allow => "\"allow\"".to_owned(),
                ActionModel::Deny => "\"deny\"".to_owned(),
                ActionModel::Approvals(n) => {
                    format!("{{ approvals = {{ group = \"ops\", count = {n} }} }}")
                }
            }),
        );
    }
    text
}
