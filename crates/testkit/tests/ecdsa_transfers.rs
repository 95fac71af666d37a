//! Threshold ECDSA on `SignerNode`s in process, with the coordinator played by the test and
//! therefore free to lie: every signer decodes the unsigned transaction it is handed and signs
//! only the transfer a client asked for, on its own chain, at the one nonce bound to the
//! request, with fees under its cap. Every signature that comes out is checked by recovering the
//! sender with `k256`, independently of the threshold library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};

use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use tessera_auth::{Claims, Client, ClientKey, ClientRegistry, Role, TokenPolicy, sign_token};
use tessera_coordinator::{LinkError, SignerLink, generate_key};
use tessera_crypto::protocol::{Inbox, Outbox, Session, SessionId};
use tessera_crypto::{Commitment, GroupKey, SignatureShare, SigningPackage};
use tessera_eth::{Address, AssetKind, TransferSpec, TxFees, U256, UnsignedTx};
use tessera_signer::peer::generate_peer_key;
use tessera_signer::{EcdsaProgress, EthereumRules, Progress, Rules, SignerError, SignerNode};
use tessera_testkit::{party, signers};
use tessera_types::{KeyId, PartyId, Scheme, Threshold};

const CHAIN: u64 = 31_337;
const GWEI: u128 = 1_000_000_000;
const USDC: &str = "0x00000000000000000000000000000000000000cc";
const BOB: &str = "0x00000000000000000000000000000000000000b0";
const EVE: &str = "0x00000000000000000000000000000000000000e0";

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

fn token(key: &ClientKey, sub: &str, path: &str, body: &[u8]) -> String {
    let claims = Claims::for_request(&sub.parse().unwrap(), "POST", path, body, now(), 30);
    sign_token(key, &claims)
}

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
    fn commit(&mut self, _: &KeyId, _: usize) -> Result<Vec<Commitment>, LinkError> {
        unreachable!("ECDSA keys have no nonce pool")
    }
    fn sign(&mut self, _: &KeyId, _: &SigningPackage) -> Result<SignatureShare, LinkError> {
        unreachable!("not used here")
    }
}

/// Three nodes on chain `CHAIN` with a 2-of-3 ECDSA wallet, and USDC (6 decimals) registered.
fn cluster(dir: &std::path::Path, keys: &Keys) -> (Vec<SignerNode>, KeyId, GroupKey) {
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
            };
            SignerNode::new(s, rules)
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

