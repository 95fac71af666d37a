//! FROST signing: nonce commitments made ahead of time, one online round, aggregation with
//! blame. Threshold ECDSA signs differently (no commitments, three online rounds): see
//! [`crate::ecdsa`]; the functions here refuse ECDSA keys with `unsupported`.
//!
//! A signer makes [`Nonces`] with [`commit`] and publishes their [`Commitment`]. A coordinator
//! puts the commitments of a quorum and the message in a [`SigningPackage`]. Each signer of the
//! quorum calls [`sign`], which takes its `Nonces` **by value**: a nonce cannot be used twice
//! through this API, and is wiped when `sign` returns. Persisting that a nonce is spent before
//! the share leaves the process is the signer node's job (`tessera-signer`).
//!
//! Wire formats (big-endian, versioned, pinned by golden files):
//! ```text
//! commitment:      "TCM" 0x01 | scheme u8 | party u16 | frost SigningCommitments
//! signing package: "TSP" 0x01 | scheme u8 | count u16 | (len u16 | commitment) * count
//!                  | message len u32 | message
//! signature share: "TSS" 0x01 | scheme u8 | party u16 | frost SignatureShare
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use frost_core::round1::{SigningCommitments, SigningNonces};
use frost_core::round2;
use frost_core::{CheaterDetection, Ciphersuite, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use tessera_types::{PartyId, Scheme};

use crate::error::{CryptoError, ErrorKind};
use crate::keys::{GroupKey, KeyShare, Reader, hex_string};
use crate::suite::{
    Any, Ed, Suite, Tr, each_suite, from_frost, ident, lib_err, not_frost, scheme_from_tag,
    scheme_tag, with_suite,
};

const COMMITMENT_MAGIC: &[u8; 3] = b"TCM";
const PACKAGE_MAGIC: &[u8; 3] = b"TSP";
const SHARE_MAGIC: &[u8; 3] = b"TSS";

/// Identifies one nonce pair by its public commitment: what signers record as issued and
/// consumed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonceId(pub [u8; 32]);

impl fmt::Display for NonceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_string(&self.0))
    }
}

impl fmt::Debug for NonceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NonceId({self})")
    }
}

type FrostCommitments = Any<SigningCommitments<Ed>, SigningCommitments<Tr>>;
type FrostNonces = Any<Box<SigningNonces<Ed>>, Box<SigningNonces<Tr>>>;

/// The public half of a signer's nonce pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Commitment {
    pub(crate) party: PartyId,
    /// `None` for the placeholder [`commit`] returns for a threshold ECDSA share, which has no
    /// nonces to commit to: every function refuses it.
    pub(crate) inner: Option<FrostCommitments>,
}

impl Commitment {
    /// The signer that made it.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// The scheme it is for.
    pub fn scheme(&self) -> Scheme {
        self.inner
            .as_ref()
            .map_or(Scheme::EcdsaSecp256k1, Any::scheme)
    }

    fn frost(&self) -> Result<&FrostCommitments, CryptoError> {
        self.inner
            .as_ref()
            .ok_or_else(|| not_frost(self.scheme(), "a nonce commitment"))
    }

    /// Its identifier: SHA-256 of its encoding.
    pub fn id(&self) -> Result<NonceId, CryptoError> {
        let mut h = Sha256::new();
        h.update(b"tessera/nonce/v1");
        h.update(self.to_bytes()?);
        Ok(NonceId(h.finalize().into()))
    }

