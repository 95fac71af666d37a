//! Tessera's signing policy: a TOML file, checked when read, and a pure evaluation of one request
//! against it and the usage so far. No I/O and no clock: the caller passes the request's time and a
//! [`History`] of earlier requests. The file format is described in full, with an example, in
//! `docs/POLICY.md`.
//!
//! ```
//! use tessera_policy::{evaluate, Kind, MemoryHistory, Policy, Request, RiskLevel};
//!
//! let policy = Policy::parse(r#"
//! version = 1
//! [[rules]]
//! name = "sign-messages"
//! kinds = ["message"]
//! action = "allow"
//! "#).unwrap();
//! let request = Request {
//!     client: "trader".into(),
//!     wallet: "hot-1".into(),
//!     kind: Kind::Message,
//!     chain: None,
//!     asset: None,
//!     to: None,
//!     amount: None,
//!     typed_data: None,
//!     at: 1_700_000_000,
//! };
//! let decision = evaluate(&request, &policy, &MemoryHistory::new(), RiskLevel::Normal);
//! assert!(decision.is_allowed());
//! assert_eq!(decision.matched_rule.as_deref(), Some("sign-messages"));
//! ```
//!
//! # The file
//!
//! `version` (a number the operators choose, at least 1), `[address_books]` (named lists of
//! addresses), `[groups]` (named lists of approvers), `[[rules]]` (tried in order), `[[limits]]`
//! (rolling caps), and optionally `[approvals] expire_after` (default `24h`) and
//! `[risk] elevated_percent`, `critical_percent` (defaults 50 and 10).
//!
//! A rule sets any of `clients`, `wallets`, `kinds`, `chains`, `assets` (lists), `to` (an address
//! book), `max_amount` (per request, in the asset's units; needs `assets`), `hours` (UTC,
//! `HH:MM-HH:MM`, start inside, end outside, may wrap past midnight), and `typed_data` (tables of
//! `domains`, `verifying_contracts`, `primary_types`), and one `action`: `"allow"`, `"deny"` or
//! `{ approvals = { group = "ops", count = 2 } }`. It matches when everything it sets matches. A
//! rule without `kinds` matches every kind except `raw`: raw signing is denied unless a rule lists
//! `raw`.
//!
//! A limit has a `name`, a `scope` (`wallet`, `client` or `destination`), optional `assets` (each
//! listed asset is capped separately), a `window` (such as `30s`, `15m`, `1h`, `7d`: 1 second to 366 days) and exactly
//! one of `max_amount` (in the asset's units; needs `assets`) and `max_requests`.
//!
//! # The evaluation
//!
//! [`evaluate`]: the first rule that matches decides; no match is a deny. When the rule allows or
//! asks for approvals, every limit that applies must have room for the request within the window
//! `(at - window, at]`, its maximum scaled down by the risk level, or the request is denied naming
//! the limit. Any error inside is a deny. [`History`] says which requests a usage store must count.
//!
//! # Error codes of [`Policy::parse`]
//!
//! | code | meaning |
//! |---|---|
//! | `invalid_toml` | not TOML, or a value of the wrong type (the message has the line and column) |
//! | `unknown_field` | a field this format does not have |
//! | `missing_field` | a required field (`name`, `action`, `scope`, `window`) is missing |
//! | `invalid_version` | `version` missing or below 1 |
//! | `invalid_name` | a rule, limit, group or address book name outside `[a-z0-9][a-z0-9._-]*`, 64 at most |
//! | `duplicate_name` | two rules or limits with one name (they share a namespace) |
//! | `invalid_list` | an empty list, an empty entry, or an entry listed twice |
//! | `invalid_kind` | a kind other than `transfer`, `raw`, `typed_data`, `message` |
//! | `invalid_address` | an address that is not `0x` and 40 hex digits, or has a wrong EIP-55 checksum |
//! | `unknown_address_book` | a rule's `to` names no address book |
//! | `invalid_group` | a group without members or with a member listed twice |
//! | `unknown_group` | an approvals action names no group |
//! | `invalid_action` | an action that is not `"allow"`, `"deny"` or approvals with 1 <= count <= group size |
//! | `invalid_amount` | an amount that is not an exact positive decimal such as `"1.5"` |
//! | `invalid_hours` | `hours` that is not `HH:MM-HH:MM`, or starts where it ends |
//! | `invalid_window` | a `window` or `expire_after` that is not a length such as `30s`, `15m`, `1h` or `7d`, from 1 second to 366 days |
//! | `invalid_rule` | `max_amount` without `assets`, or `typed_data` with `kinds` that leave it out |
//! | `invalid_limit` | a bad `scope`, not exactly one of `max_amount` and `max_requests`, `max_requests` below 1, or `max_amount` without `assets` |
//! | `invalid_risk` | a percentage outside 0..=100, or `critical_percent` above `elevated_percent` |
//! | `invalid_breakers` | a `[breakers]` count outside its range (`reset_quorum` at least 1), or `outflow_percent` above 100 |
//! | `invalid_cold_storage` | a `[cold_storage]` chain other than `ethereum` |
//! | `invalid_changes` | `[changes] quorum` below 1, or a `time_lock` that is neither a length nor `"0s"` |
//!
//! Outside the file, [`Kind`]'s and [`RiskLevel`]'s `FromStr` use `invalid_kind` and
//! `invalid_risk`, and [`PolicyHash`]'s uses `invalid_hash`.

mod amount;
mod decision;
mod dev;
mod error;
mod eval;
mod file;
mod guards;
mod hash;
mod history;
mod model;
mod parse;
mod request;
mod time;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod parse_tests;

pub use amount::PolicyAmount;
pub use decision::{Action, Decision};
pub use dev::PERMISSIVE_DEV_POLICY;
pub use error::PolicyError;
pub use eval::evaluate;
pub use guards::{
    Breakers, Changes, DEFAULT_BURST_WINDOW, DEFAULT_CHANGE_QUORUM, DEFAULT_DEPLOYMENT_DENIALS,
    DEFAULT_NEW_DESTINATIONS, DEFAULT_OUTFLOW_PERCENT, DEFAULT_OUTFLOW_WINDOW,
    DEFAULT_RESET_QUORUM, DEFAULT_TIME_LOCK, DEFAULT_WALLET_DENIALS,
};
pub use hash::PolicyHash;
pub use history::{History, HistoryError, MemoryHistory, Usage, UsageQuery};
pub use model::{AddressBook, Cap, Group, Limit, Policy, Rule, RuleAction, Scope};
pub use parse::{
    DEFAULT_APPROVALS_EXPIRE_AFTER, DEFAULT_CRITICAL_PERCENT, DEFAULT_ELEVATED_PERCENT,
};
pub use request::{AssetAmount, Kind, Request, RiskLevel, TypedDataFacts};
pub use tessera_eth::U256;
pub use time::{Hours, Window};
