//! A node's audit key: the Ed25519 key that signs its audit entries and its receipts, separate
//! from its TLS key and its peer keys (ADR 0013).
//!
//! The key file holds the 32-byte secret as 64 lowercase hex characters and a newline, mode
//! 0600. Zeroization covers the [`AuditKey`] (the inner `SigningKey` wipes itself on drop), the
//! bytes read from a key file, the decoded secret, and the hex text written to one. It does not
//! cover copies the OS keeps (page cache, swap) or stack temporaries the compiler leaves behind.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::AuditError;
use crate::hexbytes;

/// A node's audit signing key. Wiped from memory on drop; `Debug` shows only the public key.
pub struct AuditKey(SigningKey);

impl ZeroizeOnDrop for AuditKey {}

impl AuditKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, AuditError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| AuditError::Random(e.to_string()))?;
        Ok(Self::from_bytes(&seed))
    }

    /// The key whose 32-byte Ed25519 secret is `secret`. The caller wipes its own copy.
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    /// Writes the key to a new file with mode 0600. Refuses to replace an existing file; a
    /// file left half-written by a failed write is removed.
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), AuditError> {
        let path = path.as_ref();
        let secret = Zeroizing::new(self.0.to_bytes());
        let mut text = Zeroizing::new([0u8; 65]);
        let (digits, newline) = text.split_at_mut(64);
        hex::encode_to_slice(secret.as_ref(), digits)
            .map_err(|e| key_file_error(path, "encode", &e))?;
        newline.fill(b'\n');
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    AuditError::KeyFileExists(path.display().to_string())
                } else {
                    key_file_error(path, "create", &e)
                }
            })?;
        let written = file.write_all(text.as_ref()).and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            // Best effort: the write error is what the caller needs to see.
            let _ = fs::remove_file(path);
            return Err(key_file_error(path, "write", &e));
        }
        Ok(())
    }

    /// Reads a key file written by [`AuditKey::write_to`] (surrounding whitespace is ignored).
    pub fn read_from(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(fs::read(path).map_err(|e| key_file_error(path, "read", &e))?);
        let digits = bytes.trim_ascii();
        let mut secret = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, secret.as_mut()).map_err(|_| AuditError::KeyFile {
            path: path.display().to_string(),
            reason: "expected 64 hex characters".into(),
        })?;
        Ok(Self::from_bytes(&secret))
    }

    /// The public key that verifies this node's entries and receipts.
    pub fn public(&self) -> AuditPublicKey {
        AuditPublicKey(self.0.verifying_key())
    }

    /// Signs `message`. Private to the crate: every message this key signs starts with one of
    /// the crate's domain strings.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey")
            .field("public", &self.public().to_string())
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}

fn key_file_error(path: &Path, action: &str, e: &dyn fmt::Display) -> AuditError {
    AuditError::KeyFile {
        path: path.display().to_string(),
        reason: format!("cannot {action}: {e}"),
    }
}

/// A node's audit public key: 32 bytes, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuditPublicKey(VerifyingKey);

impl AuditPublicKey {
    /// The key encoded by `bytes`, if it is a valid point that is not of small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, AuditError> {
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| AuditError::BadPublicKey("not a valid Ed25519 point".into()))?;
        if key.is_weak() {
            return Err(AuditError::BadPublicKey("a weak Ed25519 key".into()));
        }
        Ok(Self(key))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Whether `sig` is this key's signature of `message` (strict verification: no
    /// malleable signatures, no weak keys).
    pub(crate) fn verifies(&self, message: &[u8], sig: &[u8; 64]) -> bool {
        self.0
            .verify_strict(message, &Signature::from_bytes(sig))
            .is_ok()
    }
}

impl fmt::Display for AuditPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for AuditPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditPublicKey({self})")
    }
}

impl FromStr for AuditPublicKey {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hexbytes::parse::<32>(s).ok_or_else(|| {
            let shown: String = s.chars().take(80).collect();
            AuditError::BadPublicKey(format!("`{shown}` is not 64 hex characters"))
        })?;
        Self::from_bytes(&bytes)
    }
}

impl Serialize for AuditPublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuditPublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_key_file_is_private_new_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let key = AuditKey::generate().unwrap();
        key.write_to(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(AuditKey::read_from(&path).unwrap().public(), key.public());

        let e = AuditKey::generate().unwrap().write_to(&path).unwrap_err();
        assert_eq!(e.code(), "key_file_exists");
        assert_eq!(AuditKey::read_from(&path).unwrap().public(), key.public());

        fs::write(&path, "abcd\n").unwrap();
        assert_eq!(
            AuditKey::read_from(&path).unwrap_err().code(),
            "bad_key_file"
        );
        let missing = AuditKey::read_from(dir.path().join("none")).unwrap_err();
        assert_eq!(missing.code(), "bad_key_file");
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = AuditKey::from_bytes(&[0xee; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("eeee"), "{shown}");
        assert!(shown.contains(&key.public().to_string()), "{shown}");
    }

    #[test]
    fn public_keys_are_hex() {
        let public = AuditKey::from_bytes(&[3; 32]).public();
        let text = public.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<AuditPublicKey>().unwrap(), public);
        assert_eq!(
            text.to_uppercase().parse::<AuditPublicKey>().unwrap(),
            public
        );
        let json = serde_json::to_string(&public).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<AuditPublicKey>(&json).unwrap(),
            public
        );

        let short = "abc".parse::<AuditPublicKey>().unwrap_err();
        assert_eq!(
            short.to_string(),
            "not an audit public key: `abc` is not 64 hex characters"
        );
        // The identity point: a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = hex::encode(identity).parse::<AuditPublicKey>().unwrap_err();
        assert_eq!(weak.code(), "bad_public_key");
    }
}
