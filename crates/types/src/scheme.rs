//! Signature schemes a key can belong to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name that is not one of the supported schemes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheme `{0}`; expected one of: frost-ed25519, frost-secp256k1-tr")]
pub struct SchemeError(pub String);

/// A threshold signature scheme.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// FROST(Ed25519, SHA-512), RFC 9591: Ed25519 chains.
    FrostEd25519,
    /// FROST(secp256k1, SHA-256) with BIP-340 signatures and the BIP-341 key tweak: Bitcoin
    /// Taproot key-path spends.
    FrostSecp256k1Tr,
}

impl Scheme {
    /// Every supported scheme.
    pub const ALL: [Scheme; 2] = [Scheme::FrostEd25519, Scheme::FrostSecp256k1Tr];

    /// The stable name used in configuration, storage and the API.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::FrostEd25519 => "frost-ed25519",
            Scheme::FrostSecp256k1Tr => "frost-secp256k1-tr",
        }
    }
}

impl FromStr for Scheme {
    type Err = SchemeError;
    fn from_str(s: &str) -> Result<Self, SchemeError> {
        Scheme::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| SchemeError(s.to_owned()))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scheme({})", self.name())
    }
}

impl Serialize for Scheme {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Scheme {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scheme::ALL {
            assert_eq!(s.name().parse::<Scheme>(), Ok(s));
        }
        assert!("frost-secp256k1".parse::<Scheme>().is_err());
    }
}
