//! Client keys: the private key a client signs its requests with, and the public key the
//! servers check them against.
//!
//! Zeroization covers the [`ClientKey`] itself (the inner `SigningKey` wipes itself on drop),
//! the PKCS#8 buffers the `pkcs8` and `ed25519` crates decode and encode through, the bytes read
//! from a key file, and the PEM text returned by [`ClientKey::to_pkcs8_pem`]. It does not cover
//! copies the OS keeps (page cache, swap), stack temporaries the compiler leaves behind, or a
//! PEM string the caller copies out of its `Zeroizing` wrapper.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use ed25519_dalek::pkcs8::KeypairBytes;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{PUBLIC_KEY_LENGTH, Signature, Signer, SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::{AuthError, AuthErrorKind};

/// A client's Ed25519 private key. Wiped from memory on drop; `Debug` shows only the public key.
pub struct ClientKey(SigningKey);

impl ZeroizeOnDrop for ClientKey {}

impl ClientKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut OsRng))
    }

    /// Parses a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`), either version 1 (as
    /// `openssl genpkey -algorithm ed25519` writes) or version 2 with the public key included,
    /// in which case the public key must match.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, AuthError> {
        SigningKey::from_pkcs8_pem(pem).map(Self).map_err(|_| {
            AuthError::new(
                AuthErrorKind::BadKeyFile,
                "not a PKCS#8 PEM Ed25519 private key",
            )
        })
    }

    /// Reads a PKCS#8 PEM private key file; the file's bytes are wiped after parsing.
    pub fn read_pem_file(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(fs::read(path).map_err(|e| io_error("read", path, &e))?);
        let text = std::str::from_utf8(&bytes).map_err(|_| bad_key_file(path))?;
        Self::from_pkcs8_pem(text).map_err(|_| bad_key_file(path))
    }

    /// Writes the key as PKCS#8 PEM to a new file with mode 0600 (on Unix). Refuses to replace an
    /// existing file; a file left half-written by a failed write is removed.
    pub fn write_pem_file(&self, path: impl AsRef<Path>) -> Result<(), AuthError> {
        let path = path.as_ref();
        let pem = self.encode_pkcs8()?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                AuthError::new(
                    AuthErrorKind::KeyFileExists,
                    format!(
                        "key file `{}` already exists; not overwriting it",
                        path.display()
                    ),
                )
            } else {
                io_error("create", path, &e)
            }
        })?;
        let written = file
            .write_all(pem.as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            // Best effort: the write error is what the caller needs to see.
            let _ = fs::remove_file(path);
            return Err(io_error("write", path, &e));
        }
        Ok(())
    }

    /// The key as PKCS#8 version 1 PEM (the form `openssl genpkey` writes).
    ///
    /// Encoding a 32-byte key cannot fail; were it ever to, the result would be empty, which no
    /// reader accepts as a key.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        self.encode_pkcs8().unwrap_or_default()
    }

    /// The public key that servers register for this client.
    pub fn public_key(&self) -> ClientPublicKey {
        ClientPublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }

    fn encode_pkcs8(&self) -> Result<Zeroizing<String>, AuthError> {
        // `KeypairBytes` wipes its secret on drop (the `ed25519/zeroize` feature).
        let keypair = KeypairBytes {
            secret_key: self.0.to_bytes(),
            public_key: None,
        };
        keypair
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| AuthError::new(AuthErrorKind::BadKeyFile, "cannot encode the private key"))
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("public", &self.public_key().to_hex())
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}

fn io_error(action: &str, path: &Path, e: &io::Error) -> AuthError {
    AuthError::new(
        AuthErrorKind::Io,
        format!("cannot {action} key file `{}`: {e}", path.display()),
    )
}

fn bad_key_file(path: &Path) -> AuthError {
    AuthError::new(
        AuthErrorKind::BadKeyFile,
        format!(
            "key file `{}` is not a PKCS#8 PEM Ed25519 private key",
            path.display()
        ),
    )
}

/// A client's Ed25519 public key. Weak (small-order) keys are refused at every way in.
/// Serialized as 64 lower-case hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientPublicKey(VerifyingKey);

impl ClientPublicKey {
    fn checked(key: VerifyingKey) -> Result<Self, AuthError> {
        if key.is_weak() {
            return Err(bad_public_key("public key is a weak (small-order) point"));
        }
        Ok(Self(key))
    }

    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Result<Self, AuthError> {
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| bad_public_key("public key is not a valid Ed25519 point"))?;
        Self::checked(key)
    }

    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LENGTH] {
        self.0.to_bytes()
    }

    /// Parses a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, AuthError> {
        let key = VerifyingKey::from_public_key_pem(pem)
            .map_err(|_| bad_public_key("not a PEM Ed25519 public key"))?;
        Self::checked(key)
    }

    /// The key as SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes it.
    ///
    /// Encoding a 32-byte key cannot fail; were it ever to, the result would be empty, which no
    /// reader accepts as a key.
    pub fn to_spki_pem(&self) -> String {
        self.0.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Parses 64 lower-case hex characters.
    pub fn from_hex(s: &str) -> Result<Self, AuthError> {
        let mut bytes = [0u8; PUBLIC_KEY_LENGTH];
        let lower = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !lower || hex::decode_to_slice(s, &mut bytes).is_err() {
            return Err(bad_public_key(
                "public key must be 64 lower-case hex characters",
            ));
        }
        Self::from_bytes(&bytes)
    }

    /// The key as 64 lower-case hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

fn bad_public_key(message: &str) -> AuthError {
    AuthError::new(AuthErrorKind::BadPublicKey, message)
}

impl fmt::Debug for ClientPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientPublicKey({})", self.to_hex())
    }
}

