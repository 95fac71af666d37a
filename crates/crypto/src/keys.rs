//! Key shares (secret) and group keys (public), with their persisted formats.
//!
//! Formats are versioned and pinned by golden files (`crates/crypto/golden/`, checked by
//! `tests/golden.rs`):
//!
//! ```text
//! key share, v1:  "TKS" 0x01 | scheme u8 | party u16 | t u16 | n u16 | body
//! group key, v1:  "TGK" 0x01 | scheme u8 | t u16 | n u16 | count u16 | party u16 * count
//!                 | body
//! ```
//! Integers are big-endian. The scheme tags are 1 (frost-ed25519), 2 (frost-secp256k1-tr) and
//! 3 (ecdsa-secp256k1). The bodies are:
//!
//! - FROST: the share's frost `KeyPackage`, the group's frost `PublicKeyPackage`; the frost
//!   encodings carry their own ciphersuite id and version.
//! - ECDSA (tag 3): the share's body is `dkls23` 0.6.2's `Party` (secp256k1) in postcard,
//!   which holds the key share, the public key, the zero-share seeds, the per-pair oblivious
//!   transfer state and the chain code (about 105 KB for 2-of-3). The group's body is the
//!   32-byte chain code followed by `dkls23`'s `PublicKeyPackage` in postcard (group key,
//!   every party's public share, t and n). The parties of an ECDSA key are numbered 1 to n
//!   (the dkls23 party index is the party id). Postcard has no version of its own: the golden
//!   files pin it, and a `dkls23` upgrade that changes it needs a new format version.

use std::collections::BTreeSet;
use std::fmt;

use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::{Ciphersuite, Group, VerifyingKey};
use tessera_types::{PartyId, Scheme, Threshold};
use zeroize::Zeroizing;

use crate::ecdsa::keys::{EcdsaGroup, EcdsaShare};
use crate::error::{CryptoError, ErrorKind};
use crate::secret::SecretBytes;
use crate::suite::{
    Any, Ed, Suite, Tr, each_suite, ident, lib_err, not_frost, scheme_from_tag, scheme_tag,
};

const SHARE_MAGIC: &[u8; 3] = b"TKS";
const GROUP_MAGIC: &[u8; 3] = b"TGK";
const FORMAT_V1: u8 = 1;

/// A FROST share of either ciphersuite.
pub(crate) type FrostShare = Any<Box<KeyPackage<Ed>>, Box<KeyPackage<Tr>>>;
/// A FROST public key package of either ciphersuite.
pub(crate) type FrostGroup = Any<PublicKeyPackage<Ed>, PublicKeyPackage<Tr>>;

/// The scheme-specific content of a [`KeyShare`].
pub(crate) enum ShareInner {
    Frost(FrostShare),
    Ecdsa(EcdsaShare),
}

/// The scheme-specific content of a [`GroupKey`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum GroupInner {
    Frost(FrostGroup),
    Ecdsa(Box<EcdsaGroup>),
}

/// One party's share of a threshold key. Secret: zeroized on drop, never printed, not `Clone`.
pub struct KeyShare {
    pub(crate) inner: ShareInner,
    pub(crate) party: PartyId,
    pub(crate) threshold: Threshold,
}

/// The public side of a threshold key: the group key and every party's public share.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub(crate) inner: GroupInner,
    pub(crate) threshold: Threshold,
    pub(crate) parties: BTreeSet<PartyId>,
}

impl KeyShare {
    /// The key's scheme.
    pub fn scheme(&self) -> Scheme {
        match &self.inner {
            ShareInner::Frost(any) => any.scheme(),
            ShareInner::Ecdsa(_) => Scheme::EcdsaSecp256k1,
        }
    }

    /// The FROST share, or `Unsupported` for `what` on a threshold ECDSA share.
    pub(crate) fn frost(&self, what: &str) -> Result<&FrostShare, CryptoError> {
        match &self.inner {
            ShareInner::Frost(any) => Ok(any),
            ShareInner::Ecdsa(_) => Err(not_frost(self.scheme(), what)),
        }
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
        match &self.inner {
            ShareInner::Frost(any) => each_suite!(any, kp => public_key_bytes(kp.verifying_key())),
            ShareInner::Ecdsa(share) => share.public_key().to_vec(),
        }
    }