fn register_everywhere(
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

fn transfer_request(nodes: &mut [SignerNode], keys: &Keys, body: &str) -> String {
    register_everywhere(
        nodes,
        &keys.trader,
        "trader",
        "/v1/transfers",
        body.as_bytes(),
    )
}

/// Runs one signing session among `quorum` (indices into `nodes`), relaying every message as
/// sent. Returns the signature, or the first refusal.
fn session(
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
fn address(group: &GroupKey) -> Address {
    let vk = VerifyingKey::from_sec1_bytes(&group.public_key()).unwrap();
    tessera_eth::address_of(vk.to_encoded_point(false).as_bytes()).unwrap()
}

/// Checks `sig` over `hash` with `k256`: low-S, and the recovery id recovers the wallet's key.
fn check(group: &GroupKey, hash: &[u8; 32], sig: &[u8; 65]) {
    let vk = VerifyingKey::from_sec1_bytes(&group.public_key()).unwrap();
    let s = K256Signature::from_slice(&sig[..64]).unwrap();
    assert!(s.normalize_s().is_none(), "high-S signature");
    let recovered =
        VerifyingKey::recover_from_prehash(hash, &s, RecoveryId::from_byte(sig[64]).unwrap())
            .unwrap();
    assert_eq!(recovered, vk);
}

fn fees(max_fee_gwei: u128, priority_gwei: u128) -> TxFees {
    TxFees {
        gas_limit: 21_000,
        max_fee_per_gas: max_fee_gwei * GWEI,
        max_priority_fee_per_gas: priority_gwei * GWEI,
    }
}

fn eth_spec(to: &str, amount_wei: u128) -> TransferSpec {
    TransferSpec {
        chain_id: CHAIN,
        to: tessera_eth::parse_address(to).unwrap(),
        asset: AssetKind::Native,
        amount: U256::from(amount_wei),
    }
}

const QUARTER_ETH: u128 = 250_000_000_000_000_000;

#[test]
fn a_signer_signs_only_the_transfer_the_client_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, key, group) = cluster(dir.path(), &keys);
    let from = address(&group);
    let body = format!(
        r#"{{"wallet_id":"{key}","to":"{BOB}","asset":"ETH","amount":"0.25","idempotency_key":"t1"}}"#
    );
    let request = transfer_request(&mut nodes, &keys, &body);

    // What a compromised coordinator might hand the signers instead, each refused by name
    // before any round or session is used.
    let lies: Vec<(&str, UnsignedTx)> = vec![
        (
            "wrong_recipient",
            UnsignedTx::transfer(&eth_spec(EVE, QUARTER_ETH), 0, &fees(20, 1)),
        ),
        (
            "wrong_amount",
            UnsignedTx::transfer(&eth_spec(BOB, QUARTER_ETH * 4), 0, &fees(20, 1)),
        ),
        (
            "wrong_chain",
            UnsignedTx::transfer(
                &TransferSpec {
                    chain_id: 1,
                    ..eth_spec(BOB, QUARTER_ETH)
                },
                0,
                &fees(20, 1),
            ),
        ),
        (
            "wrong_asset",
            UnsignedTx::transfer(
                &TransferSpec {
                    asset: AssetKind::Erc20 {
                        contract: tessera_eth::parse_address(USDC).unwrap(),
                    },
                    ..eth_spec(BOB, QUARTER_ETH)
                },
                0,
                &fees(20, 1),
            ),
        ),
        (
            "fee_too_high",
            UnsignedTx::transfer(&eth_spec(BOB, QUARTER_ETH), 0, &fees(1_000_000, 1)),
        ),
    ];
    for (code, tx) in &lies {
        let e = session(&mut nodes, &[0, 1], &request, &key, Some(&tx.to_bytes())).unwrap_err();
        assert_eq!(e.code(), *code, "{e}");
    }
    let garbage = session(
        &mut nodes,
        &[0, 1],
        &request,
        &key,
        Some(&[0x02, 0xc0, 0x00]),
    );
    assert!(garbage.is_err());
    let rec = nodes[0].request(&request).unwrap();
    assert_eq!(rec.rounds, 0, "a refused transaction uses no round");

    // The honest transaction signs, and recovers to the wallet's address.
    let tx = UnsignedTx::transfer(&eth_spec(BOB, QUARTER_ETH), 7, &fees(20, 1));
    let hash = tx.signing_hash().0;
    let sig = session(&mut nodes, &[0, 1], &request, &key, Some(&tx.to_bytes())).unwrap();
    check(&group, &hash, &sig);
    let signed = tx
        .clone()
        .into_signed(
            sig[..32].try_into().unwrap(),
            sig[32..64].try_into().unwrap(),
            sig[64] == 1,
        )
        .unwrap();
    assert_eq!(tessera_eth::recover_sender(&signed.raw).unwrap(), from);

    // The request is bound to nonce 7: the same transfer at another nonce would be a second
    // payment, and is refused; so is a replacement that does not raise the fees enough.
    let other_nonce = UnsignedTx::transfer(&eth_spec(BOB, QUARTER_ETH), 8, &fees(40, 2));
    let e = session(
        &mut nodes,
        &[1, 2],
        &request,
        &key,
        Some(&other_nonce.to_bytes()),
    )
    .unwrap_err();
    assert_eq!(e.code(), "wrong_nonce");
    let small_bump = UnsignedTx::transfer(&eth_spec(BOB, QUARTER_ETH), 7, &fees(21, 1));
    let e = session(
        &mut nodes,
        &[1, 2],
        &request,
        &key,
        Some(&small_bump.to_bytes()),
    )
    .unwrap_err();
    assert_eq!(e.code(), "fee_bump_too_small");
    // A fee bump of the same transaction at the same nonce signs (another quorum).
    let bump = UnsignedTx::transfer(&eth_spec(BOB, QUARTER_ETH), 7, &fees(30, 2));
    let sig = session(&mut nodes, &[1, 2], &request, &key, Some(&bump.to_bytes())).unwrap();
    check(&group, &bump.signing_hash().0, &sig);

    // A transfer request cannot be signed without its transaction, nor as a raw hash.
    let e = session(&mut nodes, &[0, 2], &request, &key, None).unwrap_err();
    assert_eq!(e.code(), "not_what_was_asked");
}

