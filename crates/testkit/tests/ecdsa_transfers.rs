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

mod ecdsa_nodes;

use ecdsa_nodes::{
    CHAIN, GWEI, Keys, USDC, address, check, cluster, now, register_everywhere, session, token,
};
use tessera_auth::ClientKey;
use tessera_eth::{AssetKind, TransferSpec, TxFees, U256, UnsignedTx};
use tessera_signer::SignerNode;

const BOB: &str = "0x00000000000000000000000000000000000000b0";
const EVE: &str = "0x00000000000000000000000000000000000000e0";

fn transfer_request(nodes: &mut [SignerNode], keys: &Keys, body: &str) -> String {
    register_everywhere(
        nodes,
        &keys.trader,
        "trader",
        "/v1/transfers",
        body.as_bytes(),
    )
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
