//! A few valid inputs per target, taken from the repository's own golden files, documentation
//! and tests (the golden files are read in place, not copied). `seed-corpus` writes them out as
//! libFuzzer's starting corpus; `tests/smoke.rs` mutates them.

use k256::ecdsa::SigningKey;
use serde_json::{Value, json};
use tessera_auth::{Claims, TOKEN_HEADER, body_sha256, sign_token};
use tessera_eth::{AssetKind, TransferSpec, TxFees, U256, UnsignedTx, parse_address};

use crate::auth::{CLIENT, METHOD, NOW, PATH, client_key};
use crate::split::HttpInput;

/// `crates/vault/golden/verifier-v1.bin`.
pub const VAULT_VERIFIER: &[u8] = include_bytes!("../../../crates/vault/golden/verifier-v1.bin");
/// `crates/vault/golden/share-v1.bin`.
pub const VAULT_SHARE: &[u8] = include_bytes!("../../../crates/vault/golden/share-v1.bin");
/// `crates/audit/golden/audit.pub`.
pub const AUDIT_PUB: &[u8] = include_bytes!("../../../crates/audit/golden/audit.pub");
const AUDIT_CHAIN: &str = include_str!("../../../crates/audit/golden/chain.jsonl");
const AUDIT_RECEIPT: &[u8] = include_bytes!("../../../crates/audit/golden/receipt.json");
const WIRE_REQUESTS: &str = include_str!("../../../crates/wire/golden/requests-v1.jsonl");
const WIRE_REPLIES: &str = include_str!("../../../crates/wire/golden/replies-v1.jsonl");
const POLICY_DOC: &str = include_str!("../../../docs/POLICY.md");

macro_rules! crypto_golden {
    ($($path:literal),* $(,)?) => {
        [$(include_bytes!(concat!("../../../crates/crypto/golden/", $path)).as_slice()),*]
    };
}

/// The group keys of `crates/crypto/golden/`.
pub fn crypto_groups() -> Vec<Vec<u8>> {
    crypto_golden![
        "frost-ed25519/group.bin",
        "frost-secp256k1-tr/group.bin",
        "ecdsa-secp256k1/group.bin",
    ]
    .map(<[u8]>::to_vec)
    .to_vec()
}

/// Every other file of `crates/crypto/golden/`: shares, commitments, signing packages,
/// signature shares and signatures. One ECDSA share only: each is about 100 KiB.
pub fn crypto_keys() -> Vec<Vec<u8>> {
    let mut out = crypto_groups();
    out.extend(
        crypto_golden![
            "frost-ed25519/share-1.bin",
            "frost-ed25519/commitment-1.bin",
            "frost-ed25519/package.bin",
            "frost-ed25519/sigshare-1.bin",
            "frost-ed25519/signature.bin",
            "frost-secp256k1-tr/share-2.bin",
            "frost-secp256k1-tr/commitment-1.bin",
            "frost-secp256k1-tr/package.bin",
            "frost-secp256k1-tr/sigshare-2.bin",
            "ecdsa-secp256k1/share-1.bin",
            "ecdsa-secp256k1/signature.bin",
        ]
        .map(<[u8]>::to_vec),
    );
    out
}

fn lines(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

fn http(method: &str, path: &str, body: &Value) -> Vec<u8> {
    HttpInput::join(method, path, body.to_string().as_bytes())
}

const TO: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const TOKEN: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
const REQUEST: &str = "00112233445566778899aabbccddeeff";
const POLICY_HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The example of EIP-712 itself, as `crates/eth/src/message.rs` tests it.
fn mail() -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
            "Mail": [
                {"name": "from", "type": "Person"},
                {"name": "to", "type": "Person"},
                {"name": "contents", "type": "string"}
            ]
        },
        "primaryType": "Mail",
        "domain": {
            "name": "Ether Mail",
            "version": "1",
            "chainId": 1,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        },
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    })
}

/// Typed data with arrays, integers and bytes, for the encoder's other branches.
fn orders() -> Value {
    json!({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Order": [
                {"name": "amounts", "type": "uint256[]"},
                {"name": "tag", "type": "bytes32"},
                {"name": "data", "type": "bytes"},
                {"name": "delta", "type": "int64"},
                {"name": "ok", "type": "bool"}
            ]
        },
        "primaryType": "Order",
        "domain": {"name": "Desk", "chainId": "0x7a69"},
        "message": {
            "amounts": [1, "0x10", "1000"],
            "tag": format!("0x{}", "ab".repeat(32)),
            "data": "0x0102",
            "delta": -5,
            "ok": true
        }
    })
}

