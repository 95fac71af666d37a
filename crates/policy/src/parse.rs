//! From a policy file's text to a checked [`Policy`]: TOML and shape first (`file.rs`), then every
//! name, reference, amount and time, each refusal with its own code.

use std::collections::{BTreeMap, BTreeSet};

use crate::amount::PolicyAmount;
use crate::error::{PolicyError, err, shorten};
use crate::file::{
    ActionTable, AmountText, ApprovalsFile, LimitFile, PolicyFile, RiskFile, RuleFile,
    TypedDataFile,
};
use crate::hash::PolicyHash;
use crate::model::{
    AddressBook, Cap, Group, Limit, Policy, Rule, RuleAction, Scope, TypedDataMatch,
};
use crate::request::Kind;
use crate::time::{Hours, Window};

/// How long a request may wait for approvals when `[approvals] expire_after` is not set: 24 hours.
pub const DEFAULT_APPROVALS_EXPIRE_AFTER: u64 = 24 * 3_600;
/// `[risk] elevated_percent` when not set.
pub const DEFAULT_ELEVATED_PERCENT: u8 = 50;
/// `[risk] critical_percent` when not set.
pub const DEFAULT_CRITICAL_PERCENT: u8 = 10;

/// Longest name of a rule, limit, group or address book, in bytes.
const MAX_NAME_LEN: usize = 64;

impl Policy {
    /// Reads and checks a policy file. The text is kept as it is and hashed ([`Policy::hash`]).
    ///
    /// Every refusal has a stable code, listed in the crate documentation.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let version = check_version(file.version)?;
        let address_books = file
            .address_books
            .into_iter()
            .map(|(name, entries)| Ok((name.clone(), check_address_book(name, entries)?)))
            .collect::<Result<BTreeMap<_, _>, PolicyError>>()?;
        let groups = file
            .groups
            .into_iter()
            .map(|(name, members)| Ok((name.clone(), check_group(name, members)?)))
            .collect::<Result<BTreeMap<_, _>, PolicyError>>()?;
        let mut names = BTreeSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for rule in file.rules {
            check_unique(&mut names, "rule", &rule.name)?;
            rules.push(check_rule(rule, &address_books, &groups)?);
        }
        let mut limits = Vec::with_capacity(file.limits.len());
        for limit in file.limits {
            check_unique(&mut names, "limit", &limit.name)?;
            limits.push(check_limit(limit)?);
        }
        let (elevated_percent, critical_percent) = check_risk(file.risk)?;
        Ok(Policy {
            text: text.to_owned(),
            hash: PolicyHash::of_text(text),
            version,
            address_books,
            groups,
            rules,
            limits,
            approvals_expire_after: check_approvals(file.approvals)?,
            elevated_percent,
            critical_percent,
            breakers: crate::guards::check_breakers(file.breakers)?,
            cold_storage: crate::guards::check_cold_storage(file.cold_storage, check_address)?,
            changes: crate::guards::check_changes(file.changes)?,
        })
    }
}

/// TOML's own errors, with the line and column, classified for the codes we promise.
fn toml_error(text: &str, e: &toml::de::Error) -> PolicyError {
    // Some of TOML's messages span lines: one line reads better after a place.
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let code = if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("missing field") {
        "missing_field"
    } else {
        "invalid_toml"
    };
    match e.span().and_then(|span| text.get(..span.start)) {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            err(code, format!("line {line}, column {column}: {message}"))
        }
        None => err(code, message),
    }
}

fn check_version(version: Option<i64>) -> Result<u64, PolicyError> {
    let version = version.ok_or_else(|| {
        err(
            "invalid_version",
            "the policy has no `version`: start it with `version = 1`",
        )
    })?;
    u64::try_from(version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            err(
                "invalid_version",
                format!("`version` is at least 1, not `{version}`"),
            )
        })
}

/// Names of rules, limits, groups and books: like wallet ids, 1 to 64 of `a-z`, `0-9`, `-`, `_`,
/// `.`, starting with a letter or digit.
fn check_name(what: &str, name: &str) -> Result<(), PolicyError> {
    let starts_well = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b);
    if starts_well && name.len() <= MAX_NAME_LEN && name.bytes().all(allowed) {
        return Ok(());
    }
    Err(err(
        "invalid_name",
        format!(
            "{what} name `{}` must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9, `-`, `_` and `.`, starting with a letter or digit",
            shorten(name)
        ),
    ))
}

/// Rules and limits share one namespace, so that a decision's `matched_rule` or `limit` names one
/// thing.
fn check_unique(names: &mut BTreeSet<String>, what: &str, name: &str) -> Result<(), PolicyError> {
    check_name(what, name)?;
    if names.insert(name.to_owned()) {
        Ok(())
    } else {
        Err(err(
            "duplicate_name",
            format!("{what} `{name}`: the name is already used by a rule or limit"),
        ))
    }
}

