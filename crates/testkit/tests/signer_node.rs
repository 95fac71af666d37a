//! `SignerNode` in process: what a signer checks before a key generation round or a nonce is
//! used, and what it stops doing when its configuration drops a client. (The multi-process
//! tests in `crates/cli/tests/` play the same rules over the network.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};

use tessera_auth::{Claims, Client, ClientKey, ClientRegistry, Role, TokenPolicy, sign_token};
use tessera_coordinator::{LinkError, SignerLink, generate_key};
use tessera_crypto::protocol::{Inbox, Session, SessionId};
use tessera_crypto::{Commitment, GroupKey, SignatureShare, SigningPackage};
use tessera_signer::peer::generate_peer_key;
use tessera_signer::{Progress, Rules, SignerError, SignerNode};
use tessera_testkit::{party, signers};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

struct Keys {
    trader: ClientKey,
    admin: ClientKey,
}

fn registry(keys: &Keys, with_trader: bool) -> ClientRegistry {
    let mut list = vec![Client {
        id: "admin-1".parse().unwrap(),
        role: Role::Admin,
        key: keys.admin.public_key(),
    }];
    if with_trader {
        list.push(Client {
            id: "trader".parse().unwrap(),
            role: Role::Trader,
            key: keys.trader.public_key(),
        });
    }
    ClientRegistry::new(list).unwrap()
}

fn token(key: &ClientKey, sub: &str, path: &str, body: &[u8]) -> String {
    let claims = Claims::for_request(&sub.parse().unwrap(), "POST", path, body, now(), 30);
    sign_token(key, &claims)
}

/// A node link bound to one create-wallet request, for the coordinator's DKG driver.
struct NodeLink<'a> {
    node: &'a mut SignerNode,
    request: String,
}

fn link_err(party: PartyId, e: &SignerError) -> LinkError {
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
    fn commit(&mut self, key: &KeyId, n: usize) -> Result<Vec<Commitment>, LinkError> {
        let p = self.party();
        self.node.commit(key, n).map_err(|e| link_err(p, &e))
    }
    fn sign(&mut self, _: &KeyId, _: &SigningPackage) -> Result<SignatureShare, LinkError> {
        unreachable!("not used here")
    }
}

/// Three nodes with a 2-of-3 Ed25519 wallet made through a registered admin request.
fn cluster(dir: &std::path::Path, keys: &Keys) -> (Vec<SignerNode>, KeyId, GroupKey, Vec<Rules>) {
    let peer_keys: Vec<([u8; 32], [u8; 32])> = (0..3).map(|_| generate_peer_key()).collect();
    let parties: BTreeSet<PartyId> = (1..=3).map(party).collect();
    let mut all_rules = Vec::new();
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
                clients: registry(keys, true),
                threshold: Threshold::new(2, 3).unwrap(),
                parties: parties.clone(),
                tokens: TokenPolicy::default(),
                max_sign_rounds: 3,
                peers: tessera_signer::peer::PeerKeys::new(s.party(), &peer_keys[i].0, &publics)
                    .unwrap(),
                ethereum: None,
                bootstrap_policy: Some(tessera_policy::Policy::permissive_dev()),
            };
            all_rules.push(rules.clone());
            SignerNode::new(s, rules).unwrap()
        })
        .collect();
    let body = br#"{"name":"hot","scheme":"frost-ed25519"}"#;
    let t = token(&keys.admin, "admin-1", "/v1/wallets", body);
    let mut request = String::new();
    for n in &mut nodes {
        request = n
            .register(&t, "POST", "/v1/wallets", body, now())
            .unwrap()
            .request_id;
    }
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
        Scheme::FrostEd25519,
        Threshold::new(2, 3).unwrap(),
        None,
    )
    .unwrap();
    (nodes, key, group, all_rules)
}

/// Registers one trader request to sign `msg` with `key` at every node; returns its id.
fn sign_request(nodes: &mut [SignerNode], keys: &Keys, key: &KeyId, msg: &[u8]) -> String {
    let path = format!("/v1/wallets/{key}/sign");
    let body = format!(
        r#"{{"payload_hex":"{}","idempotency_key":"k1"}}"#,
        hex::encode(msg)
    );
    let t = token(&keys.trader, "trader", &path, body.as_bytes());
    let mut id = String::new();
    for n in nodes {
        id = n
            .register(&t, "POST", &path, body.as_bytes(), now())
            .unwrap()
            .request_id;
    }
    id
}

#[test]
fn spent_rounds_and_dropped_clients_are_refused_before_a_nonce_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, key, _group, rules) = cluster(dir.path(), &keys);
    let id = sign_request(&mut nodes, &keys, &key, b"pay bob");
    // Three rounds at node 1 with fresh packages, then a refusal that leaves its pool alone.
    for _ in 0..3 {
        let c1 = nodes[0].commit(&key, 1).unwrap().pop().unwrap();
        let c2 = nodes[1].commit(&key, 1).unwrap().pop().unwrap();
        let package = SigningPackage::new(b"pay bob", vec![c1, c2]).unwrap();
        nodes[0].sign(&id, &key, &package).unwrap();
    }
    let c1 = nodes[0].commit(&key, 1).unwrap().pop().unwrap();
    let c2 = nodes[1].commit(&key, 1).unwrap().pop().unwrap();
    let package = SigningPackage::new(b"pay bob", vec![c1, c2]).unwrap();
    let pooled = nodes[0].signer().pooled_nonces();
    let e = nodes[0].sign(&id, &key, &package).unwrap_err();
    assert_eq!(e.code(), "request_closed");
    assert_eq!(
        nodes[0].signer().pooled_nonces(),
        pooled,
        "the refusal used no nonce"
    );

    // Node 2's configuration drops the trader: its registered request signs nothing more.
    let mut fewer = rules[1].clone();
    fewer.clients = registry(&keys, false);
    let node2 = nodes.remove(1);
    let mut node2 = SignerNode::new(node2.into_signer(), fewer).unwrap();
    let c2 = node2.commit(&key, 1).unwrap().pop().unwrap();
    let c3 = nodes[1].commit(&key, 1).unwrap().pop().unwrap();
    let package = SigningPackage::new(b"pay bob", vec![c2, c3]).unwrap();
    let pooled = node2.signer().pooled_nonces();
    let e = node2.sign(&id, &key, &package).unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    assert_eq!(node2.signer().pooled_nonces(), pooled);
}