impl fmt::Display for ClientPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ClientPublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ClientPublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8410 section 10.3: a PKCS#8 v1 Ed25519 private key, and (section 10.1) its public key.
    const RFC8410_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";
    const RFC8410_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
        -----END PUBLIC KEY-----\n";
    const RFC8410_PUBLIC_HEX: &str =
        "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1";

    #[test]
    fn rfc8410_key_reads_and_writes_byte_for_byte() {
        let key = ClientKey::from_pkcs8_pem(RFC8410_PRIVATE).unwrap();
        assert_eq!(key.public_key().to_hex(), RFC8410_PUBLIC_HEX);
        assert_eq!(key.to_pkcs8_pem().as_str(), RFC8410_PRIVATE);
        assert_eq!(key.public_key().to_spki_pem(), RFC8410_PUBLIC);
        let public = ClientPublicKey::from_spki_pem(RFC8410_PUBLIC).unwrap();
        assert_eq!(public, key.public_key());
    }

    #[test]
    fn pem_round_trip_keeps_the_key() {
        let key = ClientKey::generate();
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = ClientKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = ClientPublicKey::from_spki_pem(&key.public_key().to_spki_pem()).unwrap();
        assert_eq!(public, key.public_key());
    }

    #[test]
    fn pkcs8_v2_with_a_public_key_is_accepted() {
        let key = ClientKey::generate();
        let v2 = key.0.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(
            ClientKey::from_pkcs8_pem(&v2).unwrap().public_key(),
            key.public_key()
        );
    }

    #[test]
    fn bad_pem_is_refused_without_echoing_it() {
        for bad in [
            "",
            "hello",
            RFC8410_PUBLIC,
            &RFC8410_PRIVATE.replace("MC4C", "MC4D"),
        ] {
            let err = ClientKey::from_pkcs8_pem(bad).unwrap_err();
            assert_eq!(err.code(), "bad_key_file");
            assert!(!err.message().contains("MC4"), "{err}");
        }
        let err = ClientPublicKey::from_spki_pem(RFC8410_PRIVATE).unwrap_err();
        assert_eq!(err.code(), "bad_public_key");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let key = ClientKey::from_pkcs8_pem(RFC8410_PRIVATE).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains(RFC8410_PUBLIC_HEX), "{shown}");
        assert!(!shown.contains("d4ee72"), "{shown}");
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_0600_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.pem");
        let key = ClientKey::generate();
        key.write_pem_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let read = ClientKey::read_pem_file(&path).unwrap();
        assert_eq!(read.public_key(), key.public_key());

        let before = fs::read(&path).unwrap();
        let err = ClientKey::generate().write_pem_file(&path).unwrap_err();
        assert_eq!(err.code(), "key_file_exists");
        assert!(err.message().contains("client.pem"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn reading_a_missing_or_bad_file_fails_with_its_own_code() {
        let dir = tempfile::tempdir().unwrap();
        let missing = ClientKey::read_pem_file(dir.path().join("nope.pem")).unwrap_err();
        assert_eq!(missing.code(), "io");
        let path = dir.path().join("bad.pem");
        fs::write(&path, RFC8410_PUBLIC).unwrap();
        assert_eq!(
            ClientKey::read_pem_file(&path).unwrap_err().code(),
            "bad_key_file"
        );
        fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(
            ClientKey::read_pem_file(&path).unwrap_err().code(),
            "bad_key_file"
        );
    }

    #[test]
    fn public_key_hex_is_strict_lower_case() {
        let key = ClientPublicKey::from_hex(RFC8410_PUBLIC_HEX).unwrap();
        assert_eq!(key.to_hex(), RFC8410_PUBLIC_HEX);
        assert_eq!(key.to_string(), RFC8410_PUBLIC_HEX);
        let json = format!("\"{RFC8410_PUBLIC_HEX}\"");
        assert_eq!(serde_json::to_string(&key).unwrap(), json);
        assert_eq!(serde_json::from_str::<ClientPublicKey>(&json).unwrap(), key);
        let upper = RFC8410_PUBLIC_HEX.to_uppercase();
        for bad in [upper.as_str(), &RFC8410_PUBLIC_HEX[..62], "", "zz"] {
            assert_eq!(
                ClientPublicKey::from_hex(bad).unwrap_err().code(),
                "bad_public_key"
            );
        }
        assert!(serde_json::from_str::<ClientPublicKey>(&format!("\"{upper}\"")).is_err());
    }

    #[test]
    fn weak_public_keys_are_refused() {
        // The identity point: small order, so any signature "verifies" under lax rules.
        let mut identity = [0u8; PUBLIC_KEY_LENGTH];
        identity[0] = 1;
        let err = ClientPublicKey::from_bytes(&identity).unwrap_err();
        assert_eq!(err.code(), "bad_public_key");
        assert!(ClientPublicKey::from_hex(&hex::encode(identity)).is_err());
    }
}
