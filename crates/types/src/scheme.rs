//! Signature schemes a key can belong to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name that is not one of the supported schemes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scheme `{0}`; expected one of: frost-ed25519, frost-secp256k1-tr, ecdsa-secp256k1"
)]
pub struct SchemeError(pub String);

/// A threshold signature scheme.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// FROST(Ed25519, SHA-512), RFC 9591: Ed25519 chains.
    FrostEd25519,
    /// FROST(secp256k1, SHA-256) with BIP-340 signatures and the BIP-341 key tweak: Bitcoin
    /// Taproot key-path spends.
    FrostSecp256k1Tr,
    /// Threshold ECDSA on secp256k1 (DKLs23), signing 32-byte message hashes with a recovery
    /// id: Ethereum and EVM chains.
    EcdsaSecp256k1,
}

impl Scheme {
    /// Every supported scheme.
    pub const ALL: [Scheme; 3] = [
        Scheme::FrostEd25519,
        Scheme::FrostSecp256k1Tr,
        Scheme::EcdsaSecp256k1,
    ];

    /// The FROST schemes: signing with nonce commitments made ahead of time.
    pub const FROST: [Scheme; 2] = [Scheme::FrostEd25519, Scheme::FrostSecp256k1Tr];

    /// The stable name used in configuration, storage and the API.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::FrostEd25519 => "frost-ed25519",
            Scheme::FrostSecp256k1Tr => "frost-secp256k1-tr",
            Scheme::EcdsaSecp256k1 => "ecdsa-secp256k1",
        }
    }

    /// Whether signers commit to nonces ahead of time and keep them in a pool (FROST), or
    /// sign in a multi-round online session with no precomputed nonces (ECDSA).
    pub fn uses_nonce_pool(self) -> bool {
        match self {
            Scheme::FrostEd25519 | Scheme::FrostSecp256k1Tr => true,
            Scheme::EcdsaSecp256k1 => false,
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
        assert!("ecdsa".parse::<Scheme>().is_err());
    }

    #[test]
    fn frost_schemes_use_nonce_pools_and_ecdsa_does_not() {
        for s in Scheme::FROST {
            assert!(s.uses_nonce_pool(), "{s}");
            assert!(Scheme::ALL.contains(&s));
        }
        assert!(!Scheme::EcdsaSecp256k1.uses_nonce_pool());
        assert_eq!(
            Scheme::ALL.iter().filter(|s| s.uses_nonce_pool()).count(),
            Scheme::FROST.len()
        );
    }

    #[test]
    fn unknown_names_list_every_scheme() {
        let e = "nope".parse::<Scheme>().unwrap_err().to_string();
        for s in Scheme::ALL {
            assert!(e.contains(s.name()), "{e}");
        }
    }
}
