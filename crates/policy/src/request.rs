//! What the evaluation is told about a request, and the risk level it runs under.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tessera_eth::U256;

use crate::error::{PolicyError, err, shorten};

/// What a request asks the signers to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A transfer of an asset, built and checked by Tessera.
    Transfer,
    /// Bytes the client chose, signed as they are: denied unless a rule lists `raw` in `kinds`.
    Raw,
    /// EIP-712 typed data.
    TypedData,
    /// An EIP-191 personal message.
    Message,
}

impl Kind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [Kind; 4] = [Kind::Transfer, Kind::Raw, Kind::TypedData, Kind::Message];

    /// The name used in policy files and on the wire: `transfer`, `raw`, `typed_data`, `message`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Transfer => "transfer",
            Kind::Raw => "raw",
            Kind::TypedData => "typed_data",
            Kind::Message => "message",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = PolicyError;

    /// Code `invalid_kind` for a name that is not one of [`Kind::name`]'s.
    fn from_str(s: &str) -> Result<Kind, PolicyError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                err(
                    "invalid_kind",
                    format!(
                        "`{}` is not a kind: transfer, raw, typed_data or message",
                        shorten(s)
                    ),
                )
            })
    }
}

/// An amount of an asset in its base units (wei, token units), with the asset's decimals so that
/// policy amounts written in whole units can be compared exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetAmount {
    /// The amount in base units.
    pub base_units: U256,
    /// Decimal places of the asset: 18 for ETH, 6 for USDC.
    pub decimals: u8,
}

/// What typed-data rules look at in an EIP-712 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedDataFacts {
    /// The domain's `name`, when it has one.
    pub domain_name: Option<String>,
    /// The domain's `verifyingContract`, `0x` and 40 hex digits, when it has one.
    pub verifying_contract: Option<String>,
    /// The message's `primaryType`.
    pub primary_type: String,
}

/// A request, as the policy sees it. Ids and names are compared exactly; addresses ignore case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The authenticated client that asked.
    pub client: String,
    /// The wallet that would sign.
    pub wallet: String,
    /// What would be signed.
    pub kind: Kind,
    /// The chain, such as `ethereum`, when the request is for one.
    pub chain: Option<String>,
    /// The asset's symbol, such as `ETH`, when the request moves one.
    pub asset: Option<String>,
    /// The destination, `0x` and 40 hex digits (lowercase), when there is one.
    pub to: Option<String>,
    /// How much of `asset` the request moves.
    pub amount: Option<AssetAmount>,
    /// The facts of an EIP-712 request.
    pub typed_data: Option<TypedDataFacts>,
    /// When the request was registered, in unix seconds.
    pub at: i64,
}

/// How much risk the deployment is under: limits shrink to a share of their maximum
/// (`[risk]` in the policy) when it is raised.
/// Levels are ordered from `Normal` to `Critical`: the higher of two signals wins.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Limits apply in full.
    #[default]
    Normal,
    /// Limits shrink to `elevated_percent` of their maximum.
    Elevated,
    /// Limits shrink to `critical_percent` of their maximum.
    Critical,
}

impl RiskLevel {
    /// Every level, from the lowest.
    pub const ALL: [RiskLevel; 3] = [RiskLevel::Normal, RiskLevel::Elevated, RiskLevel::Critical];

    /// `normal`, `elevated` or `critical`.
    pub fn name(self) -> &'static str {
        match self {
            RiskLevel::Normal => "normal",
            RiskLevel::Elevated => "elevated",
            RiskLevel::Critical => "critical",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RiskLevel {
    type Err = PolicyError;

    /// Code `invalid_risk` for a name that is not one of [`RiskLevel::name`]'s.
    fn from_str(s: &str) -> Result<RiskLevel, PolicyError> {
        RiskLevel::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                err(
                    "invalid_risk",
                    format!(
                        "`{}` is not a risk level: normal, elevated or critical",
                        shorten(s)
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_risk_levels_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(kind.name().parse::<Kind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
        }
        for risk in RiskLevel::ALL {
            assert_eq!(risk.name().parse::<RiskLevel>().unwrap(), risk);
            let json = serde_json::to_string(&risk).unwrap();
            assert_eq!(json, format!("\"{}\"", risk.name()));
            assert_eq!(serde_json::from_str::<RiskLevel>(&json).unwrap(), risk);
        }
        assert_eq!("Raw".parse::<Kind>().unwrap_err().code, "invalid_kind");
        assert_eq!(
            "typed-data".parse::<Kind>().unwrap_err().code,
            "invalid_kind"
        );
        assert_eq!(
            "high".parse::<RiskLevel>().unwrap_err().code,
            "invalid_risk"
        );
    }
}
