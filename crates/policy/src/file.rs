//! The policy file as TOML gives it: the shape is checked here (no unknown field, right types), the
//! meaning in `parse.rs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyFile {
    pub version: Option<i64>,
    #[serde(default)]
    pub address_books: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub rules: Vec<RuleFile>,
    #[serde(default)]
    pub limits: Vec<LimitFile>,
    pub approvals: Option<ApprovalsFile>,
    pub risk: Option<RiskFile>,
    pub breakers: Option<crate::guards::BreakersFile>,
    #[serde(default)]
    pub cold_storage: BTreeMap<String, String>,
    pub changes: Option<crate::guards::ChangesFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    pub name: String,
    pub clients: Option<Vec<String>>,
    pub wallets: Option<Vec<String>>,
    pub kinds: Option<Vec<String>>,
    pub chains: Option<Vec<String>>,
    pub assets: Option<Vec<String>>,
    pub to: Option<String>,
    pub max_amount: Option<AmountText>,
    pub hours: Option<String>,
    pub typed_data: Option<TypedDataFile>,
    /// `"allow"`, `"deny"` or a table: read in `parse.rs` for a precise message.
    pub action: toml::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypedDataFile {
    pub domains: Option<Vec<String>>,
    pub verifying_contracts: Option<Vec<String>>,
    pub primary_types: Option<Vec<String>>,
}

/// The table form of a rule's action: `{ approvals = { group = "ops", count = 2 } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionTable {
    pub approvals: ApprovalsAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsAction {
    pub group: String,
    pub count: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitFile {
    pub name: String,
    pub scope: String,
    pub assets: Option<Vec<String>>,
    pub window: String,
    pub max_amount: Option<AmountText>,
    pub max_requests: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsFile {
    pub expire_after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RiskFile {
    pub elevated_percent: Option<i64>,
    pub critical_percent: Option<i64>,
}

/// An amount, which must be a TOML string: a TOML float would already have lost exactness.
#[derive(Debug)]
pub(crate) struct AmountText(pub String);

impl<'de> Deserialize<'de> for AmountText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AmountText, D::Error> {
        deserializer.deserialize_str(AmountVisitor)
    }
}

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = AmountText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount in quotes, such as \"1.5\", so that it stays exact")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AmountText, E> {
        Ok(AmountText(v.to_owned()))
    }
}