#[test]
fn token_transfers_typed_data_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys {
        trader: ClientKey::generate(),
        admin: ClientKey::generate(),
    };
    let (mut nodes, key, group) = cluster(dir.path(), &keys);
    let usdc = tessera_eth::parse_address(USDC).unwrap();

    // More decimals than the token has, or an unknown token: refused at registration.
    let t = |amount: &str, asset: &str| {
        format!(
            r#"{{"wallet_id":"{key}","to":"{BOB}","asset":"{asset}","amount":"{amount}","idempotency_key":"{amount}{asset}"}}"#
        )
    };
    for (body, code) in [
        (t("1.0000001", "USDC"), "too_many_decimals"),
        (t("1", "DAI"), "unknown_asset"),
    ] {
        let tok = token(&keys.trader, "trader", "/v1/transfers", body.as_bytes());
        let e = nodes[0]
            .register(&tok, "POST", "/v1/transfers", body.as_bytes(), now())
            .unwrap_err();
        assert_eq!(e.code(), code);
    }

    let request = transfer_request(&mut nodes, &keys, &t("12.5", "USDC"));
    let spec = TransferSpec {
        chain_id: CHAIN,
        to: tessera_eth::parse_address(BOB).unwrap(),
        asset: AssetKind::Erc20 { contract: usdc },
        amount: U256::from(12_500_000u64),
    };
    let token_fees = TxFees {
        gas_limit: 60_000,
        ..fees(20, 1)
    };
    // Another token contract, or ether instead of the token, is refused.
    let fake = TransferSpec {
        asset: AssetKind::Erc20 {
            contract: tessera_eth::parse_address(EVE).unwrap(),
        },
        ..spec.clone()
    };
    for lie in [
        UnsignedTx::transfer(&fake, 0, &token_fees),
        UnsignedTx::transfer(
            &TransferSpec {
                asset: AssetKind::Native,
                ..spec.clone()
            },
            0,
            &token_fees,
        ),
    ] {
        let e = session(&mut nodes, &[0, 2], &request, &key, Some(&lie.to_bytes())).unwrap_err();
        assert_eq!(e.code(), "wrong_asset", "{e}");
    }
    let tx = UnsignedTx::transfer(&spec, 0, &token_fees);
    let sig = session(&mut nodes, &[0, 2], &request, &key, Some(&tx.to_bytes())).unwrap();
    check(&group, &tx.signing_hash().0, &sig);

    // EIP-712 typed data and EIP-191 messages: the signers hash what the client sent.
    let typed = serde_json::json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "chainId", "type": "uint256"}
            ],
            "Order": [
                {"name": "market", "type": "string"},
                {"name": "size", "type": "uint256"}
            ]
        },
        "primaryType": "Order",
        "domain": {"name": "Venue", "chainId": 31337},
        "message": {"market": "ETH-PERP", "size": "5"}
    });
    let path = format!("/v1/wallets/{key}/sign");
    let body = serde_json::json!({"typed_data": typed, "idempotency_key": "o1"}).to_string();
    let request = register_everywhere(&mut nodes, &keys.trader, "trader", &path, body.as_bytes());
    let sig = session(&mut nodes, &[1, 2], &request, &key, None).unwrap();
    check(
        &group,
        &tessera_eth::typed_data_hash(&typed).unwrap().0,
        &sig,
    );
    // A completed signing request gives nothing more.
    let e = session(&mut nodes, &[0, 1], &request, &key, None).unwrap_err();
    assert_eq!(e.code(), "request_closed");
    // Nor does it sign a transaction the coordinator slips in.
    let tx = UnsignedTx::transfer(&eth_spec(EVE, 1), 0, &fees(20, 1));
    let e = session(&mut nodes, &[0, 1], &request, &key, Some(&tx.to_bytes())).unwrap_err();
    assert_eq!(e.code(), "not_what_was_asked");

    let body = r#"{"message_hex":"68656c6c6f","idempotency_key":"m1"}"#;
    let request = register_everywhere(&mut nodes, &keys.trader, "trader", &path, body.as_bytes());
    let sig = session(&mut nodes, &[0, 1], &request, &key, None).unwrap();
    check(
        &group,
        &tessera_eth::personal_message_hash(b"hello").0,
        &sig,
    );

    // A raw payload could be a transaction hash no signer decoded: refused.
    let body = format!(
        r#"{{"payload_hex":"{}","idempotency_key":"r1"}}"#,
        hex::encode(tx.signing_hash().0)
    );
    let tok = token(&keys.trader, "trader", &path, body.as_bytes());
    let e = nodes[0]
        .register(&tok, "POST", &path, body.as_bytes(), now())
        .unwrap_err();
    assert_eq!(e.code(), "raw_signing_not_allowed");
}
