//! Unit tests of transaction building, encoding, strict decoding, transfer checks and signing.

use super::*;
use crate::parse_address;
use alloy_primitives::keccak256;
use k256::ecdsa::SigningKey;
use serde_json::json;

fn addr(s: &str) -> Address {
    parse_address(s).unwrap()
}

fn recipient() -> Address {
    addr("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
}

fn token() -> Address {
    addr("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")
}

fn fees() -> TxFees {
    TxFees {
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
    }
}

fn native(amount: u64) -> TransferSpec {
    TransferSpec {
        chain_id: 1,
        to: recipient(),
        asset: AssetKind::Native,
        amount: U256::from(amount),
    }
}

fn erc20(amount: u64) -> TransferSpec {
    TransferSpec {
        chain_id: 1,
        to: recipient(),
        asset: AssetKind::Erc20 { contract: token() },
        amount: U256::from(amount),
    }
}

fn key() -> SigningKey {
    SigningKey::from_slice(keccak256(b"tessera test key").as_slice()).unwrap()
}

/// Signs like a signer node: prehash, recoverable, low-S.
fn sign(tx: &UnsignedTx, key: &SigningKey) -> ([u8; 32], [u8; 32], bool) {
    let (sig, recid) = key
        .sign_prehash_recoverable(tx.signing_hash().as_slice())
        .unwrap();
    let (sig, y) = match sig.normalize_s() {
        Some(low) => (low, !recid.is_y_odd()),
        None => (sig, recid.is_y_odd()),
    };
    let (r, s) = sig.split_bytes();
    (r.into(), s.into(), y)
}

#[test]
fn native_transfer_fields() {
    let tx = UnsignedTx::transfer(&native(5), 7, &fees());
    assert_eq!(tx.to(), Some(recipient()));
    assert_eq!(tx.value(), U256::from(5u8));
    assert!(tx.input().is_empty());
    assert_eq!(tx.nonce(), 7);
    assert_eq!(tx.chain_id(), 1);
    assert_eq!(tx.fees(), fees());
    assert_eq!(tx.decode_transfer().unwrap(), native(5));
    assert_eq!(
        tx.max_cost_wei(),
        U256::from(21_000u64 * 30_000_000_000u64 + 5)
    );
}

#[test]
fn erc20_transfer_calls_the_contract() {
    let tx = UnsignedTx::transfer(&erc20(1_500_000), 0, &fees());
    assert_eq!(tx.to(), Some(token()));
    assert_eq!(tx.value(), U256::ZERO);
    // transfer(address,uint256) selector, then the recipient and amount words.
    let input = tx.input();
    assert_eq!(input.len(), 4 + 64);
    assert_eq!(&input[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
    assert_eq!(&input[4 + 12..36], recipient().as_slice());
    assert_eq!(U256::from_be_slice(&input[36..]), U256::from(1_500_000u64));
    assert_eq!(tx.decode_transfer().unwrap(), erc20(1_500_000));
}

#[test]
fn bytes_round_trip_and_signing_hash_is_their_keccak() {
    for tx in [
        UnsignedTx::transfer(&native(1), 0, &fees()),
        UnsignedTx::transfer(&erc20(u64::MAX), u64::MAX, &fees()),
        UnsignedTx::deploy(31337, 3, &fees(), vec![0x60, 0x00]),
    ] {
        let bytes = tx.to_bytes();
        assert_eq!(bytes[0], 0x02);
        assert_eq!(UnsignedTx::from_bytes(&bytes).unwrap(), tx);
        assert_eq!(tx.signing_hash(), keccak256(&bytes));
    }
}

#[test]
fn known_encoding_of_a_native_transfer() {
    // Hand-assembled: 0x02 || rlp([chain 1, nonce 0, tip 1 gwei, max fee 30 gwei, gas 21000,
    // to, value 1, data "", access list []]).
    let tx = UnsignedTx::transfer(&native(1), 0, &fees());
    let expected = [
        "02",
        "e8",
        "01",
        "80",
        "843b9aca00",
        "8506fc23ac00",
        "825208",
        "945aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "01",
        "80",
        "c0",
    ]
    .concat();
    assert_eq!(hex::encode(tx.to_bytes()), expected);
}

#[test]
fn strict_decoding_refuses_other_types_trailing_bytes_and_non_canonical_rlp() {
    let good = UnsignedTx::transfer(&native(1), 0, &fees()).to_bytes();

    // A legacy transaction (an RLP list, no type byte) and other typed transactions.
    let legacy =
        hex::decode("e9808504a817c800825208945aaeb6053f3e94c9b9a09f33669435e7ef1beaed0180018080")
            .unwrap();
    assert_eq!(
        UnsignedTx::from_bytes(&legacy).unwrap_err().code,
        "unsupported_tx_type"
    );
    let mut eip2930 = good.clone();
    eip2930[0] = 0x01;
    assert_eq!(
        UnsignedTx::from_bytes(&eip2930).unwrap_err().code,
        "unsupported_tx_type"
    );
    let mut eip7702 = good.clone();
    eip7702[0] = 0x04;
    assert_eq!(
        UnsignedTx::from_bytes(&eip7702).unwrap_err().code,
        "unsupported_tx_type"
    );

    let mut trailing = good.clone();
    trailing.push(0x00);
    assert_eq!(
        UnsignedTx::from_bytes(&trailing).unwrap_err().code,
        "invalid_tx"
    );

    assert_eq!(UnsignedTx::from_bytes(&[]).unwrap_err().code, "invalid_tx");
    assert_eq!(
        UnsignedTx::from_bytes(&good[..good.len() - 1])
            .unwrap_err()
            .code,
        "invalid_tx"
    );

    // The nonce 0 written as a one-byte string 0x00 instead of 0x80: a different encoding of the
    // same value.
    let mut non_canonical = good.clone();
    assert_eq!(non_canonical[3], 0x80);
    non_canonical[3] = 0x00;
    assert_eq!(
        UnsignedTx::from_bytes(&non_canonical).unwrap_err().code,
        "invalid_tx"
    );

    // The list header in its long form (0xf8 0x2c) for a payload under 56 bytes.
    let mut long_header = vec![0x02, 0xf8, 0x28];
    long_header.extend_from_slice(&good[2..]);
    assert_eq!(
        UnsignedTx::from_bytes(&long_header).unwrap_err().code,
        "invalid_tx"
    );

    // The value 1 with a leading zero byte.
    let value_at = good.len() - 3;
    assert_eq!(good[value_at], 0x01);
    let mut padded = good[..value_at].to_vec();
    padded.extend_from_slice(&[0x82, 0x00, 0x01, 0x80, 0xc0]);
    padded[1] += 2;
    assert_eq!(
        UnsignedTx::from_bytes(&padded).unwrap_err().code,
        "invalid_tx"
    );
}

#[test]
fn check_transfer_accepts_exactly_the_request() {
    UnsignedTx::transfer(&native(5), 3, &fees())
        .check_transfer(&native(5), 3)
        .unwrap();
    UnsignedTx::transfer(&erc20(5), 3, &fees())
        .check_transfer(&erc20(5), 3)
        .unwrap();
}

#[test]
fn check_transfer_names_each_differing_field() {
    let asked = erc20(100);
    let code = |spec: TransferSpec, nonce: u64| {
        UnsignedTx::transfer(&spec, nonce, &fees())
            .check_transfer(&asked, 9)
            .unwrap_err()
            .code
    };
    assert_eq!(
        code(
            TransferSpec {
                chain_id: 5,
                ..asked.clone()
            },
            9
        ),
        "wrong_chain"
    );
    assert_eq!(
        code(
            TransferSpec {
                asset: AssetKind::Native,
                ..asked.clone()
            },
            9
        ),
        "wrong_asset"
    );
    let other_token = AssetKind::Erc20 {
        contract: recipient(),
    };
    assert_eq!(
        code(
            TransferSpec {
                asset: other_token,
                ..asked.clone()
            },
            9
        ),
        "wrong_asset"
    );
    assert_eq!(
        code(
            TransferSpec {
                to: token(),
                ..asked.clone()
            },
            9
        ),
        "wrong_recipient"
    );
    assert_eq!(
        code(
            TransferSpec {
                amount: U256::from(101u8),
                ..asked.clone()
            },
            9
        ),
        "wrong_amount"
    );
    assert_eq!(code(asked.clone(), 10), "wrong_nonce");
    // Native: the same, through the value field.
    let asked = native(100);
    let tx = UnsignedTx::transfer(&native(99), 9, &fees());
    assert_eq!(
        tx.check_transfer(&asked, 9).unwrap_err().code,
        "wrong_amount"
    );
    let tx = UnsignedTx::transfer(&erc20(100), 9, &fees());
    assert_eq!(
        tx.check_transfer(&asked, 9).unwrap_err().code,
        "wrong_asset"
    );
}

#[test]
fn decode_transfer_refuses_anything_else() {
    let base = UnsignedTx::transfer(&erc20(100), 0, &fees()).0;
    let not = |tx: TxEip1559| UnsignedTx(tx).decode_transfer().unwrap_err().code;

    let mut with_value = base.clone();
    with_value.value = U256::from(1u8);
    assert_eq!(not(with_value), "not_a_transfer");

    let mut approve = base.clone();
    let mut input = approve.input.to_vec();
    input[..4].copy_from_slice(&[0x09, 0x5e, 0xa7, 0xb3]);
    approve.input = input.into();
    assert_eq!(not(approve), "not_a_transfer");

    let mut extra = base.clone();
    let mut input = extra.input.to_vec();
    input.push(0);
    extra.input = input.into();
    assert_eq!(not(extra), "not_a_transfer");

    let mut dirty_address = base.clone();
    let mut input = dirty_address.input.to_vec();
    input[4] = 0xff;
    dirty_address.input = input.into();
    assert_eq!(not(dirty_address), "not_a_transfer");

    let mut access_list = base.clone();
    access_list.access_list = alloy_eips::eip2930::AccessList(vec![Default::default()]);
    assert_eq!(not(access_list), "not_a_transfer");

    let mut create = base.clone();
    create.to = TxKind::Create;
    assert_eq!(not(create), "not_a_transfer");

    let zero_ether = UnsignedTx::transfer(&native(0), 0, &fees()).0;
    assert_eq!(not(zero_ether), "not_a_transfer");
    let zero_tokens = UnsignedTx::transfer(&erc20(0), 0, &fees()).0;
    assert_eq!(not(zero_tokens), "not_a_transfer");
}

#[test]
fn into_signed_recovers_to_the_key_and_refuses_high_s() {
    let key = key();
    let expected = Address::from_public_key(key.verifying_key());
    let tx = UnsignedTx::transfer(&native(1), 0, &fees());
    let (r, s, y) = sign(&tx, &key);
    let signed = tx.clone().into_signed(r, s, y).unwrap();
    assert_eq!(signed.from, expected);
    assert_eq!(signed.hash, keccak256(&signed.raw));
    assert_eq!(signed.raw[0], 0x02);
    assert_eq!(recover_sender(&signed.raw).unwrap(), expected);

    // The same signature with s' = n - s and the parity flipped is valid ECDSA but high-S.
    let sig = k256::ecdsa::Signature::from_scalars(r, s).unwrap();
    let high_s = -*sig.s();
    let high: [u8; 32] = high_s.to_bytes().into();
    assert_eq!(
        tx.clone().into_signed(r, high, !y).unwrap_err().code,
        "high_s"
    );
    assert_eq!(
        tx.clone().into_signed([0; 32], s, y).unwrap_err().code,
        "invalid_signature"
    );
    assert_eq!(
        tx.clone().into_signed(r, [0xff; 32], y).unwrap_err().code,
        "invalid_signature"
    );
    // The wrong parity recovers another key.
    assert_ne!(tx.into_signed(r, s, !y).unwrap().from, expected);
}

#[test]
fn recover_sender_refuses_garbage() {
    let key = key();
    let tx = UnsignedTx::transfer(&native(1), 0, &fees());
    let (r, s, y) = sign(&tx, &key);
    let mut raw = tx.into_signed(r, s, y).unwrap().raw;
    raw.push(0);
    assert_eq!(recover_sender(&raw).unwrap_err().code, "invalid_tx");
    assert_eq!(
        recover_sender(&[0x02, 0xc0]).unwrap_err().code,
        "invalid_tx"
    );
}

#[test]
fn fee_bump_raises_both_fees_by_more_than_ten_percent() {
    let bumped = fees().bumped();
    assert_eq!(bumped.gas_limit, 21_000);
    assert!(bumped.max_fee_per_gas * 10 > fees().max_fee_per_gas * 11);
    assert!(bumped.max_priority_fee_per_gas * 10 > fees().max_priority_fee_per_gas * 11);
    let zero = TxFees {
        gas_limit: 1,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
    }
    .bumped();
    assert_eq!(
        (zero.max_fee_per_gas, zero.max_priority_fee_per_gas),
        (1, 1)
    );
    let tx = UnsignedTx::transfer(&native(1), 4, &fees());
    let replacement = tx.with_fees(&bumped);
    assert_eq!(replacement.nonce(), 4);
    assert_eq!(replacement.decode_transfer().unwrap(), native(1));
    assert_eq!(replacement.fees(), bumped);
}

fn rpc_tx() -> serde_json::Value {
    json!({
        "from": "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
        "to": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "gas": "0x5208",
        "maxFeePerGas": "0x6fc23ac00",
        "maxPriorityFeePerGas": "0x3b9aca00",
        "value": "0x1",
        "nonce": "0x0",
        "chainId": "0x1"
    })
}

#[test]
fn from_rpc_json_builds_the_same_transaction() {
    let tx = UnsignedTx::from_rpc_json(&rpc_tx()).unwrap();
    assert_eq!(tx, UnsignedTx::transfer(&native(1), 0, &fees()));
    assert_eq!(
        crate::rpc_json_sender(&rpc_tx()).unwrap(),
        Some(addr("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"))
    );

    let mut call = rpc_tx();
    call["to"] = json!("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359");
    call["value"] = json!("0x0");
    call["data"] = json!(format!(
        "0x{}",
        hex::encode(UnsignedTx::transfer(&erc20(7), 0, &fees()).input())
    ));
    call["input"] = call["data"].clone();
    call["type"] = json!("0x2");
    call["accessList"] = json!([]);
    let tx = UnsignedTx::from_rpc_json(&call).unwrap();
    assert_eq!(tx.decode_transfer().unwrap(), erc20(7));

    let mut deploy = rpc_tx();
    deploy.as_object_mut().unwrap().remove("to");
    deploy["input"] = json!("0x6000");
    assert_eq!(UnsignedTx::from_rpc_json(&deploy).unwrap().to(), None);
}

#[test]
fn from_rpc_json_refusals() {
    let code = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = rpc_tx();
        edit(&mut v);
        UnsignedTx::from_rpc_json(&v).unwrap_err().code
    };
    for field in [
        "nonce",
        "gas",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "chainId",
    ] {
        assert_eq!(
            code(&|v| {
                v.as_object_mut().unwrap().remove(field);
            }),
            "missing_field",
            "{field}"
        );
    }
    assert_eq!(
        code(&|v| v["gasPrice"] = json!("0x1")),
        "unsupported_tx_type"
    );
    assert_eq!(
        code(&|v| {
            let o = v.as_object_mut().unwrap();
            o.remove("maxFeePerGas");
            o.remove("maxPriorityFeePerGas");
            o.insert("gasPrice".into(), json!("0x1"));
        }),
        "unsupported_tx_type"
    );
    assert_eq!(code(&|v| v["type"] = json!("0x0")), "unsupported_tx_type");
    assert_eq!(
        code(&|v| v["maxFeePerBlobGas"] = json!("0x1")),
        "unsupported_tx_type"
    );
    assert_eq!(
        code(&|v| v["authorizationList"] = json!([])),
        "unsupported_tx_type"
    );
    assert_eq!(code(&|v| v["whatever"] = json!(1)), "invalid_tx_json");
    assert_eq!(code(&|v| v["nonce"] = json!("12")), "invalid_tx_json");
    assert_eq!(
        code(&|v| v["to"] = json!("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")),
        "invalid_tx_json"
    );
    assert_eq!(
        code(&|v| v["maxPriorityFeePerGas"] = json!("0x6fc23ac01")),
        "invalid_tx_json"
    );
    assert_eq!(
        code(&|v| {
            v["data"] = json!("0x01");
            v["input"] = json!("0x02");
        }),
        "invalid_tx_json"
    );
    assert_eq!(
        code(
            &|v| v["accessList"] = json!([{"address": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "storageKeys": []}])
        ),
        "invalid_tx_json"
    );
    assert_eq!(
        UnsignedTx::from_rpc_json(&json!([])).unwrap_err().code,
        "invalid_tx_json"
    );
}

#[test]
fn an_rpc_tx_without_chain_id_takes_the_signers_and_every_field_is_checked() {
    let mut v = rpc_tx();
    v.as_object_mut().unwrap().remove("chainId");
    let req = crate::RpcTx::from_json(&v).unwrap();
    assert_eq!(req.chain_id, None);
    let tx = req.to_unsigned(1);
    assert_eq!(tx, UnsignedTx::transfer(&native(1), 0, &fees()));
    assert_eq!(req.check(&tx, 1), Ok(()));
    assert_eq!(req.check(&tx, 5).unwrap_err().code, "wrong_chain");
    let named = crate::RpcTx::from_json(&rpc_tx()).unwrap();
    assert_eq!(
        named.check(&named.to_unsigned(5), 5).unwrap_err().code,
        "wrong_chain"
    );
    let other = |edit: &dyn Fn(&mut crate::RpcTx)| {
        let mut r = req.clone();
        edit(&mut r);
        req.check(&r.to_unsigned(1), 1).unwrap_err().code
    };
    assert_eq!(other(&|r| r.to = None), "wrong_recipient");
    assert_eq!(other(&|r| r.value = U256::from(2)), "wrong_amount");
    assert_eq!(other(&|r| r.input = vec![1].into()), "wrong_data");
    assert_eq!(other(&|r| r.nonce = 1), "wrong_nonce");
    assert_eq!(other(&|r| r.fees.gas_limit = 1), "wrong_fees");
    assert_eq!(
        other(&|r| r.fees.max_priority_fee_per_gas = 1),
        "wrong_fees"
    );
    let mut with_list = tx.as_alloy().clone();
    with_list.access_list = alloy_eips::eip2930::AccessList(vec![Default::default()]);
    let with_list = UnsignedTx(with_list);
    assert_eq!(req.check(&with_list, 1).unwrap_err().code, "wrong_tx");
}
