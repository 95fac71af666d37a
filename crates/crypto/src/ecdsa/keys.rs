//! The ECDSA content of [`crate::KeyShare`] and [`crate::GroupKey`], and its persisted bodies
//! (the record headers are in `keys.rs`, which documents both formats).

use std::collections::BTreeSet;
use std::fmt;

use k256_14::elliptic_curve::group::GroupEncoding;
use k256_14::{AffinePoint, ProjectivePoint};
use tessera_types::{PartyId, Threshold};
use zeroize::Zeroizing;

use crate::ecdsa::dkls::{Party, PublicPackage, decode, encode, encode_secret, index, party_of};
use crate::error::CryptoError;
use crate::keys::malformed;

/// Bytes of a BIP-32 chain code.
pub(crate) const CHAIN_CODE_LEN: usize = 32;

/// A party's ECDSA key share: `dkls23`'s `Party`, which zeroizes its secrets (the share, the
/// zero-share seeds, the oblivious-transfer state) when dropped. Never cloned except into the
/// state of a running signature ([`crate::EcdsaSign`]), which drops it when the session ends.
pub(crate) struct EcdsaShare {
    pub(crate) party: Box<Party>,
}

/// The public side of an ECDSA key.
#[derive(Clone)]
pub(crate) struct EcdsaGroup {
    pub(crate) public: PublicPackage,
    pub(crate) chain_code: [u8; CHAIN_CODE_LEN],
}

/// A point in compressed SEC1 form.
pub(crate) fn sec1(point: &AffinePoint) -> [u8; 33] {
    let bytes = point.to_bytes();
    let mut out = [0u8; 33];
    out.copy_from_slice(bytes.as_slice());
    out
}

fn identity_or_generator(point: &AffinePoint) -> bool {
    *point == AffinePoint::IDENTITY || *point == AffinePoint::GENERATOR
}

impl EcdsaShare {
    /// The group key, compressed SEC1.
    pub(crate) fn public_key(&self) -> [u8; 33] {
        sec1(&self.party.pk)
    }

    /// Whether `group` is this share's key and lists this share's public share for `party`.
    pub(crate) fn belongs_to(&self, group: &EcdsaGroup, party: PartyId) -> bool {
        let Ok(i) = index(party) else {
            return false;
        };
        let own = (ProjectivePoint::GENERATOR * self.party.poly_point).to_affine();
        self.party.party_index == i
            && self.party.pk == *group.public.verifying_key()
            && group.public.verify_share(i, &own)
            && self.party.derivation_data.chain_code == group.chain_code
            && self.party.parameters.threshold == group.public.threshold()
            && self.party.parameters.share_count == group.public.share_count()
    }

    pub(crate) fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        encode_secret(&self.party)
    }

    /// Parses a share body and checks it against its record header.
    pub(crate) fn parse(
        body: &[u8],
        party: PartyId,
        threshold: Threshold,
    ) -> Result<Self, CryptoError> {
        let party_state: Box<Party> =
            decode(body).map_err(|e| malformed(format!("ecdsa key share: {e}")))?;
        let share = Self { party: party_state };
        let p = &share.party;
        let params = &p.parameters;
        if Some(party) != party_of(p.party_index)
            || u16::from(params.threshold) != threshold.t()
            || u16::from(params.share_count) != threshold.n()
        {
            return Err(malformed("key share header disagrees with its ecdsa share"));
        }
        if identity_or_generator(&p.pk) {
            return Err(malformed("ecdsa key share holds a trivial public key"));
        }
        let others: BTreeSet<u8> = (1..=params.share_count)
            .filter(|i| *i != p.party_index.as_u8())
            .collect();
        let senders: BTreeSet<u8> = p.mul_senders.keys().map(|i| i.as_u8()).collect();
        let receivers: BTreeSet<u8> = p.mul_receivers.keys().map(|i| i.as_u8()).collect();
        if senders != others || receivers != others {
            return Err(malformed(
                "ecdsa key share lacks the pairwise state of some parties",
            ));
        }
        Ok(share)
    }
}

impl fmt::Debug for EcdsaShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcdsaShare(<redacted>)")
    }
}

impl EcdsaGroup {
    /// The group key, compressed SEC1.
    pub(crate) fn public_key(&self) -> [u8; 33] {
        sec1(self.public.verifying_key())
    }

    pub(crate) fn verifying_share(&self, party: PartyId) -> Option<Vec<u8>> {
        let i = index(party).ok()?;
        self.public.verifying_share(i).map(|p| sec1(p).to_vec())
    }

    /// The body: chain code, then the public key package in postcard.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        let mut out = self.chain_code.to_vec();
        out.extend(encode(&self.public)?);
        Ok(out)
    }

    /// Parses a group body and checks it against its record header.
    pub(crate) fn parse(
        body: &[u8],
        parties: &BTreeSet<PartyId>,
        threshold: Threshold,
    ) -> Result<Self, CryptoError> {
        let (chain, rest) = body
            .split_at_checked(CHAIN_CODE_LEN)
            .ok_or_else(|| malformed("truncated ecdsa group key"))?;
        let mut chain_code = [0u8; CHAIN_CODE_LEN];
        chain_code.copy_from_slice(chain);
        let public: PublicPackage =
            decode(rest).map_err(|e| malformed(format!("ecdsa group key: {e}")))?;
        if u16::from(public.threshold()) != threshold.t()
            || u16::from(public.share_count()) != threshold.n()
        {
            return Err(malformed(
                "group key header disagrees with its ecdsa public key package",
            ));
        }
        let expected: BTreeSet<u16> = (1..=threshold.n()).collect();
        let listed: BTreeSet<u16> = parties.iter().map(|p| p.get()).collect();
        if listed != expected {
            return Err(malformed("ecdsa group key parties are not numbered 1 to n"));
        }
        for p in parties {
            if public.verifying_share(index(*p)?).is_none() {
                return Err(malformed(format!("ecdsa group key lacks the share of {p}")));
            }
        }
        if identity_or_generator(public.verifying_key()) {
            return Err(malformed("ecdsa group key is trivial"));
        }
        Ok(Self { public, chain_code })
    }
}

impl PartialEq for EcdsaGroup {
    fn eq(&self, other: &Self) -> bool {
        self.chain_code == other.chain_code
            && matches!(
                (encode(&self.public), encode(&other.public)),
                (Ok(a), Ok(b)) if a == b
            )
    }
}

impl Eq for EcdsaGroup {}

impl fmt::Debug for EcdsaGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaGroup")
            .field("public_key", &crate::keys::hex_string(&self.public_key()))
            .finish()
    }
}
