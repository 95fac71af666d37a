//! Amounts written in a policy: exact decimals in an asset's units, converted to base units only
//! when a request says how many decimals its asset has.

use std::fmt;

use tessera_eth::U256;

use crate::error::{PolicyError, err};

/// An exact decimal amount from a policy file, such as `1.5`, in the units of whichever asset the
/// request is in.
///
/// The value is kept as `digits / 10^scale`: `1.50` is 150 with scale 2. Nothing is rounded until
/// [`PolicyAmount::to_base_units`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAmount {
    text: String,
    digits: U256,
    scale: u8,
}

impl PolicyAmount {
    /// Reads an amount with the grammar of [`tessera_eth::parse_amount`]: digits, optionally a
    /// point and more digits, no leading zero, not zero. Code `invalid_amount`.
    pub(crate) fn parse(text: &str) -> Result<PolicyAmount, PolicyError> {
        let fraction_len = text
            .split_once('.')
            .map_or(0, |(_, fraction)| fraction.len());
        let scale = u8::try_from(fraction_len)
            .map_err(|_| err("invalid_amount", format!("`{text}` has too many decimals")))?;
        // With as many decimals as the text has, parsing is exact: the digits with the point
        // taken out.
        let digits =
            tessera_eth::parse_amount(text, scale).map_err(|e| err("invalid_amount", e.message))?;
        Ok(PolicyAmount {
            text: text.to_owned(),
            digits,
            scale,
        })
    }

    /// The amount as written in the file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The amount in base units of an asset with `decimals` decimal places. A policy amount finer
    /// than the asset rounds down (`0.0000015` is 1 base unit of a 6-decimal asset). `None` when the
    /// result does not fit 256 bits.
    pub fn to_base_units(&self, decimals: u8) -> Option<U256> {
        let ten = U256::from(10u8);
        if decimals >= self.scale {
            let factor = ten.checked_pow(U256::from(decimals - self.scale))?;
            self.digits.checked_mul(factor)
        } else {
            // 10^78 is past U256::MAX, so a divisor that overflows leaves nothing.
            let divisor = ten.checked_pow(U256::from(self.scale - decimals));
            Some(divisor.map_or(U256::ZERO, |d| self.digits / d))
        }
    }
}

impl fmt::Display for PolicyAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `share` percent of `max`, rounded down, without overflow: with `max = 100q + r` it is
/// `q * share + r * share / 100`, each part at most `max`.
pub(crate) fn percent_of(max: U256, share: u8) -> U256 {
    let hundred = U256::from(100u8);
    let share = U256::from(share.min(100));
    let (q, r) = (max / hundred, max % hundred);
    q * share + r * share / hundred
}

/// `share` percent of a count, rounded down, the same way.
pub(crate) fn percent_of_count(max: u64, share: u8) -> u64 {
    let share = u64::from(share.min(100));
    (max / 100) * share + (max % 100) * share / 100
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(s: &str) -> PolicyAmount {
        PolicyAmount::parse(s).unwrap()
    }

    fn n(s: &str) -> U256 {
        s.parse().unwrap()
    }

    #[test]
    fn converts_exactly_to_base_units() {
        assert_eq!(
            amount("1.0").to_base_units(18),
            Some(n("1000000000000000000"))
        );
        assert_eq!(amount("1.5").to_base_units(6), Some(n("1500000")));
        assert_eq!(amount("12").to_base_units(0), Some(n("12")));
        assert_eq!(amount("0.000001").to_base_units(6), Some(n("1")));
        assert_eq!(amount("1.50").text(), "1.50");
    }

    #[test]
    fn finer_than_the_asset_rounds_down() {
        assert_eq!(amount("0.0000015").to_base_units(6), Some(n("1")));
        assert_eq!(amount("0.0000009").to_base_units(6), Some(U256::ZERO));
        assert_eq!(amount("1.9").to_base_units(0), Some(n("1")));
        let tiny = format!("0.{}1", "0".repeat(150));
        assert_eq!(amount(&tiny).to_base_units(0), Some(U256::ZERO));
    }

    #[test]
    fn too_large_for_256_bits_is_none() {
        // U256::MAX is about 1.16e77.
        assert_eq!(amount("1").to_base_units(78), None);
        assert_eq!(amount("2").to_base_units(77), None);
        assert_eq!(
            amount("1").to_base_units(77),
            Some(n(&format!("1{}", "0".repeat(77))))
        );
        assert_eq!(
            amount("1.15").to_base_units(77),
            Some(n(&format!("115{}", "0".repeat(75))))
        );
        assert_eq!(amount("1.16").to_base_units(77), None);
    }

    #[test]
    fn refuses_what_is_not_an_exact_positive_decimal() {
        for bad in [
            "", "0", "0.0", "-1", "1e3", ".5", "5.", "01", "1,5", " 1", "0x10",
        ] {
            assert_eq!(
                PolicyAmount::parse(bad).unwrap_err().code,
                "invalid_amount",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn percent_of_rounds_down_and_never_overflows() {
        assert_eq!(percent_of(n("3"), 50), n("1"));
        assert_eq!(percent_of(n("1000"), 10), n("100"));
        assert_eq!(percent_of(n("1999"), 10), n("199"));
        assert_eq!(percent_of(n("7"), 0), U256::ZERO);
        assert_eq!(percent_of(U256::MAX, 100), U256::MAX);
        assert_eq!(percent_of(U256::MAX, 50), U256::MAX / U256::from(2u8));
        assert_eq!(percent_of_count(15, 50), 7);
        assert_eq!(percent_of_count(15, 10), 1);
        assert_eq!(percent_of_count(u64::MAX, 100), u64::MAX);
        assert_eq!(percent_of_count(u64::MAX, 10), u64::MAX / 10);
    }
}
