//! Known-answer tests: the published FROST vectors (RFC 9591 Ed25519, the `frost-secp256k1-tr`
//! Taproot vectors) reproduced through this crate's own `commit`, `sign`, `aggregate` and
//! `verify`. The BIP-340 vectors are in `bip340.rs`.
//!
//! Every signature the service accepts is also checked with a verifier that shares no code
//! with `frost` (`ed25519-dalek`, `k256`).

use std::collections::{BTreeMap, BTreeSet};

use frost_core::keys::{
    KeyPackage, PublicKeyPackage, SecretShare, SigningShare, VerifiableSecretSharingCommitment,
    VerifyingShare,
};
use frost_core::round1::{Nonce, NonceCommitment, SigningCommitments, SigningNonces};
use frost_core::{Identifier, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use serde_json::Value;
use tessera_types::{MAX_PARTIES, PartyId, Scheme, Threshold};

use crate::keys::{GroupInner, ShareInner};
use crate::suite::{Any, Ed, Suite, Tr, scheme_tag};
use crate::{Commitment, GroupKey, KeyShare, Nonces, SigningPackage};

const RFC9591_ED25519: &str = include_str!("../../../../test-vectors/frost-ed25519-rfc9591.json");
const ED25519_BIG_IDENTIFIER: &str =
    include_str!("../../../../test-vectors/frost-ed25519-big-identifier.json");
const SECP256K1_TR: &str = include_str!("../../../../test-vectors/frost-secp256k1-tr.json");
const SECP256K1_TR_BIG_IDENTIFIER: &str =
    include_str!("../../../../test-vectors/frost-secp256k1-tr-big-identifier.json");

type AnyKeyPackage = Any<Box<KeyPackage<Ed>>, Box<KeyPackage<Tr>>>;
type AnyNonces = Any<Box<SigningNonces<Ed>>, Box<SigningNonces<Tr>>>;
type AnyCommitments = Any<SigningCommitments<Ed>, SigningCommitments<Tr>>;
type AnyPublic = Any<PublicKeyPackage<Ed>, PublicKeyPackage<Tr>>;

/// What a vector test needs to know about a ciphersuite beyond `frost-core`.
trait KatSuite: Suite {
    const SCHEME: Scheme;
    /// The vector's `config.group`.
    const GROUP: &'static str;

    fn wrap_key(kp: KeyPackage<Self>) -> AnyKeyPackage;
    fn wrap_nonces(nonces: SigningNonces<Self>) -> AnyNonces;
    fn wrap_commitments(commitments: SigningCommitments<Self>) -> AnyCommitments;
    fn wrap_public(pkp: PublicKeyPackage<Self>) -> AnyPublic;

    /// The group key in its chain's encoding, from the vector's `verifying_key_key`.
    fn chain_public_key(verifying_key_key: &[u8]) -> Vec<u8>;

    /// Whether a verifier independent of `frost` accepts the signature.
    fn independent_accepts(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool;
}

impl KatSuite for Ed {
    const SCHEME: Scheme = Scheme::FrostEd25519;
    const GROUP: &'static str = "ed25519";

    fn wrap_key(kp: KeyPackage<Self>) -> AnyKeyPackage {
        Any::Ed(Box::new(kp))
    }
    fn wrap_nonces(nonces: SigningNonces<Self>) -> AnyNonces {
        Any::Ed(Box::new(nonces))
    }
    fn wrap_commitments(commitments: SigningCommitments<Self>) -> AnyCommitments {
        Any::Ed(commitments)
    }
    fn wrap_public(pkp: PublicKeyPackage<Self>) -> AnyPublic {
        Any::Ed(pkp)
    }

    fn chain_public_key(verifying_key_key: &[u8]) -> Vec<u8> {
        assert_eq!(verifying_key_key.len(), 32, "an Ed25519 key is 32 bytes");
        verifying_key_key.to_vec()
    }

    fn independent_accepts(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let Ok(pk) = <[u8; 32]>::try_from(public_key) else {
            return false;
        };
        let Ok(sig) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&pk) else {
            return false;
        };
        vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok()
    }
}

impl KatSuite for Tr {
    const SCHEME: Scheme = Scheme::FrostSecp256k1Tr;
    const GROUP: &'static str = "secp256k1";

    fn wrap_key(kp: KeyPackage<Self>) -> AnyKeyPackage {
        Any::Tr(Box::new(kp))
    }
    fn wrap_nonces(nonces: SigningNonces<Self>) -> AnyNonces {
        Any::Tr(Box::new(nonces))
    }
    fn wrap_commitments(commitments: SigningCommitments<Self>) -> AnyCommitments {
        Any::Tr(commitments)
    }
    fn wrap_public(pkp: PublicKeyPackage<Self>) -> AnyPublic {
        Any::Tr(pkp)
    }

    fn chain_public_key(verifying_key_key: &[u8]) -> Vec<u8> {
        assert_eq!(
            verifying_key_key.len(),
            33,
            "a secp256k1 key in the vectors is a 33-byte compressed point"
        );
        // BIP-340 x-only key: drop the parity byte.
        verifying_key_key[1..].to_vec()
    }

    fn independent_accepts(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        k256_accepts(public_key, message, signature)
    }
}

/// `k256`'s BIP-340 verifier; a key or signature it cannot parse counts as a reject.
pub(super) fn k256_accepts(x_only: &[u8], message: &[u8], signature: &[u8]) -> bool {
    // `from_bytes` panics on a key that is not 32 bytes.
    if x_only.len() != 32 {
        return false;
    }
    let Ok(vk) = k256::schnorr::VerifyingKey::from_bytes(x_only) else {
        return false;
    };
    let Ok(sig) = k256::schnorr::Signature::try_from(signature) else {
        return false;
    };
    vk.verify_raw(message, &sig).is_ok()
}

/// An RNG that hands out fixed bytes, to replay a vector's nonce randomness through
/// [`crate::commit`]. Panics when asked for more than it holds.
struct Replay {
    bytes: Vec<u8>,
    used: usize,
}

impl Replay {
    fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, used: 0 }
    }

    fn assert_drained(&self) {
        assert_eq!(
            self.used,
            self.bytes.len(),
            "commit consumed {} of the {} bytes of vector randomness",
            self.used,
            self.bytes.len()
        );
    }
}

impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let end = self.used + dest.len();
        assert!(
            end <= self.bytes.len(),
            "commit asked for more randomness than the vector provides"
        );
        dest.copy_from_slice(&self.bytes[self.used..end]);
        self.used = end;
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Replay {}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    let s = v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {key} is not a string: {v}"));
    hex::decode(s).unwrap_or_else(|e| panic!("vector field {key} is not hex: {e}"))
}

fn u16_field(v: &Value, key: &str) -> u16 {
    let n = v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("vector field {key} is not a number: {v}"));
    u16::try_from(n).unwrap_or_else(|_| panic!("vector field {key} = {n} exceeds u16"))
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("vector field {key} is not an array"))
}

/// The vector's `config` number `key` (the vectors store them as strings).
fn config_number(config: &Value, key: &str) -> usize {
    config[key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("config {key} is not a number: {config}"))
}

/// Outputs of a round, keyed by identifier; duplicates fail the test.
fn by_identifier(outputs: &[Value]) -> BTreeMap<u16, &Value> {
    let mut map = BTreeMap::new();
    for out in outputs {
        let id = u16_field(out, "identifier");
        assert!(
            map.insert(id, out).is_none(),
            "identifier {id} listed twice"
        );
    }
    map
}

fn party(id: u16) -> PartyId {
    PartyId::new(id).unwrap()
}

fn ident<C: KatSuite>(id: u16) -> Identifier<C> {
    Identifier::try_from(id).unwrap()
}

/// The dealer's commitment to its polynomial: the group secret key is the constant term,
/// `share_polynomial_coefficients` the others.
fn dealer_commitment<C: KatSuite>(
    group_secret_key: &[u8],
    coefficients: &[Vec<u8>],
) -> VerifiableSecretSharingCommitment<C> {
    let points: Vec<Vec<u8>> = std::iter::once(group_secret_key)
        .chain(coefficients.iter().map(Vec::as_slice))
        .map(|a| {
            let a = SigningKey::<C>::deserialize(a).unwrap();
            VerifyingKey::<C>::from(&a).serialize().unwrap()
        })
        .collect();
    VerifiableSecretSharingCommitment::deserialize(points).unwrap()
}

/// Which of the vector's share holders make up the key's parties.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holders {
    /// Every participant with a share.
    All,
    /// Only the participants of the signing session (for vectors with more holders than the
    /// service supports; the other holders' shares play no part in signing).
    SigningSet,
}