fn rpc_tx_json() -> Value {
    json!({
        "from": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826",
        "to": TO,
        "gas": "0x5208",
        "maxFeePerGas": "0x6fc23ac00",
        "maxPriorityFeePerGas": "0x3b9aca00",
        "value": "0x1",
        "nonce": "0x0"
    })
}

fn call(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
}

/// Seeds of `api_intent`.
pub fn api_intent() -> Vec<Vec<u8>> {
    let sign = "/v1/wallets/w-1/sign";
    vec![
        http(
            "POST",
            "/v1/wallets",
            &json!({"name": "hot-1", "scheme": "frost-ed25519"}),
        ),
        http(
            "POST",
            "/v1/wallets",
            &json!({"name": "eth", "scheme": "ecdsa-secp256k1", "chain": "ethereum"}),
        ),
        http(
            "POST",
            sign,
            &json!({"payload_hex": "00ff", "idempotency_key": "k"}),
        ),
        http(
            "POST",
            sign,
            &json!({"message_hex": "68656c6c6f", "idempotency_key": "k"}),
        ),
        http(
            "POST",
            sign,
            &json!({"typed_data": mail(), "idempotency_key": "k-2"}),
        ),
        http(
            "POST",
            "/v1/transfers",
            &json!({"wallet_id": "w-1", "to": TO, "asset": "ETH", "amount": "0.25",
                    "idempotency_key": "t-1"}),
        ),
        http(
            "POST",
            "/v1/assets",
            &json!({"symbol": "USDC", "chain": "ethereum", "contract": TOKEN, "decimals": 6}),
        ),
        http(
            "POST",
            "/v1/wallets/w-1/rpc",
            &call("eth_sign", json!([TO, "0x68656c6c6f"])),
        ),
    ]
}

/// Seeds of `api_verdict`.
pub fn api_verdict() -> Vec<Vec<u8>> {
    vec![
        http(
            "POST",
            &format!("/v1/requests/{REQUEST}/approve"),
            &json!({"comment": "not today"}),
        ),
        HttpInput::join("POST", &format!("/v1/requests/{REQUEST}/reject"), b""),
    ]
}

/// Seeds of `api_guard`.
pub fn api_guard() -> Vec<Vec<u8>> {
    vec![
        http(
            "POST",
            "/v1/breaker/trip",
            &json!({"wallet": "w-1", "reason": "odd outflow"}),
        ),
        HttpInput::join("POST", "/v1/breaker/reset", b""),
        http(
            "POST",
            "/v1/risk",
            &json!({"level": "elevated", "reason": "feed"}),
        ),
    ]
}

/// Seeds of `api_policy_change`.
pub fn api_policy_change() -> Vec<Vec<u8>> {
    vec![
        http(
            "POST",
            "/v1/policy/proposals",
            &json!({"policy": tessera_policy::PERMISSIVE_DEV_POLICY}),
        ),
        HttpInput::join(
            "POST",
            &format!("/v1/policy/proposals/{POLICY_HASH}/approve"),
            b"{}",
        ),
        HttpInput::join(
            "POST",
            &format!("/v1/policy/proposals/{POLICY_HASH}/apply"),
            b"",
        ),
    ]
}

