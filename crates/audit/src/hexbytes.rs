//! Fixed-size byte arrays as lowercase hex strings in JSON (`#[serde(with = "...")]`).

use serde::{Deserialize, Deserializer, Serializer, de};

pub(crate) fn serialize<S: Serializer, const N: usize>(
    bytes: &[u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).ok_or_else(|| {
        de::Error::custom(format_args!(
            "expected {} hex characters",
            N.saturating_mul(2)
        ))
    })
}

/// Exactly `2 * N` hex characters (either case) as `N` bytes.
pub(crate) fn parse<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}
