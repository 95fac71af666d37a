//! What limits are checked against: the usage so far, asked through the [`History`] trait.

use tessera_eth::U256;

use crate::model::Scope;
use crate::request::Request;

/// Which recorded requests a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageQuery<'a> {
    /// What the limit counts per.
    pub scope: Scope,
    /// The wallet id, client id or destination address (`0x`, lowercase; compare ignoring case).
    pub value: &'a str,
    /// Only requests in this asset; `None` for every request, with or without an asset.
    pub asset: Option<&'a str>,
    /// Only requests registered strictly after this unix time. The window of a limit of `w`
    /// seconds evaluated at `at` is `(at - w, at]`, so `since = at - w`.
    pub since: i64,
}

/// What the counted requests add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// The sum of their amounts, in base units of the query's asset (a request without an amount
    /// adds nothing). Not read when the query has no asset: a History may leave it zero.
    pub amount: U256,
    /// How many there are.
    pub requests: u64,
}

/// The usage could not be read. The evaluation turns it into a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HistoryError {
    /// What went wrong, lowercase.
    pub message: String,
}

impl HistoryError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> HistoryError {
        HistoryError {
            message: message.into(),
        }
    }
}

/// The usage so far, as the limits see it.
///
/// # What a History counts
///
/// Every request that was registered with a decision other than deny (allowed, or waiting for
/// approvals), at its registration time (`Request::at`), whether or not it was later approved,
/// signed or broadcast. Denied requests are not counted. A request waiting for approvals counts
/// from its registration, so that approving it later cannot overrun a limit; one whose approvals
/// expired may stop counting.
///
/// [`History::usage`] counts the recorded requests that fit the [`UsageQuery`]: recorded strictly
/// after `since`, for the query's scope value, and in the query's asset when it names one. That
/// includes requests recorded at a time later than the request being evaluated (clocks step back):
/// counting them keeps every window within its limit whatever the order of registration.
pub trait History {
    /// What the requests that fit `query` add up to.
    fn usage(&self, query: &UsageQuery<'_>) -> Result<Usage, HistoryError>;
}

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fact {
    at: i64,
    client: String,
    wallet: String,
    to: Option<String>,
    asset: Option<String>,
    amount: U256,
}

/// A [`History`] in memory, for tests, benchmarks and development: every query scans every
/// recorded request.
#[derive(Debug, Clone, Default)]
pub struct MemoryHistory {
    facts: Vec<Fact>,
}

impl MemoryHistory {
    /// An empty history.
    pub fn new() -> MemoryHistory {
        MemoryHistory::default()
    }

    /// Records a request that was registered with a decision other than deny.
    pub fn record(&mut self, request: &Request) {
        self.facts.push(Fact {
            at: request.at,
            client: request.client.clone(),
            wallet: request.wallet.clone(),
            to: request.to.as_ref().map(|to| to.to_ascii_lowercase()),
            asset: request.asset.clone(),
            amount: request.amount.map_or(U256::ZERO, |a| a.base_units),
        });
    }

    /// How many requests are recorded.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }
}

impl History for MemoryHistory {
    fn usage(&self, query: &UsageQuery<'_>) -> Result<Usage, HistoryError> {
        let mut usage = Usage::default();
        for fact in &self.facts {
            let in_scope = match query.scope {
                Scope::Wallet => fact.wallet == query.value,
                Scope::Client => fact.client == query.value,
                Scope::Destination => fact
                    .to
                    .as_deref()
                    .is_some_and(|to| to.eq_ignore_ascii_case(query.value)),
            };
            let in_asset = query
                .asset
                .is_none_or(|asset| fact.asset.as_deref() == Some(asset));
            if fact.at <= query.since || !in_scope || !in_asset {
                continue;
            }
            usage.requests = usage
                .requests
                .checked_add(1)
                .ok_or_else(|| HistoryError::new("the request count overflows"))?;
            if query.asset.is_some() {
                usage.amount = usage
                    .amount
                    .checked_add(fact.amount)
                    .ok_or_else(|| HistoryError::new("the amount used overflows 256 bits"))?;
            }
        }
        Ok(usage)
    }
}