    /// Its wire encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        let body = each_suite!(self.frost()?, c => c.serialize().map_err(lib_err)?);
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend_from_slice(COMMITMENT_MAGIC);
        out.push(1);
        out.push(scheme_tag(self.scheme()));
        out.extend_from_slice(&self.party.get().to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parses [`Commitment::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(bytes, COMMITMENT_MAGIC)?;
        let scheme = scheme_from_tag(r.u8()?)?;
        let party = party_of(r.u16()?)?;
        let body = r.rest();
        let inner = match scheme {
            Scheme::FrostEd25519 => {
                Any::Ed(SigningCommitments::deserialize(body).map_err(lib_err)?)
            }
            Scheme::FrostSecp256k1Tr => {
                Any::Tr(SigningCommitments::deserialize(body).map_err(lib_err)?)
            }
            Scheme::EcdsaSecp256k1 => return Err(not_frost(scheme, "a nonce commitment")),
        };
        Ok(Self {
            party,
            inner: Some(inner),
        })
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id().map(|i| i.to_string()).unwrap_or_default();
        f.debug_struct("Commitment")
            .field("party", &self.party)
            .field("scheme", &self.scheme())
            .field("id", &id)
            .finish()
    }
}

/// A secret nonce pair. Single use: [`sign`] takes it by value. Zeroized on drop, never
/// printed, not `Clone`, no serialization.
pub struct Nonces {
    /// `None` for the placeholder of a threshold ECDSA share (see [`commit`]).
    pub(crate) inner: Option<FrostNonces>,
    pub(crate) commitment: Commitment,
}

impl Nonces {
    /// The public commitment to these nonces.
    pub fn commitment(&self) -> &Commitment {
        &self.commitment
    }
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("commitment", &self.commitment)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Makes a fresh nonce pair for `share`'s party. The share only adds entropy to the RNG's
/// (RFC 9591 section 4.1).
///
/// A threshold ECDSA share has no nonces to commit to ([`Scheme::uses_nonce_pool`] is false):
/// it gets an empty placeholder whose commitment has no id or encoding, and that
/// [`SigningPackage::new`] and [`sign`] refuse (`unsupported`). [`try_commit`] refuses at once.
pub fn commit<R: RngCore + CryptoRng>(share: &KeyShare, rng: &mut R) -> Nonces {
    try_commit(share, rng).unwrap_or_else(|_| Nonces {
        inner: None,
        commitment: Commitment {
            party: share.party,
            inner: None,
        },
    })
}

/// [`commit`], refusing a threshold ECDSA share with `unsupported`.
pub fn try_commit<R: RngCore + CryptoRng>(
    share: &KeyShare,
    rng: &mut R,
) -> Result<Nonces, CryptoError> {
    let party = share.party;
    Ok(
        with_suite!(share.frost("committing to nonces")?, kp, Wrap => {
            let (nonces, commitments) = frost_core::round1::commit(kp.signing_share(), rng);
            Nonces {
                inner: Some(Wrap(Box::new(nonces))),
                commitment: Commitment { party, inner: Some(Wrap(commitments)) },
            }
        }),
    )
}

/// The message and the commitments of the quorum that will sign it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningPackage {
    commitments: BTreeMap<PartyId, Commitment>,
    inner: Any<frost_core::SigningPackage<Ed>, frost_core::SigningPackage<Tr>>,
}

impl SigningPackage {
    /// A package asking the commitments' parties to sign `message`.
    pub fn new(message: &[u8], commitments: Vec<Commitment>) -> Result<Self, CryptoError> {
        let first = commitments
            .first()
            .ok_or_else(|| CryptoError::new(ErrorKind::Parameters, "no commitments"))?;
        let scheme = first.scheme();
        if let Some(c) = commitments.iter().find(|c| c.inner.is_none()) {
            return Err(not_frost(c.scheme(), "a signing package"));
        }
        let mut by_party = BTreeMap::new();
        for c in commitments {
            if c.scheme() != scheme {
                return Err(CryptoError::blame(
                    ErrorKind::Mismatch,
                    vec![c.party],
                    "commitments of different schemes",
                ));
            }
            let party = c.party;
            if by_party.insert(party, c).is_some() {
                return Err(CryptoError::blame(
                    ErrorKind::Parameters,
                    vec![party],
                    "two commitments from one party",
                ));
            }
        }
        let inner = match scheme {
            Scheme::FrostEd25519 => Any::Ed(frost_package::<Ed>(message, &by_party, |c| match &c
                .inner
            {
                Some(Any::Ed(x)) => Some(*x),
                _ => None,
            })?),
            Scheme::FrostSecp256k1Tr => {
                Any::Tr(frost_package::<Tr>(message, &by_party, |c| {
                    match &c.inner {
                        Some(Any::Tr(x)) => Some(*x),
                        _ => None,
                    }
                })?)
            }
            Scheme::EcdsaSecp256k1 => return Err(not_frost(scheme, "a signing package")),
        };
        Ok(Self {
            commitments: by_party,
            inner,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme()
    }

    /// The message to sign.
    pub fn message(&self) -> &[u8] {
        each_suite!(&self.inner, p => p.message())
    }

    /// The parties asked to sign.
    pub fn signers(&self) -> BTreeSet<PartyId> {
        self.commitments.keys().copied().collect()
    }

    /// How many parties are asked to sign.
    pub fn signer_count(&self) -> usize {
        self.commitments.len()
    }

    /// The commitment of `party`, if it is a signer.
    pub fn commitment(&self, party: PartyId) -> Option<&Commitment> {
        self.commitments.get(&party)
    }

    /// The wire encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        let message = self.message();
        let mut out = Vec::with_capacity(16 + 80 * self.commitments.len() + message.len());
        out.extend_from_slice(PACKAGE_MAGIC);
        out.push(1);
        out.push(scheme_tag(self.scheme()));
        out.extend_from_slice(&len_u16(self.commitments.len())?.to_be_bytes());
        for c in self.commitments.values() {
            let b = c.to_bytes()?;
            out.extend_from_slice(&len_u16(b.len())?.to_be_bytes());
            out.extend_from_slice(&b);
        }
        let len = u32::try_from(message.len())
            .map_err(|_| CryptoError::new(ErrorKind::Parameters, "message longer than 4 GiB"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(message);
        Ok(out)
    }

    /// Parses [`SigningPackage::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(bytes, PACKAGE_MAGIC)?;
        let scheme = scheme_from_tag(r.u8()?)?;
        let count = r.u16()?;
        let mut commitments = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let len = r.u16()?;
            commitments.push(Commitment::from_bytes(r.take(usize::from(len))?)?);
        }
        let len = r.u32()?;
        let message = r.take(usize::try_from(len).unwrap_or(usize::MAX))?;
        if !r.rest().is_empty() {
            return Err(CryptoError::new(
                ErrorKind::Malformed,
                "trailing bytes after signing package",
            ));
        }
        let package = Self::new(message, commitments)?;
        if package.scheme() != scheme {
            return Err(CryptoError::new(
                ErrorKind::Malformed,
                "signing package scheme disagrees with its commitments",
            ));
        }
        Ok(package)
    }
}

