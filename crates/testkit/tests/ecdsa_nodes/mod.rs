//! The in-process ECDSA cluster the ECDSA signer tests share: three `SignerNode`s on chain
//! `CHAIN` with a 2-of-3 wallet, the coordinator played by the test (and therefore free to lie),
//! and signature checks by `k256`, independent of the threshold library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    reason = "test code: a failed unwrap is a failed test; each test file uses part of this"
)]

use std::collections::{BTreeMap, BTreeSet};

use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use tessera_auth::{Claims, Client, ClientKey, ClientRegistry, Role, TokenPolicy, sign_token};
use tessera_coordinator::{LinkError, SignerLink, generate_key};
use tessera_crypto::protocol::{Inbox, Outbox, Session, SessionId};
use tessera_crypto::{Commitment, GroupKey, SignatureShare, SigningPackage};
use tessera_eth::Address;
use tessera_signer::peer::generate_peer_key;
use tessera_signer::{EcdsaProgress, EthereumRules, Progress, Rules, SignerError, SignerNode};
use tessera_testkit::{party, signers};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};

pub const CHAIN: u64 = 31_337;
pub const GWEI: u128 = 1_000_000_000;
pub const USDC: &str = "0x00000000000000000000000000000000000000cc";

pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

pub struct Keys {
    pub trader: ClientKey,
    pub admin: ClientKey,
}

pub fn token(key: &ClientKey, sub: &str, path: &str, body: &[u8]) -> String {
    let claims = Claims::for_request(&sub.parse().unwrap(), "POST", path, body, now(), 30);
    sign_token(key, &claims)
}

pub struct NodeLink<'a> {
    pub node: &'a mut SignerNode,
    pub request: String,
}

pub fn link_err(party: PartyId, e: &SignerError) -> LinkError {
    LinkError {
        party,
        code: e.code().to_owned(),
        message: e.to_string(),
        culprits: Vec::new(),
    }
}

impl SignerLink for NodeLink<'_> {
    fn party(&self) -> PartyId {
        self.node.party()
    }
    fn dkg_start(&mut self, key: &KeyId, session: Session) -> Result<Progress, LinkError> {
        let p = self.party();
        self.node
            .dkg_start(&self.request, session, key)
            .map_err(|e| link_err(p, &e))
    }
    fn dkg_advance(&mut self, key: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError> {
        let p = self.party();
        self.node
            .dkg_advance(key, inbox)
            .map_err(|e| link_err(p, &e))
    }
    fn refresh_start(&mut self, _: &KeyId, _: SessionId) -> Result<Progress, LinkError> {
        unreachable!("not used here")
    }
    fn refresh_advance(&mut self, _: &KeyId, _: &Inbox) -> Result<Progress, LinkError> {
        unreachable!("not used here")
    }
    fn activate(&mut self, key: &KeyId, group: &GroupKey) -> Result<(), LinkError> {
        let p = self.party();
        self.node.activate(key, group).map_err(|e| link_err(p, &e))
    }
    fn abort(&mut self, key: &KeyId) -> Result<(), LinkError> {
        let p = self.party();
        self.node
            .abort(key)
            .map(|_| ())
            .map_err(|e| link_err(p, &e))
    }
    fn commit(&mut self, _: &KeyId, _: usize) -> Result<Vec<Commitment>, LinkError> {
        unreachable!("ECDSA keys have no nonce pool")
    }
    fn sign(&mut self, _: &KeyId, _: &SigningPackage) -> Result<SignatureShare, LinkError> {
        unreachable!("not used here")
    }
}

