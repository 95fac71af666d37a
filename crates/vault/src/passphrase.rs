//! A key-encryption key derived from a passphrase with Argon2id.

use std::fmt;

use argon2::{Algorithm, Argon2, Version};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use tessera_crypto::Shielded;

use crate::blob::{self, Header, KEY_LEN, Key, SALT_LEN};
use crate::{KdfParams, Kek, KekKind, SecretBytes, VaultError};

/// Context under which the verifier is sealed.
pub(crate) const VERIFIER_CONTEXT: &[u8] = b"tessera/vault/verifier/v1";
/// The fixed, public plaintext of the verifier.
pub(crate) const VERIFIER_PLAINTEXT: &[u8] = b"tessera vault verifier v1";

/// A key-encryption key derived from a passphrase: Argon2id over a random 16-byte salt.
///
/// The derived key is kept [`Shielded`] between operations: in the clear it exists only inside
/// one `seal` or `open`, in a buffer zeroized at its end. Never printed. Not `Clone`: share it
/// behind an `Arc<dyn Kek>`.
pub struct PassphraseKek {
    key: Shielded,
    params: KdfParams,
    salt: [u8; SALT_LEN],
}

impl PassphraseKek {
    /// A new vault key: random 16-byte salt, Argon2id(passphrase, salt, params).
    ///
    /// Returns the key and a verifier blob (the key sealing a fixed, known plaintext) to store
    /// beside the sealed shares; [`PassphraseKek::unlock`] needs it to re-derive the key.
    pub fn create(
        passphrase: &SecretBytes,
        params: KdfParams,
    ) -> Result<(Self, Vec<u8>), VaultError> {
        params.check()?;
        let mut salt = [0u8; SALT_LEN];
        OsRng
            .try_fill_bytes(&mut salt)
            .map_err(|_| VaultError::Rng)?;
        let kek = Self::derive(passphrase, params, salt)?;
        let verifier = kek.seal(VERIFIER_CONTEXT, VERIFIER_PLAINTEXT)?;
        Ok((kek, verifier))
    }

    /// Re-derives the key from the salt and parameters stored in `verifier` and checks that it
    /// opens the verifier.
    ///
    /// A wrong passphrase gives [`VaultError::WrongPassphrase`] and nothing else happens. A
    /// verifier whose body was damaged gives the same error: the two cannot be told apart. A
    /// verifier whose header is malformed gives [`VaultError::Corrupt`], and one whose stored
    /// parameters are out of range gives [`VaultError::WeakParams`] before any derivation runs.
    pub fn unlock(passphrase: &SecretBytes, verifier: &[u8]) -> Result<Self, VaultError> {
        let parsed = blob::parse(verifier)?;
        if parsed.header.kind != KekKind::Passphrase {
            return Err(VaultError::ForeignKey);
        }
        let kek = Self::derive(passphrase, parsed.header.params, parsed.header.salt)?;
        let plaintext = blob::open(&kek.key(), &parsed, VERIFIER_CONTEXT).map_err(|e| match e {
            VaultError::Corrupt => VaultError::WrongPassphrase,
            other => other,
        })?;
        // Authentic under this key and context but not the verifier: not something we wrote.
        if plaintext.expose() != VERIFIER_PLAINTEXT {
            return Err(VaultError::Corrupt);
        }
        Ok(kek)
    }

    /// The Argon2id parameters this key was derived with.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    fn derive(
        passphrase: &SecretBytes,
        params: KdfParams,
        salt: [u8; SALT_LEN],
    ) -> Result<Self, VaultError> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        let mut key: Key = Zeroizing::new([0u8; KEY_LEN]);
        argon2
            .hash_password_into(passphrase.expose(), &salt, key.as_mut_slice())
            .map_err(|_| VaultError::Kdf)?;
        let key = Shielded::new(&key).map_err(|_| VaultError::Rng)?;
        Ok(Self { key, params, salt })
    }

    /// The key in the clear, for one operation.
    fn key(&self) -> Key {
        self.key.unshield()
    }

    fn header(&self) -> Header {
        Header {
            kind: KekKind::Passphrase,
            params: self.params,
            salt: self.salt,
        }
    }
}

impl Kek for PassphraseKek {
    fn kind(&self) -> KekKind {
        KekKind::Passphrase
    }

    fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        blob::seal(&self.key(), &self.header(), context, plaintext)
    }

    fn open(&self, context: &[u8], blob: &[u8]) -> Result<SecretBytes, VaultError> {
        let parsed = blob::parse(blob)?;
        if parsed.header != self.header() {
            return Err(VaultError::ForeignKey);
        }
        blob::open(&self.key(), &parsed, context)
    }
}

impl fmt::Debug for PassphraseKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseKek")
            .field("key", &format_args!("<redacted>"))
            .field("params", &self.params)
            .field("salt", &self.salt)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_key_bytes() {
        let pass = SecretBytes::new(b"debug passphrase".to_vec());
        let (kek, _) = PassphraseKek::create(&pass, KdfParams::INSECURE_FAST_FOR_TESTS).unwrap();
        let debug = format!("{kek:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        let key = kek.key();
        let key: &[u8] = key.as_slice();
        assert_ne!(key, [0u8; KEY_LEN], "key was not derived");
        let as_hex = hex::encode(key);
        let as_list = format!("{key:?}");
        let as_list_inner = as_list.trim_start_matches('[').trim_end_matches(']');
        for shown in [debug.clone(), format!("{kek:#?}")] {
            assert!(!shown.contains(&as_hex), "{shown}");
            assert!(!shown.to_lowercase().contains(&as_hex), "{shown}");
            assert!(!shown.contains(as_list_inner), "{shown}");
            assert!(!shown.contains("debug passphrase"), "{shown}");
        }
    }

    #[test]
    fn same_passphrase_and_salt_derive_same_key() {
        let pass = SecretBytes::new(b"derive".to_vec());
        let params = KdfParams::INSECURE_FAST_FOR_TESTS;
        let a = PassphraseKek::derive(&pass, params, [7; SALT_LEN]).unwrap();
        let b = PassphraseKek::derive(&pass, params, [7; SALT_LEN]).unwrap();
        let c = PassphraseKek::derive(&pass, params, [8; SALT_LEN]).unwrap();
        assert_eq!(*a.key(), *b.key());
        assert_ne!(*a.key(), *c.key());
    }
}