/// An optional list of a rule or limit: when present, not empty, no empty entry, no repeat.
fn check_list(
    owner: &str,
    field: &str,
    list: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, PolicyError> {
    let Some(list) = list else {
        return Ok(None);
    };
    if list.is_empty() {
        return Err(err(
            "invalid_list",
            format!("{owner}: `{field}` is empty (leave it out to match any)"),
        ));
    }
    check_entries(owner, field, &list)?;
    Ok(Some(list))
}

fn check_entries(owner: &str, field: &str, list: &[String]) -> Result<(), PolicyError> {
    let mut seen = BTreeSet::new();
    for entry in list {
        if entry.is_empty() {
            return Err(err(
                "invalid_list",
                format!("{owner}: `{field}` has an empty entry"),
            ));
        }
        if !seen.insert(entry.as_str()) {
            return Err(err(
                "invalid_list",
                format!("{owner}: `{field}` lists `{}` twice", shorten(entry)),
            ));
        }
    }
    Ok(())
}

/// An address as lowercase `0x` text, EIP-55 checked when written in mixed case.
pub(crate) fn check_address(owner: &str, address: &str) -> Result<String, PolicyError> {
    let parsed = tessera_eth::parse_address(address)
        .map_err(|e| err("invalid_address", format!("{owner}: {}", e.message)))?;
    Ok(format!("0x{}", hex::encode(parsed.as_slice())))
}

fn check_address_book(name: String, entries: Vec<String>) -> Result<AddressBook, PolicyError> {
    check_name("address book", &name)?;
    let owner = format!("address book `{name}`");
    if entries.is_empty() {
        return Err(err("invalid_list", format!("{owner} is empty")));
    }
    let mut addresses = BTreeSet::new();
    for entry in &entries {
        if !addresses.insert(check_address(&owner, entry)?) {
            return Err(err(
                "invalid_list",
                format!("{owner} lists `{}` twice", shorten(entry)),
            ));
        }
    }
    Ok(AddressBook { name, addresses })
}

fn check_group(name: String, members: Vec<String>) -> Result<Group, PolicyError> {
    check_name("group", &name)?;
    let owner = format!("group `{name}`");
    if members.is_empty() {
        return Err(err("invalid_group", format!("{owner} has no members")));
    }
    check_entries(&owner, "members", &members).map_err(|e| err("invalid_group", e.message))?;
    Ok(Group { name, members })
}

fn check_rule(
    rule: RuleFile,
    address_books: &BTreeMap<String, AddressBook>,
    groups: &BTreeMap<String, Group>,
) -> Result<Rule, PolicyError> {
    let owner = format!("rule `{}`", rule.name);
    let kinds = check_list(&owner, "kinds", rule.kinds)?
        .map(|kinds| {
            kinds
                .iter()
                .map(|k| {
                    k.parse::<Kind>()
                        .map_err(|e| err(e.code, format!("{owner}: {}", e.message)))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let assets = check_list(&owner, "assets", rule.assets)?;
    if let Some(book) = &rule.to
        && !address_books.contains_key(book)
    {
        return Err(err(
            "unknown_address_book",
            format!(
                "{owner}: `to` names `{}`, which is not in `[address_books]`",
                shorten(book)
            ),
        ));
    }
    let max_amount = rule
        .max_amount
        .map(|amount| check_amount(&owner, amount, assets.is_some(), "invalid_rule"))
        .transpose()?;
    let hours = rule
        .hours
        .map(|h| {
            Hours::parse(&h).map_err(|why| err("invalid_hours", format!("{owner}: `hours` {why}")))
        })
        .transpose()?;
    let typed_data = rule
        .typed_data
        .map(|t| check_typed_data(&owner, t))
        .transpose()?;
    if typed_data.is_some()
        && kinds
            .as_ref()
            .is_some_and(|k| !k.contains(&Kind::TypedData))
    {
        return Err(err(
            "invalid_rule",
            format!(
                "{owner}: it sets `typed_data` but its `kinds` leave out `typed_data`, so it can never match"
            ),
        ));
    }
    Ok(Rule {
        clients: check_list(&owner, "clients", rule.clients)?,
        wallets: check_list(&owner, "wallets", rule.wallets)?,
        kinds,
        chains: check_list(&owner, "chains", rule.chains)?,
        assets,
        to: rule.to,
        max_amount,
        hours,
        typed_data,
        action: check_action(&owner, rule.action, groups)?,
        name: rule.name,
    })
}

/// An amount is in an asset's units, so whatever carries one must say which assets: when it does
/// not, the refusal has `code`.
fn check_amount(
    owner: &str,
    amount: AmountText,
    has_assets: bool,
    code: &'static str,
) -> Result<PolicyAmount, PolicyError> {
    let amount = PolicyAmount::parse(&amount.0)
        .map_err(|e| err(e.code, format!("{owner}: `max_amount` {}", e.message)))?;
    if !has_assets {
        return Err(err(
            code,
            format!("{owner}: `max_amount` needs `assets`, the assets whose units it is in"),
        ));
    }
    Ok(amount)
}

fn check_typed_data(owner: &str, file: TypedDataFile) -> Result<TypedDataMatch, PolicyError> {
    let owner = format!("{owner}, `typed_data`");
    let verifying_contracts = check_list(&owner, "verifying_contracts", file.verifying_contracts)?
        .map(|list| {
            list.iter()
                .map(|a| check_address(&owner, a))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if let Some(list) = &verifying_contracts {
        check_entries(&owner, "verifying_contracts", list)?;
    }
    Ok(TypedDataMatch {
        domains: check_list(&owner, "domains", file.domains)?,
        verifying_contracts,
        primary_types: check_list(&owner, "primary_types", file.primary_types)?,
    })
}

fn check_action(
    owner: &str,
    action: toml::Value,
    groups: &BTreeMap<String, Group>,
) -> Result<RuleAction, PolicyError> {
    let invalid = |why: String| err("invalid_action", format!("{owner}: `action` {why}"));
    let table = match action {
        toml::Value::String(word) => {
            return match word.as_str() {
                "allow" => Ok(RuleAction::Allow),
                "deny" => Ok(RuleAction::Deny),
                _ => Err(invalid(format!(
                    "is `{}`: write \"allow\", \"deny\" or {{ approvals = {{ group = \"...\", count = 2 }} }}",
                    shorten(&word)
                ))),
            };
        }
        toml::Value::Table(_) => action.try_into::<ActionTable>().map_err(|e| {
            invalid(format!(
                "is not {{ approvals = {{ group, count }} }}: {}",
                e.message().trim_end()
            ))
        })?,
        _ => {
            return Err(invalid(
                "must be \"allow\", \"deny\" or { approvals = { group = \"...\", count = 2 } }"
                    .to_owned(),
            ));
        }
    };
    let (group_name, count) = (table.approvals.group, table.approvals.count);
    let group = groups.get(&group_name).ok_or_else(|| {
        err(
            "unknown_group",
            format!(
                "{owner}: group `{}` is not in `[groups]`",
                shorten(&group_name)
            ),
        )
    })?;
    let size = group.members.len();
    match u32::try_from(count) {
        Ok(c) if c >= 1 && usize::try_from(c).is_ok_and(|c| c <= size) => {
            Ok(RuleAction::Approvals {
                group: group_name,
                count: c,
            })
        }
        _ => Err(invalid(format!(
            "asks for {count} approvals from group `{group_name}`, which has {size} members"
        ))),
    }
}

fn check_limit(limit: LimitFile) -> Result<Limit, PolicyError> {
    let owner = format!("limit `{}`", limit.name);
    let invalid = |why: &str| err("invalid_limit", format!("{owner}: {why}"));
    let scope = match limit.scope.as_str() {
        "wallet" => Scope::Wallet,
        "client" => Scope::Client,
        "destination" => Scope::Destination,
        other => {
            return Err(invalid(&format!(
                "`scope` is `{}`: write \"wallet\", \"client\" or \"destination\"",
                shorten(other)
            )));
        }
    };
    let assets = check_list(&owner, "assets", limit.assets)?;
    let window = Window::parse(&limit.window)
        .map_err(|why| err("invalid_window", format!("{owner}: `window` {why}")))?;
    let cap = match (limit.max_amount, limit.max_requests) {
        (Some(amount), None) => Cap::Amount(check_amount(
            &owner,
            amount,
            assets.is_some(),
            "invalid_limit",
        )?),
        (None, Some(count)) => match u64::try_from(count) {
            Ok(count) if count >= 1 => Cap::Requests(count),
            _ => {
                return Err(invalid(&format!(
                    "`max_requests` is at least 1, not {count}"
                )));
            }
        },
        _ => {
            return Err(invalid(
                "set exactly one of `max_amount` and `max_requests`",
            ));
        }
    };
    Ok(Limit {
        name: limit.name,
        scope,
        assets,
        window,
        cap,
    })
}

fn check_approvals(approvals: Option<ApprovalsFile>) -> Result<u64, PolicyError> {
    match approvals.and_then(|a| a.expire_after) {
        None => Ok(DEFAULT_APPROVALS_EXPIRE_AFTER),
        Some(text) => Window::parse(&text).map(|w| w.secs()).map_err(|why| {
            err(
                "invalid_window",
                format!("`[approvals] expire_after` {why}"),
            )
        }),
    }
}

fn check_risk(risk: Option<RiskFile>) -> Result<(u8, u8), PolicyError> {
    let risk = risk.unwrap_or(RiskFile {
        elevated_percent: None,
        critical_percent: None,
    });
    let percent = |field: &str, value: Option<i64>, default: u8| match value {
        None => Ok(default),
        Some(v) => u8::try_from(v).ok().filter(|p| *p <= 100).ok_or_else(|| {
            err(
                "invalid_risk",
                format!("`[risk] {field}` is a percentage from 0 to 100, not {v}"),
            )
        }),
    };
    let elevated = percent(
        "elevated_percent",
        risk.elevated_percent,
        DEFAULT_ELEVATED_PERCENT,
    )?;
    let critical = percent(
        "critical_percent",
        risk.critical_percent,
        DEFAULT_CRITICAL_PERCENT,
    )?;
    if critical > elevated {
        return Err(err(
            "invalid_risk",
            format!(
                "`[risk] critical_percent` ({critical}) is above `elevated_percent` ({elevated}): limits cannot grow as risk rises"
            ),
        ));
    }
    Ok((elevated, critical))
}