/// Three nodes on chain `CHAIN` with a 2-of-3 ECDSA wallet, and USDC (6 decimals) registered.
pub fn cluster(dir: &std::path::Path, keys: &Keys) -> (Vec<SignerNode>, KeyId, GroupKey) {
    let peer_keys: Vec<([u8; 32], [u8; 32])> = (0..3).map(|_| generate_peer_key()).collect();
    let parties: BTreeSet<PartyId> = (1..=3).map(party).collect();
    let clients = ClientRegistry::new(vec![
        Client {
            id: "admin-1".parse().unwrap(),
            role: Role::Admin,
            key: keys.admin.public_key(),
        },
        Client {
            id: "trader".parse().unwrap(),
            role: Role::Trader,
            key: keys.trader.public_key(),
        },
    ])
    .unwrap();
    let mut nodes: Vec<SignerNode> = signers(dir, 3)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let publics: BTreeMap<PartyId, [u8; 32]> = (0..3)
                .filter(|j| *j != i)
                .map(|j| (party(u16::try_from(j + 1).unwrap()), peer_keys[j].1))
                .collect();
            let rules = Rules {
                clients: clients.clone(),
                threshold: Threshold::new(2, 3).unwrap(),
                parties: parties.clone(),
                tokens: TokenPolicy::default(),
                max_sign_rounds: 3,
                peers: tessera_signer::peer::PeerKeys::new(s.party(), &peer_keys[i].0, &publics)
                    .unwrap(),
                ethereum: Some(EthereumRules {
                    chain_id: CHAIN,
                    max_tx_fee_wei: 10_000_000 * GWEI,
                }),
                bootstrap_policy: Some(tessera_policy::Policy::permissive_dev()),
            };
            SignerNode::new(s, rules).unwrap()
        })
        .collect();
    let body = br#"{"name":"hot","scheme":"ecdsa-secp256k1","chain":"ethereum"}"#;
    let request = register_everywhere(&mut nodes, &keys.admin, "admin-1", "/v1/wallets", body);
    let key = KeyId::new(&format!("w-{request}")).unwrap();
    let mut links: Vec<NodeLink<'_>> = nodes
        .iter_mut()
        .map(|node| NodeLink {
            node,
            request: request.clone(),
        })
        .collect();
    let mut refs: Vec<&mut dyn SignerLink> =
        links.iter_mut().map(|l| l as &mut dyn SignerLink).collect();
    let group = generate_key(
        &mut refs,
        &key,
        Scheme::EcdsaSecp256k1,
        Threshold::new(2, 3).unwrap(),
        None,
    )
    .unwrap();
    let body =
        format!(r#"{{"symbol":"USDC","chain":"ethereum","contract":"{USDC}","decimals":6}}"#);
    register_everywhere(
        &mut nodes,
        &keys.admin,
        "admin-1",
        "/v1/assets",
        body.as_bytes(),
    );
    (nodes, key, group)
}

pub fn register_everywhere(
    nodes: &mut [SignerNode],
    key: &ClientKey,
    sub: &str,
    path: &str,
    body: &[u8],
) -> String {
    let t = token(key, sub, path, body);
    let mut id = String::new();
    for n in nodes {
        id = n
            .register(&t, "POST", path, body, now())
            .unwrap()
            .request_id;
    }
    id
}

/// Runs one signing session among `quorum` (indices into `nodes`), relaying every message as
/// sent. Returns the signature, or the first refusal.
pub fn session(
    nodes: &mut [SignerNode],
    quorum: &[usize],
    request_id: &str,
    key: &KeyId,
    unsigned: Option<&[u8]>,
) -> Result<[u8; 65], SignerError> {
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let session = SessionId(id);
    let signers: BTreeSet<PartyId> = quorum.iter().map(|i| nodes[*i].party()).collect();
    let mut outboxes: BTreeMap<PartyId, Outbox> = BTreeMap::new();
    for i in quorum {
        let node = &mut nodes[*i];
        let out = node.ecdsa_start(request_id, key, session, signers.clone(), unsigned)?;
        outboxes.insert(node.party(), out);
    }
    loop {
        let mut next = BTreeMap::new();
        let mut signed = Vec::new();
        for i in quorum {
            let me = nodes[*i].party();
            let inbox = Inbox(
                outboxes
                    .iter()
                    .filter_map(|(from, out)| out.0.get(&me).map(|m| (*from, m.clone())))
                    .collect(),
            );
            match nodes[*i].ecdsa_advance(key, &session, &inbox)? {
                EcdsaProgress::Send(out) => {
                    next.insert(me, out);
                }
                EcdsaProgress::Signed(sig) => signed.push(sig.to_bytes()),
            }
        }
        if !signed.is_empty() {
            assert_eq!(
                signed.len(),
                quorum.len(),
                "every signer ends with the signature"
            );
            assert!(signed.iter().all(|s| *s == signed[0]));
            return Ok(signed[0]);
        }
        outboxes = next;
    }
}

/// The address of `group`'s key, computed with `k256` (not with the threshold library).
pub fn address(group: &GroupKey) -> Address {
    let vk = VerifyingKey::from_sec1_bytes(&group.public_key()).unwrap();
    tessera_eth::address_of(vk.to_encoded_point(false).as_bytes()).unwrap()
}

/// Checks `sig` over `hash` with `k256`: low-S, and the recovery id recovers the wallet's key.
pub fn check(group: &GroupKey, hash: &[u8; 32], sig: &[u8; 65]) {
    let vk = VerifyingKey::from_sec1_bytes(&group.public_key()).unwrap();
    let s = K256Signature::from_slice(&sig[..64]).unwrap();
    assert!(s.normalize_s().is_none(), "high-S signature");
    let recovered =
        VerifyingKey::recover_from_prehash(hash, &s, RecoveryId::from_byte(sig[64]).unwrap())
            .unwrap();
    assert_eq!(recovered, vk);
}
