//! **Single point of failure.** Splits a whole key, held by the machine that calls this, into
//! shares. Off by default (feature `spof-trusted-dealer`): use it only to migrate a key that
//! already exists in one piece into Tessera, on an offline machine, and destroy the whole key
//! afterwards. New keys come from [`crate::Dkg`].

use std::collections::BTreeSet;

use frost_core::keys::{IdentifierList, KeyPackage, split};
use frost_core::{Ciphersuite, SigningKey};
use rand_core::{CryptoRng, RngCore};
use tessera_types::{PartyId, Scheme, Threshold};

use crate::dkg::{Erase, KeyOutput};
use crate::error::{CryptoError, ErrorKind};
use crate::protocol::{Session, SessionId};
use crate::secret::SecretBytes;
use crate::suite::{Ed, Suite, Tr, from_frost, ident};

/// Splits `secret` (a scalar in the scheme's encoding: 32 bytes little-endian for Ed25519,
/// big-endian for secp256k1) into one [`KeyOutput`] per party. As after a DKG, Taproot shares
/// carry the BIP-341 tweak, so they sign with the same code as DKG shares.
pub fn split_whole_key<R: RngCore + CryptoRng>(
    scheme: Scheme,
    secret: &SecretBytes,
    threshold: Threshold,
    parties: &BTreeSet<PartyId>,
    rng: &mut R,
) -> Result<Vec<KeyOutput>, CryptoError> {
    if threshold.t() < 2 {
        return Err(CryptoError::new(
            ErrorKind::Unsupported,
            "splitting needs a threshold of at least 2",
        ));
    }
    match scheme {
        Scheme::FrostEd25519 => split_in::<Ed, R>(scheme, secret, threshold, parties, rng),
        Scheme::FrostSecp256k1Tr => split_in::<Tr, R>(scheme, secret, threshold, parties, rng),
        Scheme::EcdsaSecp256k1 => Err(CryptoError::new(
            ErrorKind::Unsupported,
            "splitting a whole key is not offered for ecdsa-secp256k1",
        )),
    }
}

fn split_in<C: Suite + Erase, R: RngCore + CryptoRng>(
    scheme: Scheme,
    secret: &SecretBytes,
    threshold: Threshold,
    parties: &BTreeSet<PartyId>,
    rng: &mut R,
) -> Result<Vec<KeyOutput>, CryptoError> {
    let err = |e| from_frost::<C>(e, parties);
    let key = SigningKey::<C>::deserialize(secret.expose()).map_err(err)?;
    let ids = parties
        .iter()
        .map(|p| ident::<C>(*p))
        .collect::<Result<Vec<_>, _>>()?;
    let (shares, public) = split(
        &key,
        threshold.n(),
        threshold.t(),
        IdentifierList::Custom(&ids),
        rng,
    )
    .map_err(err)?;
    drop(key);
    let mut out = Vec::with_capacity(parties.len());
    for party in parties {
        let share = shares
            .get(&ident::<C>(*party)?)
            .cloned()
            .ok_or_else(|| CryptoError::new(ErrorKind::Library, format!("no share for {party}")))?;
        let kp = KeyPackage::<C>::try_from(share).map_err(err)?;
        let (kp, pkp) = <C as Ciphersuite>::post_dkg(kp, public.clone()).map_err(err)?;
        let session = Session::new(
            SessionId([0; 16]),
            scheme,
            threshold,
            parties.clone(),
            *party,
        )?;
        out.push(C::erase(Box::new(kp), pkp, &session));
    }
    Ok(out)
}
