//! Exact amounts of an asset in its base units (wei, satoshi, lamport). No floats.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an amount could not be built or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Text that is not a plain decimal integer of base units.
    #[error(
        "amount `{0}` is not a whole number of base units (digits only, no sign, point or exponent)"
    )]
    Parse(String),
    /// A sum or product past the largest representable amount.
    #[error("amount overflow")]
    Overflow,
    /// A difference below zero.
    #[error("amount underflow")]
    Underflow,
}

/// A non-negative whole number of base units, up to `u128::MAX`.
///
/// Arithmetic is checked only: there is no `+` that can wrap. Serialized as a decimal string,
/// because JSON numbers lose precision past 2^53 and a wei amount is routinely larger.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u128);

impl Amount {
    /// Zero base units.
    pub const ZERO: Self = Self(0);

    /// `units` base units.
    pub const fn from_base_units(units: u128) -> Self {
        Self(units)
    }

    /// The amount in base units.
    pub const fn base_units(self) -> u128 {
        self.0
    }

    /// `self + rhs`, or an error past `u128::MAX`.
    pub fn checked_add(self, rhs: Self) -> Result<Self, AmountError> {
        self.0
            .checked_add(rhs.0)
            .map(Self)
            .ok_or(AmountError::Overflow)
    }

    /// `self - rhs`, or an error below zero.
    pub fn checked_sub(self, rhs: Self) -> Result<Self, AmountError> {
        self.0
            .checked_sub(rhs.0)
            .map(Self)
            .ok_or(AmountError::Underflow)
    }

    /// `self * k`, or an error past `u128::MAX`.
    pub fn checked_mul(self, k: u128) -> Result<Self, AmountError> {
        self.0.checked_mul(k).map(Self).ok_or(AmountError::Overflow)
    }

    /// The sum of `amounts`, or an error on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Self>>(amounts: I) -> Result<Self, AmountError> {
        amounts.into_iter().try_fold(Self::ZERO, Self::checked_add)
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, AmountError> {
        // `u128::from_str` accepts a leading `+`; amounts are digits only.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::Parse(s.to_owned()));
        }
        s.parse::<u128>()
            .map(Self)
            .map_err(|_| AmountError::Parse(s.to_owned()))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_digits_only() {
        assert_eq!("0".parse(), Ok(Amount::ZERO));
        assert_eq!(
            "340282366920938463463374607431768211455".parse(),
            Ok(Amount::from_base_units(u128::MAX))
        );
        for bad in [
            "",
            "+1",
            "-1",
            "1.5",
            "1e18",
            " 1",
            "0x10",
            "340282366920938463463374607431768211456",
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        let max = Amount::from_base_units(u128::MAX);
        let one = Amount::from_base_units(1);
        assert_eq!(max.checked_add(one), Err(AmountError::Overflow));
        assert_eq!(Amount::ZERO.checked_sub(one), Err(AmountError::Underflow));
        assert_eq!(max.checked_mul(2), Err(AmountError::Overflow));
        assert_eq!(
            Amount::checked_sum([one, one, one]),
            Ok(Amount::from_base_units(3))
        );
        assert_eq!(Amount::checked_sum([max, one]), Err(AmountError::Overflow));
    }

    #[test]
    fn json_is_a_string_and_round_trips_past_2_pow_53() {
        let a = Amount::from_base_units(10u128.pow(30) + 7);
        let json = serde_json::to_string(&a).unwrap_or_default();
        assert_eq!(json, "\"1000000000000000000000000000007\"");
        assert_eq!(serde_json::from_str::<Amount>(&json).ok(), Some(a));
        assert!(
            serde_json::from_str::<Amount>("12").is_err(),
            "numbers are refused"
        );
        assert!(serde_json::from_str::<Amount>("\"1.0\"").is_err());
    }
}
