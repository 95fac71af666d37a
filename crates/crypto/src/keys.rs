//! Key shares (secret) and group keys (public), with their persisted formats.
//!
//! Formats are versioned and pinned by golden files (`crates/crypto/golden/`, checked by
//! `tests/golden.rs`):
//!
//! ```text
//! key share, v1:  "TKS" 0x01 | scheme u8 | party u16 | t u16 | n u16 | frost KeyPackage
//! group key, v1:  "TGK" 0x01 | scheme u8 | t u16 | n u16 | count u16 | party u16 * count
//!                 | frost PublicKeyPackage
//! ```
//! Integers are big-endian. The frost encodings carry their own ciphersuite id and version.

use std::collections::BTreeSet;
use std::fmt;

use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::{Ciphersuite, Group, VerifyingKey};
use tessera_types::{PartyId, Scheme, Threshold};
use zeroize::Zeroizing;

use crate::error::{CryptoError, ErrorKind};
use crate::secret::SecretBytes;
use crate::suite::{Any, Ed, Suite, Tr, each_suite, ident, lib_err, scheme_from_tag, scheme_tag};

const SHARE_MAGIC: &[u8; 3] = b"TKS";
const GROUP_MAGIC: &[u8; 3] = b"TGK";
const FORMAT_V1: u8 = 1;

/// One party's share of a threshold key. Secret: zeroized on drop, never printed, not `Clone`.
pub struct KeyShare {
    pub(crate) inner: Any<Box<KeyPackage<Ed>>, Box<KeyPackage<Tr>>>,
    pub(crate) party: PartyId,
    pub(crate) threshold: Threshold,
}

/// The public side of a threshold key: the group key and every party's public share.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub(crate) inner: Any<PublicKeyPackage<Ed>, PublicKeyPackage<Tr>>,
    pub(crate) threshold: Threshold,
    pub(crate) parties: BTreeSet<PartyId>,
}

impl KeyShare {
    /// The key's scheme.
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme()
    }

    /// The party holding this share.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// The key's threshold.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The group public key this share belongs to, as [`GroupKey::public_key`] encodes it.
    pub fn public_key(&self) -> Vec<u8> {
        each_suite!(&self.inner, kp => public_key_bytes(kp.verifying_key()))
    }

    /// Whether this share is the one `group` lists for its party.
    pub fn belongs_to(&self, group: &GroupKey) -> bool {
        let same_key = match (&self.inner, &group.inner) {
            (Any::Ed(kp), Any::Ed(pkp)) => share_matches(kp, pkp, self.party),
            (Any::Tr(kp), Any::Tr(pkp)) => share_matches(kp, pkp, self.party),
            _ => false,
        };
        same_key && self.threshold == group.threshold
    }

    /// The share in its persisted form, for the vault to encrypt. The buffer is zeroized on
    /// drop; copies made inside the serializer are not (see `docs/SECURITY.md`).
    pub fn to_secret_bytes(&self) -> Result<SecretBytes, CryptoError> {
        let body =
            each_suite!(&self.inner, kp => kp.serialize().map(Zeroizing::new).map_err(lib_err)?);
        let mut out = Zeroizing::new(Vec::with_capacity(12 + body.len()));
        out.extend_from_slice(SHARE_MAGIC);
        out.push(FORMAT_V1);
        out.push(scheme_tag(self.scheme()));
        out.extend_from_slice(&self.party.get().to_be_bytes());
        out.extend_from_slice(&self.threshold.t().to_be_bytes());
        out.extend_from_slice(&self.threshold.n().to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out.into())
    }

    /// Parses a share written by [`KeyShare::to_secret_bytes`].
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(bytes, SHARE_MAGIC)?;
        let scheme = scheme_from_tag(r.u8()?)?;
        let party = PartyId::new(r.u16()?).map_err(|e| malformed(e.to_string()))?;
        let threshold = Threshold::allowing_minority(r.u16()?, r.u16()?)
            .map_err(|e| malformed(e.to_string()))?;
        let body = r.rest();
        let inner = match scheme {
            Scheme::FrostEd25519 => {
                Any::Ed(Box::new(parse_key_package::<Ed>(body, party, threshold)?))
            }
            Scheme::FrostSecp256k1Tr => {
                Any::Tr(Box::new(parse_key_package::<Tr>(body, party, threshold)?))
            }
        };
        Ok(Self {
            inner,
            party,
            threshold,
        })
    }
}

fn parse_key_package<C: Suite>(
    body: &[u8],
    party: PartyId,
    threshold: Threshold,
) -> Result<KeyPackage<C>, CryptoError> {
    let kp = KeyPackage::<C>::deserialize(body).map_err(lib_err)?;
    if *kp.identifier() != ident::<C>(party)? || *kp.min_signers() != threshold.t() {
        return Err(malformed("key share header disagrees with its key package"));
    }
    Ok(kp)
}

fn share_matches<C: Ciphersuite>(
    kp: &KeyPackage<C>,
    pkp: &PublicKeyPackage<C>,
    party: PartyId,
) -> bool {
    let Ok(id) = ident::<C>(party) else {
        return false;
    };
    kp.verifying_key() == pkp.verifying_key()
        && pkp.verifying_shares().get(&id) == Some(kp.verifying_share())
}