#[test]
fn a_refused_session_does_not_use_up_the_requests_key_generation() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, _, _, _) = cluster(dir.path(), &keys);
    let body = br#"{"name":"second","scheme":"frost-ed25519"}"#;
    let t = token(&keys.admin, "admin-1", "/v1/wallets", body);
    let id = nodes[0]
        .register(&t, "POST", "/v1/wallets", body, now())
        .unwrap()
        .request_id;
    let key = KeyId::new(&format!("w-{id}")).unwrap();
    let parties: BTreeSet<PartyId> = (1..=3).map(party).collect();
    let session = |me: u16| {
        Session::new(
            SessionId([7; 16]),
            Scheme::FrostEd25519,
            Threshold::new(2, 3).unwrap(),
            parties.clone(),
            party(me),
        )
        .unwrap()
    };
    // For another party: refused, and the request's one key generation is still there.
    let e = nodes[0].dkg_start(&id, session(2), &key).unwrap_err();
    assert_eq!(e.code(), "not_what_was_asked");
    assert!(matches!(
        nodes[0].dkg_start(&id, session(1), &key),
        Ok(Progress::Send(_))
    ));
    // Used now: a second start is refused.
    nodes[0].abort(&key).unwrap();
    let e = nodes[0].dkg_start(&id, session(1), &key).unwrap_err();
    assert_eq!(e.code(), "request_closed");
}

#[test]
fn a_tripped_breaker_stops_signing_what_was_allowed_and_only_admins_move_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, key, _group, _rules) = cluster(dir.path(), &keys);
    let id = sign_request(&mut nodes, &keys, &key, b"pay bob");
    // The coordinator names a misbehaving signer: node 1's deployment breaker trips. The request
    // was allowed before, yet node 1 no longer signs it, and no nonce is touched.
    nodes[0]
        .signal(
            None,
            "misbehaving_signer",
            "party 3 sent a bad share",
            now(),
        )
        .unwrap();
    let c1 = nodes[0].commit(&key, 1).unwrap().pop().unwrap();
    let c2 = nodes[1].commit(&key, 1).unwrap().pop().unwrap();
    let package = SigningPackage::new(b"pay bob", vec![c1, c2]).unwrap();
    let pooled = nodes[0].signer().pooled_nonces();
    let e = nodes[0].sign(&id, &key, &package).unwrap_err();
    assert_eq!(e.code(), "breaker_tripped", "{e}");
    assert_eq!(nodes[0].signer().pooled_nonces(), pooled);
    // A new request at node 1 is denied by the breaker; node 2 still allows it.
    let path = format!("/v1/wallets/{key}/sign");
    let body = br#"{"payload_hex":"00","idempotency_key":"k2"}"#;
    let t = token(&keys.trader, "trader", &path, body);
    let r = nodes[0].register(&t, "POST", &path, body, now()).unwrap();
    assert_eq!(r.ruling.decision.as_str(), "deny");
    assert!(r.ruling.reason.unwrap().starts_with("circuit breaker"));
    let r = nodes[1].register(&t, "POST", &path, body, now()).unwrap();
    assert_eq!(r.ruling.decision.as_str(), "allow");

    // A signal the coordinator cannot make up, and a reset by anyone but an admin: refused.
    let e = nodes[0]
        .signal(None, "feeling_lucky", "x", now())
        .unwrap_err();
    assert_eq!(e.code(), "unknown_signal");
    let reset = br#"{}"#;
    let t = token(&keys.trader, "trader", "/v1/breaker/reset", reset);
    let e = nodes[0]
        .guard(&t, "POST", "/v1/breaker/reset", reset, now())
        .unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    // A token signed for another path or body does not pass for a reset.
    let t = token(&keys.admin, "admin-1", "/v1/breaker/trip", reset);
    assert!(
        nodes[0]
            .guard(&t, "POST", "/v1/breaker/reset", reset, now())
            .is_err()
    );
    // One admin's reset, sent twice, is one vote of the two needed.
    let t = token(&keys.admin, "admin-1", "/v1/breaker/reset", reset);
    for _ in 0..2 {
        nodes[0]
            .guard(&t, "POST", "/v1/breaker/reset", reset, now())
            .unwrap();
    }
    let (breakers, _, quorum) = nodes[0].breakers().unwrap();
    assert_eq!(quorum, 2);
    assert_eq!(breakers[0].state, "tripped");
    assert_eq!(breakers[0].reset_votes, vec!["admin-1".to_owned()]);
    let e = nodes[0].sign(&id, &key, &package).unwrap_err();
    assert_eq!(e.code(), "breaker_tripped");
}
