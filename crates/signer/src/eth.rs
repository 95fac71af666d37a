//! What a signer checks before it signs an Ethereum transaction: that the coordinator's
//! unsigned transaction is exactly the transfer a client asked for, on this signer's chain, at
//! the one nonce bound to the request, with fees under this signer's cap; or, for a JSON-RPC
//! `eth_signTransaction`, exactly the transaction the client spelled out, from this wallet.

use tessera_crypto::GroupKey;
use tessera_eth::{Address, AssetKind, RpcTx, TransferSpec, U256, UnsignedTx};
use tessera_store::{EthTxRecord, RequestRecord, Store};
use tessera_types::KeyId;
use tessera_wire::{Chain, Intent, NATIVE_DECIMALS, NATIVE_SYMBOL};

use crate::SignerError;

/// Versions of one transfer's transaction a signer signs: the first and up to four fee bumps.
pub const MAX_TX_VERSIONS: usize = 5;

/// A replacement must raise both fee fields by at least this share (in percent of the last
/// version's), as nodes require to accept it.
const BUMP_PERCENT: u128 = 110;

/// This signer's Ethereum rules, from its own configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthereumRules {
    /// The chain id every transaction must carry (EIP-155 replay protection).
    pub chain_id: u64,
    /// The most a transaction may spend on gas: `gas_limit * max_fee_per_gas`, in wei.
    pub max_tx_fee_wei: u128,
}

fn refuse(code: &'static str, message: impl Into<String>) -> SignerError {
    SignerError::Transaction {
        code,
        message: message.into(),
    }
}

/// The asset a symbol names on this signer: ETH, or a token an admin registered here.
pub(crate) fn resolve_asset(store: &Store, symbol: &str) -> Result<(AssetKind, u8), SignerError> {
    if symbol == NATIVE_SYMBOL {
        return Ok((AssetKind::Native, NATIVE_DECIMALS));
    }
    let asset = store
        .asset(Chain::Ethereum.name(), symbol)?
        .ok_or_else(|| {
            refuse(
                "unknown_asset",
                format!("no asset `{symbol}` is registered"),
            )
        })?;
    let contract = tessera_eth::parse_address(&asset.contract).map_err(|e| {
        SignerError::Store(tessera_store::StoreError::Corrupt(format!(
            "asset `{symbol}`: {}",
            e.message
        )))
    })?;
    Ok((AssetKind::Erc20 { contract }, asset.decimals))
}

/// The transfer a registered request asks for, resolved against this signer's registry.
pub(crate) fn requested_transfer(
    store: &Store,
    rules: &EthereumRules,
    intent: &Intent,
) -> Result<TransferSpec, SignerError> {
    let Intent::Transfer {
        to, asset, amount, ..
    } = intent
    else {
        return Err(SignerError::NotAsked(
            "the request is not a transfer".into(),
        ));
    };
    let (kind, decimals) = resolve_asset(store, asset)?;
    let amount: U256 = tessera_wire::parse_amount(amount, decimals)?;
    Ok(TransferSpec {
        chain_id: rules.chain_id,
        to: *to,
        asset: kind,
        amount,
    })
}

/// The Ethereum address of a wallet, computed from this signer's own record of its key.
pub(crate) fn key_address(group: &GroupKey) -> Result<Address, SignerError> {
    tessera_eth::address_of(&group.public_key()).map_err(|e| refuse(e.code, e.message))
}

/// The account a client named must be the wallet's own address (`wrong_account`).
pub(crate) fn check_account(key: &Address, named: &Address) -> Result<(), SignerError> {
    if key == named {
        return Ok(());
    }
    Err(refuse(
        "wrong_account",
        format!(
            "the request names account {}, the wallet's address is {}",
            tessera_eth::checksummed(named),
            tessera_eth::checksummed(key)
        ),
    ))
}

/// Checks `unsigned` for transaction request `req` (a transfer, or an `eth_signTransaction`
/// whose wallet has address `key`) and binds it; returns the bound record and how many versions
/// of its transaction the request may sign.
pub(crate) fn check_and_bind_any(
    store: &mut Store,
    rules: &EthereumRules,
    req: &RequestRecord,
    key_id: &KeyId,
    key: &Address,
    intent: &Intent,
    unsigned: &[u8],
) -> Result<(EthTxRecord, usize), SignerError> {
    match intent {
        Intent::SignTransaction { from, tx, .. } => {
            check_account(key, from)?;
            let bound = check_and_bind_rpc(store, rules, req, key_id, tx, unsigned)?;
            Ok((bound, 1))
        }
        _ => Ok((
            check_and_bind(store, rules, req, key_id, intent, unsigned)?,
            MAX_TX_VERSIONS,
        )),
    }
}

