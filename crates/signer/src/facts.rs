//! What the policy is told about a request, built the same way by every signer (from its own
//! asset registry) and by the coordinator's pre-check (from its own).

use tessera_eth::{Address, AssetKind};
use tessera_policy::{AssetAmount, Kind, Request, TypedDataFacts};
use tessera_wire::{Chain, Intent, NATIVE_DECIMALS, NATIVE_SYMBOL};

/// Where the assets a request names are looked up.
pub trait AssetBook {
    /// The decimals of the asset `symbol` (ETH included), if it is known.
    fn decimals(&self, symbol: &str) -> Result<Option<u8>, String>;
    /// The symbol and decimals of the token at `contract`, if one is registered there.
    fn token_at(&self, contract: &Address) -> Result<Option<(String, u8)>, String>;
}

/// Why the facts of a request could not be established; the request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FactsError {
    /// Stable code (`unknown_asset`, `too_many_decimals`, `invalid_amount`, `store_error`).
    pub code: &'static str,
    /// Why.
    pub message: String,
}

/// The policy's view of `intent`, made by `client` at `now`: `None` for requests that roles
/// alone govern (new wallets, new assets). `chain_id` is the Ethereum chain a JSON-RPC
/// transaction is decoded for. A raw `payload_hex` signature, and any transaction that is not
/// a plain transfer of ETH or of a registered token, are of kind `raw`.
pub fn policy_request(
    client: &str,
    intent: &Intent,
    now: i64,
    chain_id: u64,
    book: &dyn AssetBook,
) -> Result<Option<Request>, FactsError> {
    let Some(wallet) = intent.wallet() else {
        return Ok(None);
    };
    let store = |message: String| FactsError {
        code: "store_error",
        message,
    };
    let ethereum = Some(Chain::Ethereum.name().to_owned());
    let mut facts = Request {
        client: client.to_owned(),
        wallet: wallet.to_string(),
        kind: Kind::Raw,
        chain: None,
        asset: None,
        to: None,
        amount: None,
        typed_data: None,
        at: now,
    };
    match intent {
        Intent::CreateWallet { .. } | Intent::AddAsset { .. } => return Ok(None),
        Intent::Sign { .. } => {}
        Intent::SignMessage { .. } => {
            facts.kind = Kind::Message;
            facts.chain = ethereum;
        }
        Intent::SignTypedData { summary, .. } => {
            facts.kind = Kind::TypedData;
            facts.chain = ethereum;
            facts.typed_data = Some(TypedDataFacts {
                domain_name: summary.domain_name.clone(),
                verifying_contract: summary.verifying_contract.map(|a| format!("{a:#x}")),
                primary_type: summary.primary_type.clone(),
            });
        }
        Intent::Transfer {
            to, asset, amount, ..
        } => {
            let decimals = book
                .decimals(asset)
                .map_err(store)?
                .ok_or_else(|| FactsError {
                    code: "unknown_asset",
                    message: format!("no asset `{asset}` is registered"),
                })?;
            let base_units =
                tessera_wire::parse_amount(amount, decimals).map_err(|e| FactsError {
                    code: e.code,
                    message: e.message,
                })?;
            facts.kind = Kind::Transfer;
            facts.chain = ethereum;
            facts.asset = Some(asset.clone());
            facts.to = Some(format!("{to:#x}"));
            facts.amount = Some(AssetAmount {
                base_units,
                decimals,
            });
        }
        Intent::SignTransaction { tx, .. } => {
            facts.chain = ethereum;
            if let Ok(spec) = tx.to_unsigned(chain_id).decode_transfer() {
                let asset = match spec.asset {
                    AssetKind::Native => Some((NATIVE_SYMBOL.to_owned(), NATIVE_DECIMALS)),
                    AssetKind::Erc20 { contract } => book.token_at(&contract).map_err(store)?,
                };
                if let Some((symbol, decimals)) = asset {
                    facts.kind = Kind::Transfer;
                    facts.asset = Some(symbol);
                    facts.to = Some(format!("{:#x}", spec.to));
                    facts.amount = Some(AssetAmount {
                        base_units: spec.amount,
                        decimals,
                    });
                }
            }
        }
    }
    Ok(Some(facts))
}