/// Reproduces a FROST vector through the crate's public signing path: `commit` (with the
/// vector's randomness), `SigningPackage::new`, `sign`, `aggregate`, `verify`.
fn reproduce_frost_vector<C: KatSuite>(json: &str, holders: Holders) {
    let v: Value = serde_json::from_str(json).unwrap();
    let config = &v["config"];
    let inputs = &v["inputs"];
    assert_eq!(
        config["group"].as_str(),
        Some(C::GROUP),
        "vector for another group"
    );

    // Key material.
    let coefficients: Vec<Vec<u8>> = array(inputs, "share_polynomial_coefficients")
        .iter()
        .map(|c| hex::decode(c.as_str().unwrap()).unwrap())
        .collect();
    let t = u16::try_from(coefficients.len() + 1).unwrap();
    assert_eq!(config_number(config, "MIN_PARTICIPANTS"), usize::from(t));
    let vk_bytes = hex_field(inputs, "verifying_key_key");
    let vk = VerifyingKey::<C>::deserialize(&vk_bytes).unwrap();
    let dealer = dealer_commitment::<C>(&hex_field(inputs, "group_secret_key"), &coefficients);

    let mut key_packages: BTreeMap<u16, KeyPackage<C>> = BTreeMap::new();
    for entry in array(inputs, "participant_shares") {
        let id = u16_field(entry, "identifier");
        let signing_share =
            SigningShare::<C>::deserialize(&hex_field(entry, "participant_share")).unwrap();
        let kp = KeyPackage::new(
            ident::<C>(id),
            signing_share,
            VerifyingShare::from(signing_share),
            vk,
            t,
        );
        // The share is the dealer's polynomial at `id`, and the polynomial's constant term
        // is the vector's group key.
        let checked = KeyPackage::try_from(SecretShare::new(
            ident::<C>(id),
            signing_share,
            dealer.clone(),
        ))
        .unwrap_or_else(|e| panic!("share {id} is not on the dealer's polynomial: {e}"));
        assert!(checked == kp, "share {id} disagrees with the dealer's key");
        assert!(
            key_packages.insert(id, kp).is_none(),
            "share {id} listed twice"
        );
    }
    assert_eq!(
        config_number(config, "MAX_PARTICIPANTS"),
        key_packages.len()
    );

    let signing_list: Vec<u16> = array(inputs, "participant_list")
        .iter()
        .map(|p| u16::try_from(p.as_u64().unwrap()).unwrap())
        .collect();
    let signing_set: BTreeSet<u16> = signing_list.iter().copied().collect();
    assert_eq!(signing_set.len(), signing_list.len(), "signer listed twice");
    assert_eq!(
        config_number(config, "NUM_PARTICIPANTS"),
        signing_list.len()
    );

    // The key as the service holds it.
    let holder_ids: BTreeSet<u16> = match holders {
        Holders::All => key_packages.keys().copied().collect(),
        Holders::SigningSet => signing_set.clone(),
    };
    let threshold =
        Threshold::allowing_minority(t, u16::try_from(holder_ids.len()).unwrap()).unwrap();
    let verifying_shares = holder_ids
        .iter()
        .map(|id| (ident::<C>(*id), *key_packages[id].verifying_share()))
        .collect();
    let group = GroupKey {
        inner: GroupInner::Frost(C::wrap_public(PublicKeyPackage::new(
            verifying_shares,
            vk,
            Some(t),
        ))),
        threshold,
        parties: holder_ids.iter().map(|id| party(*id)).collect(),
    };
    let chain_pk = C::chain_public_key(&vk_bytes);
    assert_eq!(hex::encode(group.public_key()), hex::encode(&chain_pk));

    // Round one.
    let round_one = by_identifier(array(&v["round_one_outputs"], "outputs"));
    assert_eq!(
        round_one.keys().copied().collect::<BTreeSet<_>>(),
        signing_set,
        "round one outputs are not the signing set's"
    );
    let mut signers = Vec::new();
    let mut commitments = Vec::new();
    for id in &signing_list {
        let out = round_one[id];
        let p = party(*id);
        let share = KeyShare {
            inner: ShareInner::Frost(C::wrap_key(key_packages[id].clone())),
            party: p,
            threshold,
        };
        assert!(share.belongs_to(&group), "share {id} is not the group's");
        assert_eq!(hex::encode(share.public_key()), hex::encode(&chain_pk));

        let frost_nonces = SigningNonces::<C>::from_nonces(
            Nonce::deserialize(&hex_field(out, "hiding_nonce")).unwrap(),
            Nonce::deserialize(&hex_field(out, "binding_nonce")).unwrap(),
        );
        let listed = SigningCommitments::<C>::new(
            NonceCommitment::deserialize(&hex_field(out, "hiding_nonce_commitment")).unwrap(),
            NonceCommitment::deserialize(&hex_field(out, "binding_nonce_commitment")).unwrap(),
        );
        assert!(
            *frost_nonces.commitments() == listed,
            "party {id}: the commitments of the vector's nonces are not its commitments"
        );
        let commitment = Commitment {
            party: p,
            inner: Some(C::wrap_commitments(listed)),
        };

        // Our `commit`, fed the vector's randomness, derives the same nonces (equal
        // commitments), so the nonce derivation of RFC 9591 section 4.1 is the one we use.
        let mut randomness = hex_field(out, "hiding_nonce_randomness");
        randomness.extend(hex_field(out, "binding_nonce_randomness"));
        let mut rng = Replay::new(randomness);
        let fresh = crate::commit(&share, &mut rng);
        rng.assert_drained();
        assert_eq!(
            fresh.commitment(),
            &commitment,
            "party {id}: commit with the vector's randomness"
        );

        let nonces = Nonces {
            inner: Some(C::wrap_nonces(frost_nonces)),
            commitment: commitment.clone(),
        };
        assert_eq!(nonces.commitment(), &commitment);
        commitments.push(commitment);
        signers.push((share, nonces));
    }

    let message = hex_field(inputs, "message");
    let package = SigningPackage::new(&message, commitments).unwrap();
    assert_eq!(package.scheme(), C::SCHEME);
    assert_eq!(package.message(), message.as_slice());
    assert_eq!(
        package.signers(),
        signing_set.iter().map(|id| party(*id)).collect()
    );

    // Round two.
    let round_two = by_identifier(array(&v["round_two_outputs"], "outputs"));
    assert_eq!(
        round_two.keys().copied().collect::<BTreeSet<_>>(),
        signing_set,
        "round two outputs are not the signing set's"
    );
    let mut shares = Vec::new();
    for (share, nonces) in signers {
        let id = share.party().get();
        let signature_share = crate::sign(&share, nonces, &package)
            .unwrap_or_else(|e| panic!("party {id} failed to sign: {e:?}"));
        assert_eq!(signature_share.party(), share.party());
        // Wire format: "TSS" 0x01 | scheme | party | frost SignatureShare.
        let mut expected = b"TSS".to_vec();
        expected.push(1);
        expected.push(scheme_tag(C::SCHEME));
        expected.extend_from_slice(&id.to_be_bytes());
        expected.extend(hex_field(round_two[&id], "sig_share"));
        assert_eq!(
            hex::encode(signature_share.to_bytes()),
            hex::encode(&expected),
            "party {id}: signature share"
        );
        shares.push(signature_share);
    }

    let signature = crate::aggregate(&group, &package, &shares).unwrap();
    assert_eq!(signature.scheme(), C::SCHEME);
    let expected_sig = hex_field(&v["final_output"], "sig");
    assert_eq!(
        hex::encode(signature.to_bytes()),
        hex::encode(&expected_sig),
        "aggregate signature"
    );

    // Verification: the service's path and an independent verifier.
    crate::verify(C::SCHEME, &group.public_key(), &message, &expected_sig)
        .unwrap_or_else(|e| panic!("verify rejected the vector's signature: {e:?}"));
    group.verify(&message, &signature).unwrap();
    assert!(
        C::independent_accepts(&chain_pk, &message, &expected_sig),
        "the independent verifier rejects the vector's signature"
    );

    let mut tampered = message.clone();
    tampered[0] ^= 0x01;
    assert!(
        crate::verify(C::SCHEME, &group.public_key(), &tampered, &expected_sig).is_err(),
        "verify accepts the signature on a different message"
    );
    assert!(
        !C::independent_accepts(&chain_pk, &tampered, &expected_sig),
        "the independent verifier accepts the signature on a different message"
    );
}

