//! Exact decimal amounts in an asset's units, converted to and from base units (wei, token units).

use alloy_primitives::U256;

use crate::address::shorten;
use crate::error::{EthError, err};

/// The longest amount string accepted: more digits than any `U256` has, with room for a point and
/// 77 fractional digits.
const MAX_LEN: usize = 160;

/// Parses an exact decimal amount such as `0.25` or `12` into base units, for an asset with `decimals`
/// decimal places.
///
/// Grammar: digits, then optionally a point and at least one digit. No sign, exponent, spaces,
/// separators, or leading zeros (`0.5` is fine, `00.5` and `01` are not). Codes: `too_many_decimals`
/// when there are more fractional digits than `decimals` (even zeros: `1.50` needs two decimals);
/// `invalid_amount` for anything else, including zero and a value that does not fit 256 bits.
pub fn parse_amount(s: &str, decimals: u8) -> Result<U256, EthError> {
    let invalid = |why: &str| err("invalid_amount", format!("`{}` {why}", shorten(s)));
    if s.len() > MAX_LEN {
        return Err(invalid("is too long"));
    }
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    let is_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !is_digits(whole) || !fraction.is_none_or(is_digits) {
        return Err(invalid("is not a decimal number such as `12` or `0.25`"));
    }
    if whole.len() > 1 && whole.starts_with('0') {
        return Err(invalid("has a leading zero"));
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > usize::from(decimals) {
        return Err(err(
            "too_many_decimals",
            format!(
                "`{}` has {} decimal places, the asset has {decimals}",
                shorten(s),
                fraction.len()
            ),
        ));
    }
    let overflow = || invalid("is too large");
    let ten = U256::from(10u8);
    let mut value = U256::ZERO;
    for digit in whole.bytes().chain(fraction.bytes()) {
        value = value
            .checked_mul(ten)
            .and_then(|v| v.checked_add(U256::from(digit - b'0')))
            .ok_or_else(overflow)?;
    }
    for _ in fraction.len()..usize::from(decimals) {
        value = value.checked_mul(ten).ok_or_else(overflow)?;
    }
    if value.is_zero() {
        return Err(invalid("is zero"));
    }
    Ok(value)
}

/// Formats base units as an exact decimal in the asset's units, without trailing zeros: the inverse of
/// [`parse_amount`] (zero formats as `0`).
pub fn format_amount(amount: U256, decimals: u8) -> String {
    let digits = amount.to_string();
    let decimals = usize::from(decimals);
    let padded = if digits.len() <= decimals {
        format!("{}{digits}", "0".repeat(decimals + 1 - digits.len()))
    } else {
        digits
    };
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wei(s: &str) -> U256 {
        s.parse().unwrap()
    }

    #[test]
    fn parses_common_amounts() {
        assert_eq!(parse_amount("0.25", 18).unwrap(), wei("250000000000000000"));
        assert_eq!(parse_amount("12", 18).unwrap(), wei("12000000000000000000"));
        assert_eq!(parse_amount("12", 0).unwrap(), wei("12"));
        assert_eq!(parse_amount("1.5", 6).unwrap(), wei("1500000"));
        assert_eq!(parse_amount("0.000001", 6).unwrap(), wei("1"));
        assert_eq!(parse_amount("0.000000000000000001", 18).unwrap(), wei("1"));
        assert_eq!(parse_amount("1.50", 6).unwrap(), wei("1500000"));
    }

    #[test]
    fn too_many_decimals_has_its_own_code() {
        assert_eq!(
            parse_amount("0.0000001", 6).unwrap_err().code,
            "too_many_decimals"
        );
        assert_eq!(
            parse_amount("1.0", 0).unwrap_err().code,
            "too_many_decimals"
        );
        assert_eq!(
            parse_amount("1.0000000", 6).unwrap_err().code,
            "too_many_decimals"
        );
    }

    #[test]
    fn refuses_what_is_not_an_exact_positive_decimal() {
        for bad in [
            "", "0", "0.0", "0.000", "-1", "+1", "1e18", "1E3", " 1", "1 ", "1,5", ".5", "5.",
            "1..2", "1.2.3", "01", "00.5", "0x10", "١", "1_000", "NaN", "inf",
        ] {
            assert_eq!(
                parse_amount(bad, 18).unwrap_err().code,
                "invalid_amount",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_overflow_and_accepts_the_maximum() {
        let max = U256::MAX.to_string();
        assert_eq!(parse_amount(&max, 0).unwrap(), U256::MAX);
        // U256::MAX ends in 5: the same digits ending in 6 are one more.
        let mut one_more = max.clone();
        assert_eq!(one_more.pop(), Some('5'));
        one_more.push('6');
        assert_eq!(
            parse_amount(&one_more, 0).unwrap_err().code,
            "invalid_amount"
        );
        assert_eq!(parse_amount("1", 78).unwrap_err().code, "invalid_amount");
        assert_eq!(
            parse_amount("1", 77).unwrap(),
            U256::from(10u8).pow(U256::from(77u8))
        );
        assert_eq!(
            parse_amount(&"9".repeat(200), 0).unwrap_err().code,
            "invalid_amount"
        );
    }

    #[test]
    fn formats_without_trailing_zeros() {
        assert_eq!(format_amount(wei("250000000000000000"), 18), "0.25");
        assert_eq!(format_amount(wei("12000000000000000000"), 18), "12");
        assert_eq!(format_amount(wei("1"), 18), "0.000000000000000001");
        assert_eq!(format_amount(wei("1500000"), 6), "1.5");
        assert_eq!(format_amount(wei("0"), 6), "0");
        assert_eq!(format_amount(wei("120"), 0), "120");
        assert_eq!(format_amount(U256::MAX, 255).len(), 2 + 255);
    }

    /// A small deterministic generator, enough to sweep many shapes of amounts.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn format_then_parse_and_parse_then_format_round_trip() {
        let mut rng = Lcg(7);
        for _ in 0..5000 {
            let decimals = (rng.next() % 40) as u8;
            let limbs = [rng.next() << 32 | rng.next(), rng.next(), 0, 0];
            let shift = rng.next() % 128;
            let amount = (U256::from_limbs(limbs) >> shift as usize).max(U256::from(1u8));
            let text = format_amount(amount, decimals);
            assert_eq!(
                parse_amount(&text, decimals).unwrap(),
                amount,
                "{text} / {decimals}"
            );
            assert_eq!(
                format_amount(parse_amount(&text, decimals).unwrap(), decimals),
                text
            );
        }
    }
}