    /// Whether this share is the one `group` lists for its party.
    pub fn belongs_to(&self, group: &GroupKey) -> bool {
        use {GroupInner as G, ShareInner as S};
        let same_key = match (&self.inner, &group.inner) {
            (S::Frost(Any::Ed(kp)), G::Frost(Any::Ed(pkp))) => share_matches(kp, pkp, self.party),
            (S::Frost(Any::Tr(kp)), G::Frost(Any::Tr(pkp))) => share_matches(kp, pkp, self.party),
            (S::Ecdsa(share), G::Ecdsa(public)) => share.belongs_to(public, self.party),
            _ => false,
        };
        same_key && self.threshold == group.threshold
    }

    /// The share in its persisted form, for the vault to encrypt. The buffer is zeroized on
    /// drop; copies made inside the serializer are not (see `docs/SECURITY.md`).
    pub fn to_secret_bytes(&self) -> Result<SecretBytes, CryptoError> {
        let body = match &self.inner {
            ShareInner::Frost(any) => {
                each_suite!(any, kp => kp.serialize().map(Zeroizing::new).map_err(lib_err)?)
            }
            ShareInner::Ecdsa(share) => share.to_secret_bytes()?,
        };
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
            Scheme::FrostEd25519 => ShareInner::Frost(Any::Ed(Box::new(parse_key_package::<Ed>(
                body, party, threshold,
            )?))),
            Scheme::FrostSecp256k1Tr => {
                ShareInner::Frost(Any::Tr(Box::new(parse_key_package::<Tr>(
                    body, party, threshold,
                )?)))
            }
            Scheme::EcdsaSecp256k1 => ShareInner::Ecdsa(EcdsaShare::parse(body, party, threshold)?),
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
        match &self.inner {
            GroupInner::Frost(any) => any.scheme(),
            GroupInner::Ecdsa(_) => Scheme::EcdsaSecp256k1,
        }
    }

    /// The FROST package, or `Unsupported` for `what` on a threshold ECDSA key.
    pub(crate) fn frost(&self, what: &str) -> Result<&FrostGroup, CryptoError> {
        match &self.inner {
            GroupInner::Frost(any) => Ok(any),
            GroupInner::Ecdsa(_) => Err(not_frost(self.scheme(), what)),
        }
    }

    /// The key's threshold.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The parties holding a share.
    pub fn parties(&self) -> &BTreeSet<PartyId> {
        &self.parties
    }

    /// The group public key: 32 bytes for Ed25519, 32-byte x-only for BIP-340, 33-byte
    /// compressed SEC1 for ECDSA.
    pub fn public_key(&self) -> Vec<u8> {
        match &self.inner {
            GroupInner::Frost(any) => {
                each_suite!(any, pkp => public_key_bytes(pkp.verifying_key()))
            }
            GroupInner::Ecdsa(group) => group.public_key().to_vec(),
        }
    }

    /// The public share of `party`, in the group's point encoding (compressed SEC1 for the
    /// secp256k1 schemes). For ECDSA it is the party's polynomial point times the generator,
    /// which dkls23 records for every party.
    pub fn verifying_share(&self, party: PartyId) -> Option<Vec<u8>> {
        match &self.inner {
            GroupInner::Frost(any) => each_suite!(any, pkp => {
                let id = ident(party).ok()?;
                pkp.verifying_shares().get(&id)?.serialize().ok()
            }),
            GroupInner::Ecdsa(group) => group.verifying_share(party),
        }
    }

    /// The group key in its persisted form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        let body = match &self.inner {
            GroupInner::Frost(any) => each_suite!(any, pkp => pkp.serialize().map_err(lib_err)?),
            GroupInner::Ecdsa(group) => group.to_bytes()?,
        };
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
            Scheme::FrostEd25519 => {
                GroupInner::Frost(Any::Ed(parse_public::<Ed>(body, &parties, threshold)?))
            }
            Scheme::FrostSecp256k1Tr => {
                GroupInner::Frost(Any::Tr(parse_public::<Tr>(body, &parties, threshold)?))
            }
            Scheme::EcdsaSecp256k1 => {
                GroupInner::Ecdsa(Box::new(EcdsaGroup::parse(body, &parties, threshold)?))
            }
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

pub(crate) fn malformed(detail: impl Into<String>) -> CryptoError {
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
