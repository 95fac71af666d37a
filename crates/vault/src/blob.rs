//! The v1 blob format: parsing, sealing and opening under an already derived key.
//!
//! The layout is described in the crate documentation. Parsing is strict: every field has one
//! accepted encoding, so the header bytes authenticated as associated data are exactly the
//! header that was checked.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::{KdfParams, KekKind, SecretBytes, VaultError};

pub(crate) const MAGIC: &[u8; 3] = b"TVB";
pub(crate) const VERSION_V1: u8 = 1;
pub(crate) const SALT_LEN: usize = 16;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const KEY_LEN: usize = 32;
/// Magic, version, kind, three u32 costs, salt length and salt: everything before the nonce.
pub(crate) const HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 3 * 4 + 1 + SALT_LEN;

/// A derived key-encryption key.
pub(crate) type Key = Zeroizing<[u8; KEY_LEN]>;

/// The header fields that name the key a blob was sealed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: KekKind,
    pub(crate) params: KdfParams,
    pub(crate) salt: [u8; SALT_LEN],
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION_V1);
        out.push(self.kind.tag());
        out.extend_from_slice(&self.params.m_kib.to_be_bytes());
        out.extend_from_slice(&self.params.t_cost.to_be_bytes());
        out.extend_from_slice(&self.params.p_cost.to_be_bytes());
        // SALT_LEN is 16: the cast cannot truncate.
        out.push(SALT_LEN as u8);
        out.extend_from_slice(&self.salt);
        out
    }
}

/// A blob split into its fields, borrowing the input. Not yet authenticated.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) header: Header,
    header_bytes: &'a [u8],
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
    tag: [u8; TAG_LEN],
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], VaultError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(VaultError::Corrupt)?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], VaultError> {
        self.take(N)?.try_into().map_err(|_| VaultError::Corrupt)
    }

    fn u8(&mut self) -> Result<u8, VaultError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, VaultError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
}

/// Splits `blob` into its fields, refusing anything that is not a well-formed v1 blob.
pub(crate) fn parse(blob: &[u8]) -> Result<Parsed<'_>, VaultError> {
    let mut r = Reader(blob);
    if r.array::<3>()? != *MAGIC || r.u8()? != VERSION_V1 {
        return Err(VaultError::Corrupt);
    }
    let kind = KekKind::from_tag(r.u8()?)?;
    let params = KdfParams {
        m_kib: r.u32()?,
        t_cost: r.u32()?,
        p_cost: r.u32()?,
    };
    if usize::from(r.u8()?) != SALT_LEN {
        return Err(VaultError::Corrupt);
    }
    let salt = r.array()?;
    let header_bytes = blob.get(..HEADER_LEN).ok_or(VaultError::Corrupt)?;
    let nonce = r.array()?;
    let body_len = r.0.len().checked_sub(TAG_LEN).ok_or(VaultError::Corrupt)?;
    let ciphertext = r.take(body_len)?;
    let tag = r.array()?;
    Ok(Parsed {
        header: Header { kind, params, salt },
        header_bytes,
        nonce,
        ciphertext,
        tag,
    })
}

/// Associated data: the header bytes, then the context's length (u32, big-endian) and the
/// context itself. `None` when the context is too long to encode.
fn associated_data(header_bytes: &[u8], context: &[u8]) -> Option<Vec<u8>> {
    let context_len = u32::try_from(context.len()).ok()?;
    let mut aad = Vec::with_capacity(header_bytes.len() + 4 + context.len());
    aad.extend_from_slice(header_bytes);
    aad.extend_from_slice(&context_len.to_be_bytes());
    aad.extend_from_slice(context);
    Some(aad)
}

fn cipher(key: &Key) -> XChaCha20Poly1305 {
    let key: &[u8; KEY_LEN] = key;
    XChaCha20Poly1305::new(key.into())
}

/// Seals `plaintext` under `key` with a fresh random nonce, returning the whole blob.
pub(crate) fn seal(
    key: &Key,
    header: &Header,
    context: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let header_bytes = header.encode();
    let aad = associated_data(&header_bytes, context).ok_or(VaultError::TooLarge)?;
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|_| VaultError::Rng)?;
    let body_start = HEADER_LEN + NONCE_LEN;
    let total = (body_start + TAG_LEN)
        .checked_add(plaintext.len())
        .ok_or(VaultError::TooLarge)?;
    // The plaintext is copied in and encrypted in place: the buffer is wiped if anything fails,
    // and its capacity is reserved up front so that appending the tag cannot reallocate and
    // leave a plaintext copy behind in freed memory.
    let mut blob = Zeroizing::new(Vec::with_capacity(total));
    blob.extend_from_slice(&header_bytes);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(plaintext);
    let body = blob.get_mut(body_start..).ok_or(VaultError::TooLarge)?;
    let tag = cipher(key)
        .encrypt_in_place_detached(&XNonce::from(nonce), &aad, body)
        .map_err(|_| VaultError::TooLarge)?;
    blob.extend_from_slice(&tag);
    Ok(std::mem::take(&mut *blob))
}

/// Authenticates and decrypts a parsed blob under `key`. Any failure is [`VaultError::Corrupt`].
pub(crate) fn open(
    key: &Key,
    parsed: &Parsed<'_>,
    context: &[u8],
) -> Result<SecretBytes, VaultError> {
    let aad = associated_data(parsed.header_bytes, context).ok_or(VaultError::Corrupt)?;
    let mut buf = Zeroizing::new(parsed.ciphertext.to_vec());
    cipher(key)
        .decrypt_in_place_detached(
            &XNonce::from(parsed.nonce),
            &aad,
            buf.as_mut_slice(),
            &Tag::from(parsed.tag),
        )
        .map_err(|_| VaultError::Corrupt)?;
    Ok(SecretBytes::from(buf))
}
