//! A checked policy. Every value here went through [`Policy::parse`]: names are unique, groups and
//! address books exist, amounts and times are exact.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::amount::PolicyAmount;
use crate::guards::{Breakers, Changes};
use crate::hash::PolicyHash;
use crate::request::{Kind, RiskLevel};
use crate::time::{Hours, Window};

/// A policy read from a file and checked. Build one with [`Policy::parse`] or
/// [`Policy::permissive_dev`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub(crate) text: String,
    pub(crate) hash: PolicyHash,
    pub(crate) version: u64,
    pub(crate) address_books: BTreeMap<String, AddressBook>,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) approvals_expire_after: u64,
    pub(crate) elevated_percent: u8,
    pub(crate) critical_percent: u8,
    pub(crate) breakers: Breakers,
    pub(crate) cold_storage: BTreeMap<String, String>,
    pub(crate) changes: Changes,
}

impl Policy {
    /// The file's text, exactly as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The hash of [`Policy::text`].
    pub fn hash(&self) -> PolicyHash {
        self.hash
    }

    /// The `version` the operators gave the file (at least 1).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The rules, in file order: the first that matches decides.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule of this name.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The limits, in file order.
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// The approver group of this name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// The address book of this name.
    pub fn address_book(&self, name: &str) -> Option<&AddressBook> {
        self.address_books.get(name)
    }

    /// How long a request may wait for its approvals, in seconds (`[approvals] expire_after`,
    /// 24 hours unless set).
    pub fn approvals_expire_after(&self) -> u64 {
        self.approvals_expire_after
    }

    /// When the circuit breakers trip by themselves and what resets them (`[breakers]`).
    pub fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    /// The cold storage address of `chain` (`[cold_storage]`), lowercase: transfers there are
    /// the sweeps a tripped breaker still lets through.
    pub fn cold_storage(&self, chain: &str) -> Option<&str> {
        self.cold_storage.get(chain).map(String::as_str)
    }

    /// How a new version of this policy comes into force (`[changes]`).
    pub fn changes(&self) -> Changes {
        self.changes
    }

    /// The share of every limit's maximum that applies at this risk level, in percent (`[risk]`).
    pub fn risk_percent(&self, risk: RiskLevel) -> u8 {
        match risk {
            RiskLevel::Normal => 100,
            RiskLevel::Elevated => self.elevated_percent,
            RiskLevel::Critical => self.critical_percent,
        }
    }
}

/// Named people who approve requests: member names are unique and there is at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub(crate) name: String,
    pub(crate) members: Vec<String>,
}

impl Group {
    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members, in file order.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// Whether `member` belongs to the group.
    pub fn contains(&self, member: &str) -> bool {
        self.members.iter().any(|m| m == member)
    }
}

/// Named destination addresses, kept as lowercase `0x` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBook {
    pub(crate) name: String,
    pub(crate) addresses: BTreeSet<String>,
}

impl AddressBook {
    /// The book's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The addresses, lowercase, sorted.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.addresses.iter().map(String::as_str)
    }

    /// Whether `address` (`0x` and 40 hex digits, any case) is in the book.
    pub fn contains(&self, address: &str) -> bool {
        if address.bytes().any(|b| b.is_ascii_uppercase()) {
            self.addresses.contains(&address.to_ascii_lowercase())
        } else {
            self.addresses.contains(address)
        }
    }
}

/// What a rule does with the requests it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Allowed, within the limits.
    Allow,
    /// Denied.
    Deny,
    /// Allowed, within the limits, once `count` members of `group` approve.
    Approvals {
        /// The approver group.
        group: String,
        /// How many distinct members must approve: from 1 to the group's size.
        count: u32,
    },
}

/// One rule: every condition it sets must hold for it to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) clients: Option<Vec<String>>,
    pub(crate) wallets: Option<Vec<String>>,
    pub(crate) kinds: Option<Vec<Kind>>,
    pub(crate) chains: Option<Vec<String>>,
    pub(crate) assets: Option<Vec<String>>,
    /// The name of an address book that exists.
    pub(crate) to: Option<String>,
    pub(crate) max_amount: Option<PolicyAmount>,
    pub(crate) hours: Option<Hours>,
    pub(crate) typed_data: Option<TypedDataMatch>,
    pub(crate) action: RuleAction,
}

impl Rule {
    /// The rule's name, unique among rules and limits.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the rule does with the requests it matches.
    pub fn action(&self) -> &RuleAction {
        &self.action
    }

    /// The kinds it matches, when it lists them (when not: every kind but `raw`).
    pub fn kinds(&self) -> Option<&[Kind]> {
        self.kinds.as_deref()
    }

    /// The address book the destination must be in, when set.
    pub fn to(&self) -> Option<&str> {
        self.to.as_deref()
    }

    /// The largest amount per request, when set.
    pub fn max_amount(&self) -> Option<&PolicyAmount> {
        self.max_amount.as_ref()
    }

    /// The hours of the day it matches, when set.
    pub fn hours(&self) -> Option<&Hours> {
        self.hours.as_ref()
    }
}

/// The conditions a rule's `typed_data` table sets on an EIP-712 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedDataMatch {
    pub(crate) domains: Option<Vec<String>>,
    /// Lowercase `0x` text.
    pub(crate) verifying_contracts: Option<Vec<String>>,
    pub(crate) primary_types: Option<Vec<String>>,
}

/// Whose usage a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Each wallet separately.
    Wallet,
    /// Each client separately.
    Client,
    /// Each destination address separately.
    Destination,
}

impl Scope {
    /// `wallet`, `client` or `destination`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Wallet => "wallet",
            Scope::Client => "client",
            Scope::Destination => "destination",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The most a limit lets through in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cap {
    /// A total amount, in each listed asset's units.
    Amount(PolicyAmount),
    /// A number of requests, at least 1.
    Requests(u64),
}

/// A rolling limit on what allowed requests add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub(crate) name: String,
    pub(crate) scope: Scope,
    pub(crate) assets: Option<Vec<String>>,
    pub(crate) window: Window,
    pub(crate) cap: Cap,
}

impl Limit {
    /// The limit's name, unique among rules and limits.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whose usage it counts.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The assets it applies to, when it lists them (always for an amount cap).
    pub fn assets(&self) -> Option<&[String]> {
        self.assets.as_deref()
    }

    /// The length of its rolling window.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// The most it lets through per window.
    pub fn cap(&self) -> &Cap {
        &self.cap
    }
}