impl fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyShare")
            .field("scheme", &self.scheme())
            .field("party", &self.party)
            .field("threshold", &self.threshold)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The group key in the encoding its chain uses: 32 bytes for Ed25519, the 32-byte x-only
/// key for BIP-340 (the tweaked output key Q of a Taproot key-path spend).
pub(crate) fn public_key_bytes<C: Ciphersuite>(vk: &VerifyingKey<C>) -> Vec<u8> {
    let bytes = vk.serialize().unwrap_or_default();
    // secp256k1 points serialize compressed (33 bytes); BIP-340 keys are their x coordinate.
    if bytes.len() == 33 {
        bytes.get(1..).map(<[u8]>::to_vec).unwrap_or_default()
    } else {
        bytes
    }
}

impl GroupKey {
    /// The key's scheme.
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme()
    }

    /// The key's threshold.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The parties holding a share.
    pub fn parties(&self) -> &BTreeSet<PartyId> {
        &self.parties
    }

    /// The group public key: 32 bytes for Ed25519, 32-byte x-only for BIP-340.
    pub fn public_key(&self) -> Vec<u8> {
        each_suite!(&self.inner, pkp => public_key_bytes(pkp.verifying_key()))
    }

    /// The public share of `party`, in the group's point encoding.
    pub fn verifying_share(&self, party: PartyId) -> Option<Vec<u8>> {
        each_suite!(&self.inner, pkp => {
            let id = ident(party).ok()?;
            pkp.verifying_shares().get(&id)?.serialize().ok()
        })
    }

    /// The group key in its persisted form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        let body = each_suite!(&self.inner, pkp => pkp.serialize().map_err(lib_err)?);
        let count = u16::try_from(self.parties.len())
            .map_err(|_| CryptoError::new(ErrorKind::Parameters, "too many parties"))?;
        let mut out = Vec::with_capacity(12 + 2 * self.parties.len() + body.len());
        out.extend_from_slice(GROUP_MAGIC);
        out.push(FORMAT_V1);
        out.push(scheme_tag(self.scheme()));
        out.extend_from_slice(&self.threshold.t().to_be_bytes());
        out.extend_from_slice(&self.threshold.n().to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        for p in &self.parties {
            out.extend_from_slice(&p.get().to_be_bytes());
        }
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parses a group key written by [`GroupKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(bytes, GROUP_MAGIC)?;
        let scheme = scheme_from_tag(r.u8()?)?;
        let threshold = Threshold::allowing_minority(r.u16()?, r.u16()?)
            .map_err(|e| malformed(e.to_string()))?;
        let count = r.u16()?;
        let mut parties = BTreeSet::new();
        for _ in 0..count {
            parties.insert(PartyId::new(r.u16()?).map_err(|e| malformed(e.to_string()))?);
        }
        if parties.len() != usize::from(threshold.n()) {
            return Err(malformed("group key lists a party count other than n"));
        }
        let body = r.rest();
        let inner = match scheme {
            Scheme::FrostEd25519 => Any::Ed(parse_public::<Ed>(body, &parties, threshold)?),
            Scheme::FrostSecp256k1Tr => Any::Tr(parse_public::<Tr>(body, &parties, threshold)?),
        };
        Ok(Self {
            inner,
            threshold,
            parties,
        })
    }
}

fn parse_public<C: Suite>(
    body: &[u8],
    parties: &BTreeSet<PartyId>,
    threshold: Threshold,
) -> Result<PublicKeyPackage<C>, CryptoError> {
    let pkp = PublicKeyPackage::<C>::deserialize(body).map_err(lib_err)?;
    let ids = parties
        .iter()
        .map(|p| ident::<C>(*p))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let listed: BTreeSet<_> = pkp.verifying_shares().keys().copied().collect();
    if ids != listed || pkp.min_signers() != Some(threshold.t()) {
        return Err(malformed(
            "group key header disagrees with its public key package",
        ));
    }
    if <C::Group as Group>::serialize(&pkp.verifying_key().to_element()).is_err() {
        return Err(malformed("group key is the identity"));
    }
    Ok(pkp)
}

impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupKey")
            .field("scheme", &self.scheme())
            .field("threshold", &self.threshold)
            .field("public_key", &hex_string(&self.public_key()))
            .finish()
    }
}

pub(crate) fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn malformed(detail: impl Into<String>) -> CryptoError {
    CryptoError::new(ErrorKind::Malformed, detail)
}

/// A cursor over a versioned binary record.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the magic and version, then reads what follows.
    pub(crate) fn new(bytes: &'a [u8], magic: &[u8; 3]) -> Result<Self, CryptoError> {
        let mut r = Self { rest: bytes };
        if r.take(3)? != magic {
            return Err(malformed("not a record of the expected type"));
        }
        let version = r.u8()?;
        if version != FORMAT_V1 {
            return Err(malformed(format!(
                "record format version {version} is not supported"
            )));
        }
        Ok(r)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        let (head, rest) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| malformed("truncated record"))?;
        self.rest = rest;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CryptoError> {
        let [b] = self.take(1)? else {
            return Err(malformed("truncated record"));
        };
        Ok(*b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, CryptoError> {
        let mut a = [0u8; 2];
        a.copy_from_slice(self.take(2)?);
        Ok(u16::from_be_bytes(a))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, CryptoError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }

    pub(crate) fn rest(self) -> &'a [u8] {
        self.rest
    }
}