/// Seeds of `api_rpc`.
pub fn api_rpc() -> Vec<Vec<u8>> {
    let from = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";
    [
        json!({"jsonrpc": "2.0", "id": "x", "method": "eth_accounts"}),
        call("eth_sign", json!([from, "0x68656c6c6f"])),
        call("eth_signTypedData_v4", json!([from, mail()])),
        call("eth_signTypedData_v4", json!([from, mail().to_string()])),
        call("eth_signTransaction", json!([rpc_tx_json()])),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect()
}

/// Seeds of `auth_jwt`: a whole token, its claims alone, and header and claims.
pub fn auth_jwt() -> Vec<Vec<u8>> {
    let claims = Claims {
        sub: CLIENT.into(),
        iat: NOW,
        exp: NOW + 30,
        jti: "jti-1".into(),
        method: METHOD.into(),
        path: PATH.into(),
        body_sha256: body_sha256(b""),
    };
    let claims_json = serde_json::to_vec(&claims).expect("claims serialize");
    let token = sign_token(&client_key(), &claims);
    let with = |mode: u8, rest: &[u8]| [&[mode][..], rest].concat();
    let mut header_and_claims = TOKEN_HEADER.as_bytes().to_vec();
    header_and_claims.push(b'\n');
    header_and_claims.extend_from_slice(&claims_json);
    vec![
        with(0, token.as_bytes()),
        with(0, format!("Bearer {token}").as_bytes()),
        with(1, &claims_json),
        with(2, &header_and_claims),
    ]
}

/// Seeds of `wire_request`: the golden requests, one per line.
pub fn wire_request() -> Vec<Vec<u8>> {
    lines(WIRE_REQUESTS)
}

/// Seeds of `wire_reply`: the golden replies, one per line.
pub fn wire_reply() -> Vec<Vec<u8>> {
    lines(WIRE_REPLIES)
}

/// Seeds of `policy_file`: every TOML example of `docs/POLICY.md` and the development policy.
pub fn policy_file() -> Vec<Vec<u8>> {
    let mut out = vec![tessera_policy::PERMISSIVE_DEV_POLICY.as_bytes().to_vec()];
    let mut rest = POLICY_DOC;
    while let Some((_, after)) = rest.split_once("```toml\n") {
        let Some((block, next)) = after.split_once("```") else {
            break;
        };
        out.push(block.as_bytes().to_vec());
        rest = next;
    }
    out
}

/// Seeds of `vault_blob`: the golden verifier and share.
pub fn vault_blob() -> Vec<Vec<u8>> {
    vec![VAULT_VERIFIER.to_vec(), VAULT_SHARE.to_vec()]
}

/// Seeds of `audit_jsonl`: the golden chain, each of its lines, and the golden receipt.
pub fn audit_jsonl() -> Vec<Vec<u8>> {
    let mut out = vec![AUDIT_CHAIN.as_bytes().to_vec(), AUDIT_RECEIPT.to_vec()];
    out.extend(lines(AUDIT_CHAIN));
    out
}

fn unsigned_txs() -> Vec<UnsignedTx> {
    let fees = TxFees {
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
    };
    let to = parse_address(TO).expect("address");
    let native = TransferSpec {
        chain_id: 1,
        to,
        asset: AssetKind::Native,
        amount: U256::from(1u8),
    };
    let erc20 = TransferSpec {
        asset: AssetKind::Erc20 {
            contract: parse_address(TOKEN).expect("address"),
        },
        amount: U256::from(u64::MAX),
        ..native.clone()
    };
    vec![
        UnsignedTx::transfer(&native, 0, &fees),
        UnsignedTx::transfer(&erc20, u64::MAX, &fees),
        UnsignedTx::deploy(31_337, 3, &fees, vec![0x60, 0x00]),
    ]
}

/// Seeds of `eth_unsigned_tx`: a native transfer, an ERC-20 transfer and a deployment.
pub fn eth_unsigned_tx() -> Vec<Vec<u8>> {
    unsigned_txs().iter().map(UnsignedTx::to_bytes).collect()
}

/// Seeds of `eth_signed_tx`: the same transactions signed with a fixed test key, low S.
pub fn eth_signed_tx() -> Vec<Vec<u8>> {
    let key = SigningKey::from_slice(&[0x11; 32]).expect("a valid scalar");
    unsigned_txs()
        .into_iter()
        .map(|tx| {
            let (sig, recid) = key
                .sign_prehash_recoverable(tx.signing_hash().as_slice())
                .expect("signs");
            let (sig, y) = match sig.normalize_s() {
                Some(low) => (low, !recid.is_y_odd()),
                None => (sig, recid.is_y_odd()),
            };
            let (r, s) = sig.split_bytes();
            tx.into_signed(r.into(), s.into(), y).expect("valid").raw
        })
        .collect()
}

/// Seeds of `eth_rpc_tx`.
pub fn eth_rpc_tx() -> Vec<Vec<u8>> {
    let mut with_chain = rpc_tx_json();
    with_chain["chainId"] = json!("0x1");
    with_chain["type"] = json!("0x2");
    with_chain["data"] = json!("0xa9059cbb");
    with_chain["accessList"] = json!([]);
    [rpc_tx_json(), with_chain]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .collect()
}

/// Seeds of `eth_typed_data`.
pub fn eth_typed_data() -> Vec<Vec<u8>> {
    vec![
        mail().to_string().into_bytes(),
        orders().to_string().into_bytes(),
    ]
}

/// Seeds of `eth_text`: decimals, then an amount or an address.
pub fn eth_text() -> Vec<Vec<u8>> {
    let with = |decimals: u8, s: &str| [&[decimals][..], s.as_bytes()].concat();
    vec![
        with(18, "0.25"),
        with(6, "1.5"),
        with(0, "12"),
        with(18, TO),
        with(18, &TO.to_ascii_lowercase()),
    ]
}
