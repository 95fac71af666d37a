//! Encrypted storage of key shares at rest.
//!
//! A [`Kek`] (key-encryption key) seals each party's key share into a self-describing blob and
//! opens it again. The one provider today is [`PassphraseKek`]: a 32-byte key derived from a
//! passphrase with Argon2id. A provider backed by a PKCS#11 HSM is planned (see
//! [`KekKind`]).
//!
//! ```
//! use tessera_vault::{KdfParams, Kek, PassphraseKek, SecretBytes};
//!
//! let passphrase = SecretBytes::new(b"correct horse battery staple".to_vec());
//! // Real shares use `KdfParams::DEFAULT`.
//! let (kek, verifier) = PassphraseKek::create(&passphrase, KdfParams::INSECURE_FAST_FOR_TESTS)?;
//! let context = b"tessera/share/v1|key-1|3";
//! let blob = kek.seal(context, b"share bytes")?;
//! // Later, possibly in another process: the verifier is stored beside the blobs.
//! let kek = PassphraseKek::unlock(&passphrase, &verifier)?;
//! assert_eq!(kek.open(context, &blob)?.expose(), b"share bytes");
//! # Ok::<(), tessera_vault::VaultError>(())
//! ```
//!
//! # Blob format, version 1
//!
//! All integers are big-endian.
//!
//! | offset | size | field                                              |
//! |-------:|-----:|----------------------------------------------------|
//! | 0      | 3    | magic `"TVB"`                                      |
//! | 3      | 1    | format version, `0x01`                             |
//! | 4      | 1    | KEK kind tag ([`KekKind::tag`]): `1` = passphrase  |
//! | 5      | 4    | Argon2id memory cost `m_kib` (KiB)                 |
//! | 9      | 4    | Argon2id passes `t_cost`                           |
//! | 13     | 4    | Argon2id lanes `p_cost`                            |
//! | 17     | 1    | salt length, always 16                             |
//! | 18     | 16   | Argon2id salt                                      |
//! | 34     | 24   | XChaCha20-Poly1305 nonce, random for every seal    |
//! | 58     | n+16 | ciphertext of the n-byte plaintext, then the tag   |
//!
//! The AEAD is XChaCha20-Poly1305 under the derived key. Its associated data is every header
//! byte before the nonce (offsets 0 to 33), then the length of the context as a u32, then the
//! context. The context (for instance `b"tessera/share/v1|<key id>|<party>"`) is not stored:
//! the caller supplies it again to open, and a blob opened under another context fails
//! authentication. The parameters and salt travel with every blob, so a blob can be matched to
//! its vault key, and changing any of them is detected.
//!
//! A vault key is stored as a *verifier*: a blob in this format sealing the fixed plaintext
//! `"tessera vault verifier v1"` under the context `"tessera/vault/verifier/v1"`.
//! [`PassphraseKek::unlock`] reads the salt and parameters from it and checks the passphrase.
//!
//! Parsing is strict. Bad magic, an unknown version, a salt length other than 16, a blob too
//! short to hold a tag, or a failed authentication are all [`VaultError::Corrupt`]; a kind tag
//! this build does not know is [`VaultError::UnsupportedKind`]; a salt or parameters that differ
//! from the opening key's are [`VaultError::ForeignKey`]. Parameters read from a verifier are
//! range-checked ([`KdfParams::check`]) before any derivation, so a hostile header cannot make
//! the reader allocate more than 4 GiB.
//!
//! # What zeroization covers, and what it does not
//!
//! Argon2id writes the derived key into a `Zeroizing` buffer, which is at once shielded
//! ([`tessera_crypto::Shielded`]: kept XORed with the hash of a 4 KiB random pre-key) and
//! wiped. Each `seal` or `open` unshields it into another `Zeroizing` buffer for that operation
//! only, and the cipher instance made from it wipes its own copy on drop: between operations
//! no copy of the key is in memory in the clear. Argon2's
//! working memory is wiped by the `argon2` crate's `zeroize` feature. Opened plaintexts are
//! decrypted in place inside a `Zeroizing` buffer and returned as [`SecretBytes`]; sealing
//! encrypts in place in a buffer whose capacity is reserved up front, so no stray plaintext
//! copy is left by a reallocation.
//!
//! Not covered: the passphrase and plaintext buffers the caller owns; copies the compiler makes
//! on the stack and in registers; the ChaCha20 keystream state inside the cipher; memory paged
//! out to swap or captured in a core dump (lock memory and disable dumps at the process level);
//! and anything the operating system or allocator keeps after memory is freed.

mod blob;
mod error;
mod params;
mod passphrase;

#[cfg(test)]
mod tests;

pub use error::VaultError;
pub use params::KdfParams;
pub use passphrase::PassphraseKek;
pub use tessera_crypto::SecretBytes;

/// Which kind of key-encryption key sealed a blob, stored as a stable tag byte in its header.
///
/// Tag `2` is reserved for `Pkcs11`, a later provider whose key never leaves an HSM. It is not
/// implemented: blobs carrying it are refused with [`VaultError::UnsupportedKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KekKind {
    /// A key derived from a passphrase with Argon2id ([`PassphraseKek`]). Tag `1`.
    Passphrase,
}

impl KekKind {
    /// The tag byte stored in blob headers.
    pub fn tag(self) -> u8 {
        match self {
            KekKind::Passphrase => 1,
        }
    }

    pub(crate) fn from_tag(tag: u8) -> Result<Self, VaultError> {
        match tag {
            1 => Ok(KekKind::Passphrase),
            _ => Err(VaultError::UnsupportedKind),
        }
    }
}

/// A key-encryption key: seals secrets into self-describing blobs and opens them again.
///
/// Object safe, so a vault can hold an `Arc<dyn Kek>` whatever the provider. Implementations
/// must not print key material in their `Debug` output.
pub trait Kek: Send + Sync + std::fmt::Debug {
    /// Which kind of key this is; stored in every blob it seals.
    fn kind(&self) -> KekKind;

    /// Encrypts `plaintext`, binding `context` (for example
    /// `b"tessera/share/v1|<key id>|<party>"`), which is not stored in the blob: opening with
    /// another context fails.
    fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError>;

    /// Decrypts a blob sealed by [`Kek::seal`] under the same context.
    fn open(&self, context: &[u8], blob: &[u8]) -> Result<SecretBytes, VaultError>;
}