#[test]
fn rfc9591_ed25519_vector_reproduces_shares_and_signature() {
    reproduce_frost_vector::<Ed>(RFC9591_ED25519, Holders::All);
}

/// The vector deals 257 shares, more than the service's `MAX_PARTIES`; the key cannot be
/// held whole by the service, so the group is the 2-of-3 formed by the signing set
/// (129, 256, 257), whose shares and signatures are exactly the vector's.
#[test]
fn ed25519_big_identifier_vector_reproduces_shares_and_signature() {
    let v: Value = serde_json::from_str(ED25519_BIG_IDENTIFIER).unwrap();
    let holders = array(&v["inputs"], "participant_shares").len();
    assert_eq!(holders, 257);
    assert!(usize::from(MAX_PARTIES) < holders);
    assert!(Threshold::allowing_minority(2, u16::try_from(holders).unwrap()).is_err());
    let signers = array(&v["inputs"], "participant_list");
    assert!(
        signers.iter().any(|p| p.as_u64().unwrap() > 255),
        "the vector no longer has identifiers above one byte"
    );
    reproduce_frost_vector::<Ed>(ED25519_BIG_IDENTIFIER, Holders::SigningSet);
}

#[test]
fn frost_secp256k1_tr_vector_reproduces_shares_and_signature() {
    reproduce_frost_vector::<Tr>(SECP256K1_TR, Holders::All);
}

/// As published in `frost-secp256k1-tr` 3.0.0, this file has the same content as the plain
/// vector (identifiers 1 and 3); it is run as shipped.
#[test]
fn frost_secp256k1_tr_big_identifier_vector_reproduces_shares_and_signature() {
    reproduce_frost_vector::<Tr>(SECP256K1_TR_BIG_IDENTIFIER, Holders::All);
}
