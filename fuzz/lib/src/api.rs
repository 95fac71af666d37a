//! API request bodies, decoded by the gateway and again by every signer: [`Intent::parse`],
//! [`Verdict::parse`], [`GuardCommand::parse`], [`PolicyChange::parse`] and the JSON-RPC
//! endpoint's [`RpcCall`]. Inputs are `METHOD PATH\nBODY` ([`HttpInput`]).
//!
//! Round trip: a decoded request is written back as the body a client would send, and that body
//! must decode to the same value.

use serde_json::{Value, json};
use tessera_auth::{ClientId, RequestId};
use tessera_eth::checksummed;
use tessera_types::Scheme;
use tessera_wire::{
    AddAsset, CreateWallet, GuardCommand, Intent, PolicyChange, ProposeBody, ResetBody, RiskBody,
    RpcCall, SignRequest, TransferRequest, TripBody, Verdict, VerdictBody,
};

use crate::split::HttpInput;

/// The request id every [`Intent::parse`] call gets (it names a created wallet).
pub fn request_id() -> RequestId {
    let client = ClientId::new("fuzz-client").expect("a valid client id");
    RequestId::derive(&client, "fuzz-jti")
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("a body serializes")
}

/// [`Intent::parse`]: every signing, wallet, transfer and asset request.
pub fn intent(data: &[u8]) {
    let input = HttpInput::split(data);
    let rid = request_id();
    let parsed = Intent::parse(&input.method, &input.path, input.body, &rid);
    let again = Intent::parse(&input.method, &input.path, input.body, &rid);
    assert_eq!(parsed, again, "decoding is not deterministic");
    let Ok(intent) = parsed else { return };
    for scheme in Scheme::ALL {
        let _ = intent.message_for(scheme);
    }
    let _ = (intent.kind(), intent.wallet(), intent.account());
    let _ = intent.idempotency_key();
    if let Some((path, body)) = re_encode(&intent) {
        let back = Intent::parse("POST", &path, &body, &rid);
        assert_eq!(back.as_ref(), Ok(&intent), "round trip through {path}");
    }
    match &intent {
        Intent::SignTypedData {
            typed_data, hash, ..
        } => {
            // The hash depends on the typed data's value, not on how its JSON was spelled.
            let text = typed_data.to_string();
            let reread: Value = serde_json::from_str(&text).expect("JSON reads back");
            let rehashed = tessera_eth::typed_data_hash(&reread).expect("hashes again");
            assert_eq!(rehashed.0, *hash);
        }
        Intent::Transfer { amount, .. } => {
            for decimals in [0, 6, 18, tessera_wire::MAX_DECIMALS] {
                amount_round_trip(amount, decimals);
            }
        }
        _ => {}
    }
}

/// The path and body that a client sends for `intent`, where one can be written back.
fn re_encode(intent: &Intent) -> Option<(String, Vec<u8>)> {
    Some(match intent {
        Intent::CreateWallet {
            name,
            scheme,
            chain,
            ..
        } => (
            "/v1/wallets".to_owned(),
            json_bytes(&CreateWallet {
                name: name.clone(),
                scheme: *scheme,
                chain: *chain,
            }),
        ),
        Intent::Sign {
            wallet,
            message,
            idempotency_key,
        } => (
            format!("/v1/wallets/{wallet}/sign"),
            json_bytes(&SignRequest {
                payload_hex: Some(hex::encode(message)),
                typed_data: None,
                message_hex: None,
                idempotency_key: idempotency_key.clone(),
            }),
        ),
        Intent::SignMessage {
            wallet,
            address: None,
            message,
            idempotency_key: Some(key),
            ..
        } => (
            format!("/v1/wallets/{wallet}/sign"),
            json_bytes(&SignRequest {
                payload_hex: None,
                typed_data: None,
                message_hex: Some(hex::encode(message)),
                idempotency_key: key.clone(),
            }),
        ),
        Intent::SignTypedData {
            wallet,
            address: None,
            typed_data,
            idempotency_key: Some(key),
            ..
        } => (
            format!("/v1/wallets/{wallet}/sign"),
            json_bytes(&SignRequest {
                payload_hex: None,
                typed_data: Some(typed_data.clone()),
                message_hex: None,
                idempotency_key: key.clone(),
            }),
        ),
        Intent::Transfer {
            wallet,
            to,
            asset,
            amount,
            idempotency_key,
        } => (
            "/v1/transfers".to_owned(),
            json_bytes(&TransferRequest {
                wallet_id: wallet.to_string(),
                to: checksummed(to),
                asset: asset.clone(),
                amount: amount.clone(),
                idempotency_key: idempotency_key.clone(),
            }),
        ),
        Intent::AddAsset {
            symbol,
            chain,
            contract,
            decimals,
        } => (
            "/v1/assets".to_owned(),
            json_bytes(&AddAsset {
                symbol: symbol.clone(),
                chain: *chain,
                contract: checksummed(contract),
                decimals: *decimals,
            }),
        ),
        _ => return None,
    })
}

