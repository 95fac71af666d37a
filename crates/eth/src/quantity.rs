//! JSON-RPC hex quantities and data, read strictly enough for a signer and written canonically.

use alloy_primitives::{Bytes, U256, hex};
use serde_json::Value;

/// Reads a quantity: a `0x`-prefixed hex string of 1 to 64 digits (leading zeros tolerated), or a JSON
/// non-negative integer. The error is a reason, the caller picks the code.
pub(crate) fn u256(v: &Value) -> Result<U256, String> {
    match v {
        Value::String(s) => {
            let digits = s
                .strip_prefix("0x")
                .ok_or_else(|| format!("`{s}` is not a 0x-prefixed hex quantity"))?;
            if digits.is_empty()
                || digits.len() > 64
                || !digits.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(format!("`{s}` is not a 0x-prefixed hex quantity"));
            }
            U256::from_str_radix(digits, 16).map_err(|_| format!("`{s}` is not a hex quantity"))
        }
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| format!("`{n}` is not a non-negative integer")),
        other => Err(format!("expected a hex quantity, got {}", kind(other))),
    }
}

pub(crate) fn u64(v: &Value) -> Result<u64, String> {
    let n = u256(v)?;
    u64::try_from(n).map_err(|_| format!("{n} does not fit 64 bits"))
}

pub(crate) fn u128(v: &Value) -> Result<u128, String> {
    let n = u256(v)?;
    u128::try_from(n).map_err(|_| format!("{n} does not fit 128 bits"))
}

/// Reads data: `0x` and an even number of hex digits.
pub(crate) fn data(v: &Value) -> Result<Bytes, String> {
    let Value::String(s) = v else {
        return Err(format!("expected 0x-prefixed hex data, got {}", kind(v)));
    };
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| "data does not start with 0x".to_owned())?;
    hex::decode(digits)
        .map(Bytes::from)
        .map_err(|_| "data is not an even number of hex digits".to_owned())
}

/// Writes a quantity the canonical way: `0x0`, `0x1a`, no leading zeros.
pub(crate) fn to_hex(n: impl std::fmt::LowerHex) -> String {
    format!("{n:#x}")
}

/// Writes data as `0x` and lowercase hex.
pub(crate) fn data_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(u64(&json!("0x0")).unwrap(), 0);
        assert_eq!(u64(&json!("0x7a69")).unwrap(), 31337);
        assert_eq!(u64(&json!("0x007a69")).unwrap(), 31337);
        assert_eq!(u64(&json!(5)).unwrap(), 5);
        assert!(u64(&json!("0x")).is_err());
        assert!(u64(&json!("7a69")).is_err());
        assert!(u64(&json!("0x10000000000000000")).is_err());
        assert!(u64(&json!(-1)).is_err());
        assert!(u64(&json!(1.5)).is_err());
        assert!(u64(&json!(null)).is_err());
        assert_eq!(
            u256(&json!(format!("0x{}", "f".repeat(64)))).unwrap(),
            U256::MAX
        );
        assert!(u256(&json!(format!("0x{}", "f".repeat(65)))).is_err());
        assert_eq!(to_hex(0u64), "0x0");
        assert_eq!(to_hex(31337u64), "0x7a69");
        assert_eq!(to_hex(U256::MAX), format!("0x{}", "f".repeat(64)));
    }

    #[test]
    fn data_fields() {
        assert_eq!(data(&json!("0x")).unwrap(), Bytes::new());
        assert_eq!(
            data(&json!("0xA9059cbb")).unwrap().as_ref(),
            &[0xa9, 0x05, 0x9c, 0xbb]
        );
        assert!(data(&json!("0xabc")).is_err());
        assert!(data(&json!("abcd")).is_err());
        assert!(data(&json!(12)).is_err());
        assert_eq!(data_hex(&[0xa9, 0x05]), "0xa905");
    }
}