impl fmt::Debug for SigningPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningPackage")
            .field("scheme", &self.scheme())
            .field("signers", &self.signers())
            .field("message_len", &self.message().len())
            .finish()
    }
}

fn len_u16(n: usize) -> Result<u16, CryptoError> {
    u16::try_from(n).map_err(|_| CryptoError::new(ErrorKind::Parameters, "field too long"))
}

fn party_of(n: u16) -> Result<PartyId, CryptoError> {
    PartyId::new(n).map_err(|e| CryptoError::new(ErrorKind::Malformed, e.to_string()))
}

fn frost_package<C: Suite>(
    message: &[u8],
    by_party: &BTreeMap<PartyId, Commitment>,
    pick: fn(&Commitment) -> Option<SigningCommitments<C>>,
) -> Result<frost_core::SigningPackage<C>, CryptoError> {
    let mut map = BTreeMap::new();
    for (party, c) in by_party {
        let sc = pick(c)
            .ok_or_else(|| CryptoError::new(ErrorKind::Mismatch, "commitment of another scheme"))?;
        map.insert(ident::<C>(*party)?, sc);
    }
    Ok(frost_core::SigningPackage::new(map, message))
}

/// One signer's share of a signature.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureShare {
    party: PartyId,
    inner: Any<round2::SignatureShare<Ed>, round2::SignatureShare<Tr>>,
}