/// Checks `unsigned` against the transaction `asked` of an `eth_signTransaction` request and
/// binds it: every field must be the client's, the chain id this signer's, the fees under the
/// cap. The client fixed every field, so a request has one transaction only
/// (`tx_already_bound` for any other). The same transaction asked for again by another request
/// of the wallet (a client retrying with a new token) is what both asked for: it stays bound
/// to the first.
fn check_and_bind_rpc(
    store: &mut Store,
    rules: &EthereumRules,
    req: &RequestRecord,
    key_id: &KeyId,
    asked: &RpcTx,
    unsigned: &[u8],
) -> Result<EthTxRecord, SignerError> {
    let tx = UnsignedTx::from_bytes(unsigned).map_err(|e| refuse(e.code, e.message))?;
    asked
        .check(&tx, rules.chain_id)
        .map_err(|e| refuse(e.code, e.message))?;
    check_fee_cap(rules, &tx)?;
    let hash = tx.signing_hash().0;
    if let Some(same) = store.eth_tx(&hash)?.filter(|b| b.key_id == *key_id) {
        return Ok(same);
    }
    if !store.eth_txs(&req.request_id)?.is_empty() {
        return Err(refuse(
            "tx_already_bound",
            format!(
                "request `{}` is bound to another transaction",
                req.request_id
            ),
        ));
    }
    bind(store, req, key_id, &tx, unsigned)
}

fn check_fee_cap(rules: &EthereumRules, tx: &UnsignedTx) -> Result<(), SignerError> {
    let fees = tx.fees();
    let max_cost = u128::from(fees.gas_limit).checked_mul(fees.max_fee_per_gas);
    if max_cost.is_none_or(|c| c > rules.max_tx_fee_wei) {
        return Err(refuse(
            "fee_too_high",
            format!(
                "the transaction may spend up to {} wei on gas; this signer's cap is {} wei",
                max_cost.map_or_else(|| "more than 2^128".to_owned(), |c| c.to_string()),
                rules.max_tx_fee_wei
            ),
        ));
    }
    Ok(())
}

fn bind(
    store: &mut Store,
    req: &RequestRecord,
    key_id: &KeyId,
    tx: &UnsignedTx,
    unsigned: &[u8],
) -> Result<EthTxRecord, SignerError> {
    let fees = tx.fees();
    Ok(store.bind_eth_tx(&EthTxRecord {
        signing_hash: tx.signing_hash().0,
        request_id: req.request_id.clone(),
        key_id: key_id.clone(),
        nonce: tx.nonce(),
        max_fee: fees.max_fee_per_gas,
        priority_fee: fees.max_priority_fee_per_gas,
        unsigned_tx: unsigned.to_vec(),
        signature: None,
    })?)
}

/// Checks `unsigned` against transfer request `req` and binds it to the request: the decoded
/// recipient, asset, amount and chain id must be the request's, the nonce the one bound to the
/// request by its first transaction, the fees under the cap, and a new version of the
/// transaction must raise both fees by 10% over the last one. Returns the bound record.
fn check_and_bind(
    store: &mut Store,
    rules: &EthereumRules,
    req: &RequestRecord,
    key_id: &KeyId,
    intent: &Intent,
    unsigned: &[u8],
) -> Result<EthTxRecord, SignerError> {
    let expected = requested_transfer(store, rules, intent)?;
    let tx = UnsignedTx::from_bytes(unsigned).map_err(|e| refuse(e.code, e.message))?;
    let bound = store.eth_txs(&req.request_id)?;
    let nonce = bound.first().map_or(tx.nonce(), |b| b.nonce);
    tx.check_transfer(&expected, nonce)
        .map_err(|e| refuse(e.code, e.message))?;
    check_fee_cap(rules, &tx)?;
    let fees = tx.fees();
    let hash = tx.signing_hash().0;
    if let Some(same) = bound.iter().find(|b| b.signing_hash == hash) {
        return Ok(same.clone());
    }
    if bound.len() >= MAX_TX_VERSIONS {
        return Err(refuse(
            "too_many_fee_bumps",
            format!(
                "request `{}` has {MAX_TX_VERSIONS} versions of its transaction already",
                req.request_id
            ),
        ));
    }
    if let Some(last) = bound.last() {
        let raised = |new: u128, old: u128| {
            old.checked_mul(BUMP_PERCENT)
                .is_some_and(|min| new.saturating_mul(100) >= min)
        };
        if !raised(fees.max_fee_per_gas, last.max_fee)
            || !raised(fees.max_priority_fee_per_gas, last.priority_fee)
        {
            return Err(refuse(
                "fee_bump_too_small",
                format!(
                    "a new version of the transaction must raise both fees by 10% over {} and {} wei",
                    last.max_fee, last.priority_fee
                ),
            ));
        }
    }
    bind(store, req, key_id, &tx, unsigned)
}
