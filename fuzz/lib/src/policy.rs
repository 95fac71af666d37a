//! Policy files: [`Policy::parse`], then an evaluation of the parsed policy against a few
//! requests, which must decide without panicking whatever the file said ("any error inside is a
//! deny"). Round trip: the policy keeps its text, and that text parses to the same policy.

use tessera_policy::{
    AssetAmount, Kind, MemoryHistory, Policy, Request, RiskLevel, TypedDataFacts, U256, evaluate,
};

use crate::auth::NOW;
use crate::split::text;

/// Requests of every kind, with amounts from one base unit to the largest.
fn requests() -> Vec<Request> {
    let base = Request {
        client: "trader".into(),
        wallet: "hot-1".into(),
        kind: Kind::Transfer,
        chain: Some("ethereum".into()),
        asset: Some("ETH".into()),
        to: Some("0x00000000000000000000000000000000000a11ce".into()),
        amount: Some(AssetAmount {
            base_units: U256::from(250_000_000_000_000_000u64),
            decimals: 18,
        }),
        typed_data: None,
        at: NOW,
    };
    let mut out = vec![base.clone()];
    out.push(Request {
        asset: Some("USDC".into()),
        amount: Some(AssetAmount {
            base_units: U256::MAX,
            decimals: 6,
        }),
        at: NOW + 43_200,
        ..base.clone()
    });
    out.push(Request {
        amount: Some(AssetAmount {
            base_units: U256::from(1u8),
            decimals: 0,
        }),
        ..base.clone()
    });
    for kind in [Kind::Raw, Kind::Message] {
        out.push(Request {
            kind,
            chain: None,
            asset: None,
            to: None,
            amount: None,
            ..base.clone()
        });
    }
    out.push(Request {
        kind: Kind::TypedData,
        asset: None,
        to: None,
        amount: None,
        typed_data: Some(TypedDataFacts {
            domain_name: Some("Ether Mail".into()),
            verifying_contract: Some("0xcccccccccccccccccccccccccccccccccccccccc".into()),
            primary_type: "Mail".into(),
        }),
        ..base
    });
    out
}

/// The target: the input is the file's text.
pub fn file(data: &[u8]) {
    let text = text(data);
    let Ok(policy) = Policy::parse(&text) else {
        return;
    };
    let again = Policy::parse(policy.text()).expect("a policy's own text parses");
    assert_eq!(again, policy, "round trip through the text");
    assert_eq!(again.hash(), policy.hash());
    let mut history = MemoryHistory::new();
    for request in requests() {
        for risk in [RiskLevel::Normal, RiskLevel::Elevated, RiskLevel::Critical] {
            let _ = evaluate(&request, &policy, &history, risk);
        }
        history.record(&request);
    }
    let _ = (
        policy.breakers(),
        policy.changes(),
        policy.cold_storage("ethereum"),
    );
    let _ = policy.approvals_expire_after();
}