/// An amount accepted by the wire's parser formats back to one that parses to the same value.
pub fn amount_round_trip(amount: &str, decimals: u8) {
    let wire = tessera_wire::parse_amount(amount, decimals);
    let eth = tessera_eth::parse_amount(amount, decimals);
    // The wire's parser checks the syntax first, then asks the Ethereum one.
    if let Ok(value) = wire {
        assert_eq!(
            eth.as_ref().ok(),
            Some(&value),
            "`{amount}`, {decimals} decimals"
        );
    }
    if let Ok(value) = eth {
        let text = tessera_eth::format_amount(value, decimals);
        assert_eq!(tessera_eth::parse_amount(&text, decimals).ok(), Some(value));
    }
}

/// [`Verdict::parse`]: approvals and rejections.
pub fn verdict(data: &[u8]) {
    let input = HttpInput::split(data);
    let Ok(v) = Verdict::parse(&input.method, &input.path, input.body) else {
        return;
    };
    let step = if v.approve { "approve" } else { "reject" };
    let path = format!("/v1/requests/{}/{step}", v.request_id);
    let body = json_bytes(&VerdictBody {
        comment: v.comment.clone(),
    });
    assert_eq!(Verdict::parse("POST", &path, &body), Ok(v));
}

/// [`GuardCommand::parse`]: breaker trips and resets, risk levels.
pub fn guard(data: &[u8]) {
    let input = HttpInput::split(data);
    let Ok(cmd) = GuardCommand::parse(&input.method, &input.path, input.body) else {
        return;
    };
    let (path, body) = match &cmd {
        GuardCommand::Trip { wallet, reason } => (
            "/v1/breaker/trip",
            json_bytes(&TripBody {
                reason: Some(reason.clone()),
                wallet: wallet.clone(),
            }),
        ),
        GuardCommand::Reset { wallet, reason } => (
            "/v1/breaker/reset",
            json_bytes(&ResetBody {
                wallet: wallet.clone(),
                reason: Some(reason.clone()),
            }),
        ),
        GuardCommand::Risk { level, reason } => (
            "/v1/risk",
            json_bytes(&RiskBody {
                level: level.clone(),
                reason: Some(reason.clone()),
            }),
        ),
    };
    assert_eq!(GuardCommand::parse("POST", path, &body), Ok(cmd));
}

/// [`PolicyChange::parse`]: policy proposals, approvals and applications.
pub fn policy_change(data: &[u8]) {
    let input = HttpInput::split(data);
    let Ok(change) = PolicyChange::parse(&input.method, &input.path, input.body) else {
        return;
    };
    let (path, body) = match &change {
        PolicyChange::Propose { text } => (
            "/v1/policy/proposals".to_owned(),
            json_bytes(&ProposeBody {
                policy: text.clone(),
            }),
        ),
        PolicyChange::Approve { hash } => {
            (format!("/v1/policy/proposals/{hash}/approve"), Vec::new())
        }
        PolicyChange::Apply { hash } => (format!("/v1/policy/proposals/{hash}/apply"), Vec::new()),
    };
    assert_eq!(PolicyChange::parse("POST", &path, &body), Ok(change));
}

/// [`RpcCall::parse`] and [`RpcCall::intent`]: the JSON-RPC endpoint. The input is the body
/// alone.
pub fn rpc(data: &[u8]) {
    let _ = RpcCall::id_of(data);
    let Ok(call) = RpcCall::parse(data) else {
        return;
    };
    let body = json_bytes(&json!({
        "jsonrpc": tessera_wire::JSONRPC_VERSION,
        "id": call.id,
        "method": call.method.name(),
        "params": call.params,
    }));
    assert_eq!(RpcCall::parse(&body).as_ref(), Ok(&call), "round trip");
    let wallet = tessera_types::KeyId::new("w-fuzz").expect("a valid wallet id");
    let direct = call.clone().intent(wallet.clone());
    // The same call through the API path decodes to the same intent.
    let via_api = Intent::parse("POST", "/v1/wallets/w-fuzz/rpc", data, &request_id());
    assert_eq!(direct, via_api);
    if let Ok(intent) = direct {
        for scheme in Scheme::ALL {
            let _ = intent.message_for(scheme);
        }
    }
}