impl SignatureShare {
    /// The signer.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// The wire encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = each_suite!(&self.inner, s => s.serialize());
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend_from_slice(SHARE_MAGIC);
        out.push(1);
        out.push(scheme_tag(self.inner.scheme()));
        out.extend_from_slice(&self.party.get().to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses [`SignatureShare::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader::new(bytes, SHARE_MAGIC)?;
        let scheme = scheme_from_tag(r.u8()?)?;
        let party = party_of(r.u16()?)?;
        let body = r.rest();
        let inner = match scheme {
            Scheme::FrostEd25519 => {
                Any::Ed(round2::SignatureShare::deserialize(body).map_err(lib_err)?)
            }
            Scheme::FrostSecp256k1Tr => {
                Any::Tr(round2::SignatureShare::deserialize(body).map_err(lib_err)?)
            }
            Scheme::EcdsaSecp256k1 => return Err(not_frost(scheme, "a signature share")),
        };
        Ok(Self { party, inner })
    }
}

impl fmt::Debug for SignatureShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureShare({})", self.party)
    }
}

/// A complete signature in its chain's encoding (64 bytes for both FROST schemes).
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    scheme: Scheme,
    bytes: Vec<u8>,
}

impl Signature {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The encoded signature.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}, {})", self.scheme, hex_string(&self.bytes))
    }
}

/// Signs `package` with `share`, spending `nonces`.
///
/// Refuses when the package does not carry exactly these nonces' commitment for this party, or
/// has fewer signers than the threshold. The nonces are consumed whatever the outcome.
pub fn sign(
    share: &KeyShare,
    nonces: Nonces,
    package: &SigningPackage,
) -> Result<SignatureShare, CryptoError> {
    let party = share.party;
    let frost_share = share.frost("signing with nonces")?;
    if package.commitment(party) != Some(&nonces.commitment) || nonces.commitment.party != party {
        return Err(CryptoError::new(
            ErrorKind::WrongCommitment,
            format!("the signing package does not carry this nonce's commitment for {party}"),
        ));
    }
    if package.signer_count() < usize::from(share.threshold.t()) {
        return Err(CryptoError::new(
            ErrorKind::Parameters,
            format!(
                "{} signers for a {} key",
                package.signer_count(),
                share.threshold
            ),
        ));
    }
    let signers = package.signers();
    let inner = match (frost_share, nonces.inner, &package.inner) {
        (Any::Ed(kp), Some(Any::Ed(n)), Any::Ed(p)) => {
            Any::Ed(round2::sign(p, &n, kp).map_err(|e| from_frost(e, &signers))?)
        }
        (Any::Tr(kp), Some(Any::Tr(n)), Any::Tr(p)) => {
            Any::Tr(round2::sign(p, &n, kp).map_err(|e| from_frost(e, &signers))?)
        }
        _ => {
            return Err(CryptoError::new(
                ErrorKind::Mismatch,
                "share, nonces and package of different schemes",
            ));
        }
    };
    Ok(SignatureShare { party, inner })
}

/// Combines the signers' shares into a signature and verifies it. A share that does not verify
/// is blamed on its sender (every bad sender is named).
pub fn aggregate(
    group: &GroupKey,
    package: &SigningPackage,
    shares: &[SignatureShare],
) -> Result<Signature, CryptoError> {
    let frost_group = group.frost("aggregating signature shares")?;
    let signers = package.signers();
    let outsiders: Vec<PartyId> = signers.difference(&group.parties).copied().collect();
    if !outsiders.is_empty() {
        return Err(CryptoError::blame(
            ErrorKind::UnexpectedSender,
            outsiders,
            "signers outside the key's parties",
        ));
    }
    if signers.len() < usize::from(group.threshold.t()) {
        return Err(CryptoError::new(
            ErrorKind::Parameters,
            format!("{} signers for a {} key", signers.len(), group.threshold),
        ));
    }
    let mut by_party = BTreeMap::new();
    for s in shares {
        if !signers.contains(&s.party) {
            return Err(CryptoError::blame(
                ErrorKind::UnexpectedSender,
                vec![s.party],
                "share from a party outside the signing package",
            ));
        }
        if by_party.insert(s.party, s).is_some() {
            return Err(CryptoError::blame(
                ErrorKind::Malformed,
                vec![s.party],
                "two shares from one party",
            ));
        }
    }
    let missing: Vec<PartyId> = signers
        .iter()
        .copied()
        .filter(|p| !by_party.contains_key(p))
        .collect();
    if !missing.is_empty() {
        return Err(CryptoError::blame(
            ErrorKind::MissingMessage,
            missing,
            "no signature share",
        ));
    }
    let bytes = match (frost_group, &package.inner) {
        (Any::Ed(pkp), Any::Ed(p)) => aggregate_in::<Ed>(pkp, p, &by_party, |s| match &s.inner {
            Any::Ed(x) => Some(*x),
            Any::Tr(_) => None,
        })?,
        (Any::Tr(pkp), Any::Tr(p)) => aggregate_in::<Tr>(pkp, p, &by_party, |s| match &s.inner {
            Any::Tr(x) => Some(*x),
            Any::Ed(_) => None,
        })?,
        _ => {
            return Err(CryptoError::new(
                ErrorKind::Mismatch,
                "group key and package of different schemes",
            ));
        }
    };
    Ok(Signature {
        scheme: group.scheme(),
        bytes,
    })
}

fn aggregate_in<C: Suite>(
    public: &frost_core::keys::PublicKeyPackage<C>,
    package: &frost_core::SigningPackage<C>,
    shares: &BTreeMap<PartyId, &SignatureShare>,
    pick: fn(&SignatureShare) -> Option<round2::SignatureShare<C>>,
) -> Result<Vec<u8>, CryptoError> {
    let mut map = BTreeMap::new();
    let parties: BTreeSet<PartyId> = shares.keys().copied().collect();
    for (party, s) in shares {
        let share = pick(s).ok_or_else(|| {
            CryptoError::blame(ErrorKind::Mismatch, vec![*party], "share of another scheme")
        })?;
        map.insert(ident::<C>(*party)?, share);
    }
    let signature =
        frost_core::aggregate_custom(package, &map, public, CheaterDetection::AllCheaters)
            .map_err(|e| from_frost(e, &parties))?;
    signature.serialize().map_err(lib_err)
}

/// Verifies `signature` on `message` under `public_key`, encoded as [`GroupKey::public_key`]
/// encodes it (Ed25519: 32 bytes; BIP-340: 32-byte x-only; ECDSA: 33-byte compressed SEC1).
/// This is the verification path the service uses everywhere.
///
/// For `ecdsa-secp256k1` the message is the 32-byte hash that was signed and the signature is
/// `r || s || recovery_id` (65 bytes, [`crate::EcdsaSignature::to_bytes`]): `k256` checks it
/// with `verify_prehash`, refuses a high `s`, and the recovery id must recover the key.
pub fn verify(
    scheme: Scheme,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    match scheme {
        Scheme::FrostEd25519 => verify_in::<Ed>(public_key, message, signature),
        Scheme::FrostSecp256k1Tr => {
            if public_key.len() != 32 {
                return Err(CryptoError::new(
                    ErrorKind::Malformed,
                    "a BIP-340 public key is 32 bytes",
                ));
            }
            // BIP-340 keys are x coordinates of the point with even y.
            let mut even = Vec::with_capacity(33);
            even.push(0x02);
            even.extend_from_slice(public_key);
            verify_in::<Tr>(&even, message, signature)
        }
        Scheme::EcdsaSecp256k1 => crate::ecdsa::verify_bytes(public_key, message, signature),
    }
}

fn verify_in<C: Ciphersuite>(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let vk = VerifyingKey::<C>::deserialize(public_key).map_err(lib_err)?;
    let sig = frost_core::Signature::<C>::deserialize(signature).map_err(lib_err)?;
    vk.verify(message, &sig).map_err(lib_err)
}

impl GroupKey {
    /// Verifies `signature` on `message` under this group key.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
        if signature.scheme != self.scheme() {
            return Err(CryptoError::new(
                ErrorKind::Mismatch,
                "signature of another scheme",
            ));
        }
        verify(self.scheme(), &self.public_key(), message, &signature.bytes)
    }
}
