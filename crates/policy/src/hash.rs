//! The identity of a policy: a hash of its exact text, recorded with every decision.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{PolicyError, err, shorten};

/// SHA-256 of `tessera/policy/v1`, a zero byte, and the policy file's exact bytes. Shown and
/// serialized as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyHash([u8; 32]);

impl PolicyHash {
    /// What the file's bytes are prefixed with, so that this hash means nothing else.
    pub const DOMAIN: &'static [u8] = b"tessera/policy/v1\0";

    /// The hash of a policy file's text, byte for byte (comments and spacing included).
    pub fn of_text(text: &str) -> PolicyHash {
        let mut hasher = Sha256::new();
        hasher.update(PolicyHash::DOMAIN);
        hasher.update(text.as_bytes());
        PolicyHash(hasher.finalize().into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyHash({self})")
    }
}

impl FromStr for PolicyHash {
    type Err = PolicyError;

    /// Exactly 64 lowercase hex digits. Code `invalid_hash`.
    fn from_str(s: &str) -> Result<PolicyHash, PolicyError> {
        let lowercase_hex = s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(s, &mut bytes) {
            Ok(()) if lowercase_hex => Ok(PolicyHash(bytes)),
            _ => Err(err(
                "invalid_hash",
                format!(
                    "`{}` is not a policy hash: 64 lowercase hex digits",
                    shorten(s)
                ),
            )),
        }
    }
}

impl Serialize for PolicyHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicyHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PolicyHash, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|e: PolicyError| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_domain_then_the_exact_bytes() {
        let mut hasher = Sha256::new();
        hasher.update(b"tessera/policy/v1\0version = 1\n");
        let expected: [u8; 32] = hasher.finalize().into();
        assert_eq!(PolicyHash::of_text("version = 1\n").as_bytes(), &expected);
        assert_ne!(
            PolicyHash::of_text("version = 1\n"),
            PolicyHash::of_text("version = 1\n\n")
        );
    }

    #[test]
    fn text_and_serde_round_trip_as_lowercase_hex() {
        let hash = PolicyHash::of_text("version = 1\n");
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.parse::<PolicyHash>().unwrap(), hash);
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<PolicyHash>(&json).unwrap(), hash);
        for bad in [
            text.to_uppercase(),
            text[..62].to_owned(),
            format!("{text}00"),
            format!("0x{}", &text[2..]),
            format!("g{}", &text[1..]),
        ] {
            assert_eq!(bad.parse::<PolicyHash>().unwrap_err().code, "invalid_hash");
        }
        assert!(serde_json::from_str::<PolicyHash>("\"00\"").is_err());
    }
}
