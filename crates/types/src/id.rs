//! Identifiers of wallets, keys and parties.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string or number is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier is empty or longer than [`MAX_ID_LEN`] bytes.
    #[error("identifier must be 1 to {MAX_ID_LEN} characters long, got {0}")]
    Length(usize),
    /// The identifier has a character outside `a-z`, `0-9`, `-`, `_`, `.`.
    #[error(
        "identifier `{0}` may only contain a-z, 0-9, `-`, `_` and `.`, and must start with a letter or digit"
    )]
    Charset(String),
    /// A party number of zero.
    #[error("party ids start at 1")]
    ZeroParty,
}

/// Longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(IdError::Length(s.len()));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok || !s.chars().all(allowed) {
        return Err(IdError::Charset(s.to_owned()));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Checks `s` and wraps it.
            pub fn new(s: &str) -> Result<Self, IdError> {
                check_id(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A wallet: what clients and policies name. One wallet uses one key per chain family.
    WalletId
);
string_id!(
    /// A threshold key: one group public key and the shares held by its parties.
    KeyId
);

/// One party (signer) of a threshold key, numbered from 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PartyId(u16);

impl PartyId {
    /// Party number `n`, which must be at least 1.
    pub fn new(n: u16) -> Result<Self, IdError> {
        if n == 0 {
            return Err(IdError::ZeroParty);
        }
        Ok(Self(n))
    }

    /// The party number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl<'de> Deserialize<'de> for PartyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(u16::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "party {}", self.0)
    }
}

impl fmt::Debug for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartyId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_charset_only() {
        assert!(KeyId::new("hot-eth.1_a").is_ok());
        assert_eq!(KeyId::new(""), Err(IdError::Length(0)));
        assert!(matches!(KeyId::new("Hot"), Err(IdError::Charset(_))));
        assert!(matches!(KeyId::new("-x"), Err(IdError::Charset(_))));
        assert!(matches!(WalletId::new("a b"), Err(IdError::Charset(_))));
        assert!(matches!(WalletId::new("a/b"), Err(IdError::Charset(_))));
        assert_eq!(WalletId::new(&"a".repeat(65)), Err(IdError::Length(65)));
    }

    #[test]
    fn serde_goes_through_the_checked_constructor() {
        assert!(serde_json::from_str::<KeyId>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<KeyId>("\"../etc\"").is_err());
        assert!(serde_json::from_str::<PartyId>("0").is_err());
        assert_eq!(
            serde_json::from_str::<PartyId>("3").ok(),
            PartyId::new(3).ok()
        );
    }
}
