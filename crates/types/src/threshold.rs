//! `t` of `n`: how many parties must take part in a signature.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Most parties a key may have.
pub const MAX_PARTIES: u16 = 255;

/// Why a `t`-of-`n` pair is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// `t` is zero or larger than `n`.
    #[error("threshold {t} of {n} is impossible: need 1 <= t <= n")]
    OutOfRange {
        /// Signers needed.
        t: u16,
        /// Parties in all.
        n: u16,
    },
    /// `n` is larger than [`MAX_PARTIES`].
    #[error("{n} parties is more than the {MAX_PARTIES} supported")]
    TooManyParties {
        /// Parties in all.
        n: u16,
    },
    /// `t <= n/2`: two disjoint quorums could each spend a full limit.
    #[error(
        "threshold {t} of {n} lets two disjoint quorums sign: each signer enforces limits from \
         its own ledger, so every two quorums must share a signer (t > n/2); override only \
         deliberately"
    )]
    NoMajority {
        /// Signers needed.
        t: u16,
        /// Parties in all.
        n: u16,
    },
}

/// A checked threshold: `1 <= t <= n <= MAX_PARTIES`, and `t > n/2` unless built with
/// [`Threshold::allowing_minority`].
///
/// Why the majority rule: every signer enforces spend limits from its own ledger. Only when any
/// two quorums share a signer does some signer see both spends; two disjoint quorums could each
/// spend a full limit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Threshold {
    t: u16,
    n: u16,
}

impl Threshold {
    /// A majority threshold: `n/2 < t <= n`.
    pub fn new(t: u16, n: u16) -> Result<Self, ThresholdError> {
        let th = Self::allowing_minority(t, n)?;
        if !th.is_majority() {
            return Err(ThresholdError::NoMajority { t, n });
        }
        Ok(th)
    }

    /// Any `1 <= t <= n`, including thresholds where two disjoint quorums exist. Callers must
    /// have a reason; the majority property is then lost.
    pub fn allowing_minority(t: u16, n: u16) -> Result<Self, ThresholdError> {
        if n > MAX_PARTIES {
            return Err(ThresholdError::TooManyParties { n });
        }
        if t == 0 || t > n {
            return Err(ThresholdError::OutOfRange { t, n });
        }
        Ok(Self { t, n })
    }

    /// Signers needed for a signature.
    pub fn t(self) -> u16 {
        self.t
    }

    /// Parties holding a share.
    pub fn n(self) -> u16 {
        self.n
    }

    /// Whether every two quorums share at least one signer.
    pub fn is_majority(self) -> bool {
        u32::from(self.t) * 2 > u32::from(self.n)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-of-{}", self.t, self.n)
    }
}

impl fmt::Debug for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Threshold({self})")
    }
}

/// A threshold read from storage or the wire keeps the range check; the majority rule was
/// applied when the key was created, and a stored minority key stays loadable.
impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            t: u16,
            n: u16,
        }
        let raw = Raw::deserialize(d)?;
        Self::allowing_minority(raw.t, raw.n).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_is_required_by_default() {
        assert!(Threshold::new(2, 3).is_ok());
        assert!(Threshold::new(3, 5).is_ok());
        assert!(Threshold::new(1, 1).is_ok());
        assert_eq!(
            Threshold::new(2, 4),
            Err(ThresholdError::NoMajority { t: 2, n: 4 })
        );
        assert_eq!(
            Threshold::new(1, 2),
            Err(ThresholdError::NoMajority { t: 1, n: 2 })
        );
        assert!(Threshold::allowing_minority(2, 4).is_ok());
        assert!(
            !Threshold::allowing_minority(2, 4)
                .map(Threshold::is_majority)
                .unwrap_or(true)
        );
    }

    #[test]
    fn range_is_checked_even_when_minority_is_allowed() {
        assert_eq!(
            Threshold::allowing_minority(0, 3),
            Err(ThresholdError::OutOfRange { t: 0, n: 3 })
        );
        assert_eq!(
            Threshold::allowing_minority(4, 3),
            Err(ThresholdError::OutOfRange { t: 4, n: 3 })
        );
        assert_eq!(
            Threshold::allowing_minority(2, 256),
            Err(ThresholdError::TooManyParties { n: 256 })
        );
    }

    #[test]
    fn exhaustive_majority_rule() {
        for n in 1..=16u16 {
            for t in 1..=n {
                assert_eq!(Threshold::new(t, n).is_ok(), 2 * t > n, "{t}-of-{n}");
            }
        }
    }

    #[test]
    fn deserialize_checks_range() {
        assert!(serde_json::from_str::<Threshold>(r#"{"t":2,"n":3}"#).is_ok());
        assert!(serde_json::from_str::<Threshold>(r#"{"t":4,"n":3}"#).is_err());
        assert!(serde_json::from_str::<Threshold>(r#"{"t":2,"n":3,"x":1}"#).is_err());
    }
}
