//! Ethereum transfers at the coordinator: from a client's request to a confirmed transaction.
//!
//! [`drive`] takes a recorded transfer through nonce assignment, the unsigned transaction,
//! threshold signing (each signer decodes and checks the transaction itself), a durable record
//! of the signed transaction and its broadcast. [`Ethereum::track_forever`] then follows every
//! open transfer: it re-sends a transaction the node dropped or a reorg undid, bumps the fees of
//! one that waits too long (a new version at the same nonce, signed again), marks it confirmed
//! at the configured depth, and finishes transfers a stopped coordinator left unsigned.
//!
//! The nonce rule: a transfer gets the lowest nonce at or above the node's next nonce for the
//! wallet (pending transactions counted) that no other live transfer holds. A transfer keeps its
//! nonce for all its versions; one that fails before anything signed for it can be mined gives
//! it back, so that a failed transfer never leaves a gap that blocks the wallet.

use std::sync::Arc;
use std::time::Duration;

use tessera_crypto::GroupKey;
use tessera_eth::{Address, AssetKind, EthError, Rpc, TransferSpec, TxFees, UnsignedTx};
use tessera_types::{KeyId, Scheme};
use tessera_wire::{NATIVE_DECIMALS, NATIVE_SYMBOL};

use crate::api::AppState;
use crate::cluster::{ClientRequest, ClusterError};
use crate::gateway_store::{GatewayError, OPEN, TransferRow, WalletRow};
use crate::unix_now;

/// The coordinator's link to an Ethereum node and how it follows transactions.
#[derive(Debug)]
pub struct Ethereum {
    /// The node.
    pub rpc: Rpc,
    /// The node's chain id, read at start.
    pub chain_id: u64,
    /// Blocks, counting the one that includes a transaction, before it is `confirmed`.
    pub confirmations: u64,
    /// How often open transfers are checked.
    pub poll: Duration,
    /// How long a broadcast transaction may wait unmined before its fees are bumped.
    pub bump_after: Duration,
}

/// Why a transfer could not move on now.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransferError {
    /// The transfer is refused for good and recorded `failed`.
    #[error("{code}: {message}")]
    Failed {
        /// Stable code.
        code: String,
        /// Why.
        message: String,
    },
    /// Something it needs is unavailable now (signers, the node): it stays as it is and is
    /// tried again.
    #[error("{code}: {message}")]
    Later {
        /// Stable code.
        code: String,
        /// Why.
        message: String,
    },
    /// The signers' policy holds it back: denied, rejected, or waiting for approvals.
    #[error("{}", .0.reason.as_deref().unwrap_or("the policy holds the transfer back"))]
    Held(tessera_wire::WireRuling),
}

impl TransferError {
    fn later(code: &str, message: impl Into<String>) -> Self {
        TransferError::Later {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn failed(code: &str, message: impl Into<String>) -> Self {
        TransferError::Failed {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<GatewayError> for TransferError {
    fn from(e: GatewayError) -> Self {
        TransferError::later("store_error", e.to_string())
    }
}

fn node_err(e: &EthError) -> TransferError {
    TransferError::later(
        "ethereum_unavailable",
        format!("the Ethereum node: {}: {}", e.code, e.message),
    )
}

/// The asset `symbol` names at this coordinator and its decimals.
pub(crate) fn resolve_asset(
    st: &AppState,
    symbol: &str,
) -> Result<Option<(AssetKind, u8)>, GatewayError> {
    if symbol == NATIVE_SYMBOL {
        return Ok(Some((AssetKind::Native, NATIVE_DECIMALS)));
    }
    let Some(a) = st.store.asset(symbol)? else {
        return Ok(None);
    };
    let contract = tessera_eth::parse_address(&a.contract)
        .map_err(|e| GatewayError::Corrupt(format!("asset `{symbol}`: {}", e.message)))?;
    Ok(Some((AssetKind::Erc20 { contract }, a.decimals)))
}

/// A wallet that can send on Ethereum: its key and address.
struct EthWallet {
    key_id: KeyId,
    group: GroupKey,
    address: Address,
}

fn eth_wallet(w: &WalletRow) -> Result<EthWallet, TransferError> {
    let corrupt = |what: String| TransferError::failed("store_error", what);
    let group = GroupKey::from_bytes(&w.group_key).map_err(|e| corrupt(e.to_string()))?;
    if group.scheme() != Scheme::EcdsaSecp256k1 {
        return Err(TransferError::failed(
            "unsupported_scheme",
            format!("wallet `{}` is not an Ethereum wallet", w.id),
        ));
    }
    Ok(EthWallet {
        key_id: KeyId::new(&w.id).map_err(|e| corrupt(e.to_string()))?,
        address: tessera_eth::address_of(&w.public_key).map_err(|e| corrupt(e.message))?,
        group,
    })
}

/// Takes transfer `request_id` as far as it goes now: to `broadcast` (or `signed` while the
/// node cannot be reached), or to `failed`. A transfer already past signing is returned as it
/// is. One at a time per transfer.
pub(crate) async fn drive(
    st: &Arc<AppState>,
    eth: &Ethereum,
    request_id: &str,
) -> Result<TransferRow, TransferError> {
    let lock = st.request_lock(request_id);
    let _guard = lock.lock().await;
    drive_locked(st, eth, request_id).await
}

async fn drive_locked(
    st: &Arc<AppState>,
    eth: &Ethereum,
    request_id: &str,
) -> Result<TransferRow, TransferError> {
    let t = current(st, request_id)?;
    if t.status != "pending_approval" {
        return Ok(t);
    }
    if t.nonce.is_none() {
        // The policy first: a transfer the signers hold back takes no nonce, so a transfer
        // waiting for approvals never holds up the ones after it.
        let request = st
            .store
            .request(request_id)?
            .ok_or_else(|| TransferError::later("store_error", "the request vanished"))?;
        let w = st
            .store
            .wallet(&t.wallet_id)?
            .ok_or_else(|| TransferError::failed("no_such_key", "the wallet is not known"))?;
        let need = usize::from(eth_wallet(&w)?.group.threshold().t());
        match st.cluster.rule(&ClientRequest::from(&request), need).await {
            Ok(crate::cluster::Ruled::Allowed(_)) => {
                crate::api::count_row(st, &request);
            }
            Ok(crate::cluster::Ruled::Not(r)) => return held(st, request_id, &r),
            Err(ClusterError::Refused { code, message }) => {
                st.store.fail_transfer(request_id, &code, &message, true)?;
                return current(st, request_id);
            }
            Err(e) => return Err(TransferError::later("signers_unavailable", e.to_string())),
        }
    }
    match sign_first(st, eth, &t).await {
        Ok(signed) => {
            broadcast(st, eth, &signed).await?;
            current(st, request_id)
        }
        Err(TransferError::Failed { code, message }) => {
            // Nothing signed for it exists: its nonce goes back to the wallet.
            st.store.fail_transfer(request_id, &code, &message, true)?;
            tracing::warn!(request_id, %code, %message, "transfer failed");
            current(st, request_id)
        }
        Err(TransferError::Held(r)) => held(st, request_id, &r),
        Err(later) => Err(later),
    }
}

/// Records the policy's hold on a transfer and returns it as it now stands.
fn held(
    st: &AppState,
    request_id: &str,
    r: &tessera_wire::WireRuling,
) -> Result<TransferRow, TransferError> {
    let held = crate::api::hold_ruling(st, request_id, r);
    st.store
        .hold_transfer(request_id, held.status, held.code, &held.reason)?;
    current(st, request_id)
}

fn current(st: &AppState, request_id: &str) -> Result<TransferRow, TransferError> {
    st.store
        .transfer(request_id)?
        .ok_or_else(|| TransferError::later("store_error", "the transfer vanished"))
}

/// Assigns the nonce and builds the transaction (once), then has the signers sign it.
async fn sign_first(
    st: &Arc<AppState>,
    eth: &Ethereum,
    t: &TransferRow,
) -> Result<TransferRow, TransferError> {
    let w = st
        .store
        .wallet(&t.wallet_id)?
        .ok_or_else(|| TransferError::failed("no_such_key", "the wallet is not known"))?;
    let wallet = eth_wallet(&w)?;
    let t = if t.unsigned_tx.is_some() {
        t.clone()
    } else {
        let (asset, decimals) = resolve_asset(st, &t.asset)?.ok_or_else(|| {
            TransferError::failed(
                "unknown_asset",
                format!("no asset `{}` is registered", t.asset),
            )
        })?;
        let amount = tessera_wire::parse_amount(&t.amount, decimals)
            .map_err(|e| TransferError::failed(e.code, e.message))?;
        let to = tessera_eth::parse_address(&t.to)
            .map_err(|e| TransferError::failed(e.code, e.message))?;
        let spec = TransferSpec {
            chain_id: eth.chain_id,
            to,
            asset,
            amount,
        };
        let chain_next = eth
            .rpc
            .nonce(wallet.address, true)
            .await
            .map_err(|e| node_err(&e))?;
        let fees = initial_fees(eth, wallet.address, &spec, chain_next).await?;
        st.store.assign_nonce(&t.request_id, chain_next, |nonce| {
            UnsignedTx::transfer(&spec, nonce, &fees).to_bytes()
        })?
    };
    let unsigned = t
        .unsigned_tx
        .clone()
        .ok_or_else(|| TransferError::later("store_error", "no transaction was recorded"))?;
    sign_version(st, &wallet, &t, &unsigned).await
}

/// Fees for a new transaction: the node's suggestion, and its gas estimate (with a fifth more
/// for anything but a plain ether payment, whose cost does not change).
async fn initial_fees(
    eth: &Ethereum,
    from: Address,
    spec: &TransferSpec,
    nonce: u64,
) -> Result<TxFees, TransferError> {
    let (max_fee, tip) = eth.rpc.suggest_fees().await.map_err(|e| node_err(&e))?;
    let draft = UnsignedTx::transfer(
        spec,
        nonce,
        &TxFees {
            gas_limit: 0,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
        },
    );
    let estimate = match eth.rpc.estimate_gas(from, &draft).await {
        Ok(g) => g,
        Err(e)
            if e.code == "rpc_error" && e.message.to_lowercase().contains("insufficient funds") =>
        {
            return Err(TransferError::failed(
                "insufficient_funds",
                "the wallet cannot pay the amount and the fees",
            ));
        }
        Err(e) if e.code == "rpc_error" => {
            // The node says the transaction would fail (a token balance too low, say).
            return Err(TransferError::failed(
                "would_fail",
                format!(
                    "the node refuses to estimate the transaction: {}",
                    e.message
                ),
            ));
        }
        Err(e) => return Err(node_err(&e)),
    };
    let gas_limit = if estimate == 21_000 {
        estimate
    } else {
        estimate.saturating_add(estimate / 5)
    };
    Ok(TxFees {
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
    })
}

/// Has the signers sign `unsigned` for transfer `t` and records the signed version.
async fn sign_version(
    st: &Arc<AppState>,
    wallet: &EthWallet,
    t: &TransferRow,
    unsigned: &[u8],
) -> Result<TransferRow, TransferError> {
    let tx = UnsignedTx::from_bytes(unsigned)
        .map_err(|e| TransferError::failed("store_error", e.message))?;
    let request = st
        .store
        .request(&t.request_id)?
        .ok_or_else(|| TransferError::later("store_error", "the request vanished"))?;
    let need = usize::from(wallet.group.threshold().t());
    let hash = tx.signing_hash().0;
    let result = async {
        let parties = st
            .cluster
            .register(&ClientRequest::from(&request), need)
            .await?;
        st.cluster
            .ecdsa_sign(
                &t.request_id,
                &wallet.key_id,
                &wallet.group,
                &hash,
                Some(unsigned),
                &parties,
            )
            .await
    }
    .await;
    let (sig, culprits) = match result {
        Ok(done) => done,
        Err(ClusterError::Refused { code, message }) => {
            return Err(TransferError::Failed { code, message });
        }
        Err(ClusterError::Unavailable(m)) => {
            return Err(TransferError::later("signers_unavailable", m));
        }
        Err(ClusterError::Failed { code, message, .. }) => {
            return Err(TransferError::Later { code, message });
        }
        Err(ClusterError::Ruled(r)) => return Err(TransferError::Held(r)),
    };
    if !culprits.is_empty() {
        tracing::warn!(request_id = %t.request_id, ?culprits, "signed after excluding signers that were blamed");
    }
    let (r, rest) = sig.split_at(32);
    let (s, v) = rest.split_at(32);
    let (Ok(r), Ok(s)) = (<[u8; 32]>::try_from(r), <[u8; 32]>::try_from(s)) else {
        return Err(TransferError::later(
            "bad_signature",
            "a malformed signature",
        ));
    };
    let signed = tx
        .into_signed(r, s, v.first().is_some_and(|b| *b == 1))
        .map_err(|e| TransferError::later("bad_signature", e.message))?;
    if signed.from != wallet.address {
        // The session's own check makes this unreachable; never broadcast such a transaction.
        return Err(TransferError::later(
            "bad_signature",
            "the signature recovers to another address",
        ));
    }
    let hash_hex = hex_0x(signed.hash.as_slice());
    Ok(st
        .store
        .record_signed(&t.request_id, &hash_hex, unsigned, &signed.raw)?)
}

/// Sends the current version of `t` to the node and records it. A node that cannot be reached
/// leaves the transfer `signed`, for the tracker to send later.
async fn broadcast(st: &AppState, eth: &Ethereum, t: &TransferRow) -> Result<(), TransferError> {
    let Some(raw) = &t.raw_tx else {
        return Ok(());
    };
    match eth.rpc.send_raw(raw).await {
        Ok(_) => {
            st.store.mark_broadcast(&t.request_id)?;
            tracing::info!(request_id = %t.request_id, tx_hash = ?t.tx_hash, nonce = ?t.nonce, "transaction broadcast");
            Ok(())
        }
        Err(e) if e.code == "already_known" => Ok(st.store.mark_broadcast(&t.request_id)?),
        Err(e) if e.code == "insufficient_funds" && t.block_number.is_none() => {
            st.store.fail_transfer(
                &t.request_id,
                "insufficient_funds",
                "the wallet cannot pay the amount and the fees",
                true,
            )?;
            Ok(())
        }
        Err(e) if e.code == "nonce_too_low" || e.code == "replacement_underpriced" => {
            // Mined already (the tracker finds which version), or the node holds another
            // version of ours: either way it stays with the tracker.
            st.store.mark_broadcast(&t.request_id)?;
            tracing::info!(request_id = %t.request_id, code = %e.code, "node has a transaction at this nonce");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(request_id = %t.request_id, code = %e.code, message = %e.message, "broadcast failed; will retry");
            Err(node_err(&e))
        }
    }
}

impl Ethereum {
    /// Follows open transfers until the task is dropped.
    pub async fn track_forever(self: Arc<Self>, st: Arc<AppState>) {
        let mut reported = crate::balances::Reported::new();
        loop {
            self.track_once(&st).await;
            self.watch_balances(&st, &mut reported).await;
            tokio::time::sleep(self.poll).await;
        }
    }

    /// One pass over every open transfer.
    pub async fn track_once(&self, st: &Arc<AppState>) {
        let open = match st.store.transfers_in(&OPEN) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "cannot read open transfers");
                return;
            }
        };
        if open.is_empty() {
            return;
        }
        let tip = match self.rpc.block_number().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(code = %e.code, message = %e.message, "Ethereum node unavailable");
                return;
            }
        };
        for t in open {
            let lock = st.request_lock(&t.request_id);
            // A transfer someone else is working on is left for the next pass.
            let Ok(_guard) = lock.try_lock() else {
                continue;
            };
            let result = match t.status.as_str() {
                "pending_approval" => drive_locked(st, self, &t.request_id).await.map(|_| ()),
                _ => self.follow(st, &t, tip).await,
            };
            if let Err(e) = result {
                tracing::debug!(request_id = %t.request_id, error = %e, "transfer waits");
            }
        }
    }

    /// Moves a signed or broadcast transfer on by what the node says of it.
    async fn follow(
        &self,
        st: &Arc<AppState>,
        t: &TransferRow,
        tip: u64,
    ) -> Result<(), TransferError> {
        let versions = st.store.versions(&t.request_id)?;
        let mut mined = None;
        for v in versions.iter().rev() {
            let hash = parse_hash(&v.tx_hash)?;
            if let Some(r) = self.rpc.receipt(hash).await.map_err(|e| node_err(&e))? {
                mined = Some((v.tx_hash.clone(), r));
                break;
            }
        }
        if let Some((hash, r)) = mined {
            let block = hex_0x(r.block_hash.as_slice());
            let depth = tip.saturating_add(1).saturating_sub(r.block_number);
            let outcome = if depth >= self.confirmations {
                if r.success {
                    Some(("confirmed", None))
                } else {
                    Some((
                        "failed",
                        Some("reverted: the transaction was mined and reverted"),
                    ))
                }
            } else {
                None
            };
            let changed = t.block_hash.as_deref() != Some(block.as_str())
                || t.tx_hash.as_deref() != Some(hash.as_str());
            if changed || outcome.is_some() {
                st.store.mark_mined(
                    &t.request_id,
                    Some((&hash, r.block_number, &block)),
                    outcome,
                )?;
                if let Some((status, _)) = outcome {
                    tracing::info!(request_id = %t.request_id, tx_hash = %hash, block = r.block_number, status, "transfer settled");
                }
            }
            return Ok(());
        }
        if t.block_number.is_some() {
            // It was mined, and no version is any more: the block left the chain.
            tracing::warn!(request_id = %t.request_id, block = ?t.block_number, "transaction undone by a reorg; sending it again");
            st.store.mark_mined(&t.request_id, None, None)?;
            return broadcast(st, self, t).await;
        }
        if t.status == "signed" {
            return broadcast(st, self, t).await;
        }
        let current = t
            .tx_hash
            .as_deref()
            .map(parse_hash)
            .transpose()?
            .ok_or_else(|| TransferError::later("store_error", "no transaction hash"))?;
        if !self
            .rpc
            .transaction_known(current)
            .await
            .map_err(|e| node_err(&e))?
        {
            tracing::info!(request_id = %t.request_id, "the node does not know the transaction; sending it again");
            return broadcast(st, self, t).await;
        }
        let waited = unix_now().saturating_sub(t.last_sent_at.unwrap_or(t.updated_at));
        if u64::try_from(waited).unwrap_or(0) >= self.bump_after.as_secs() {
            return self.bump(st, t).await;
        }
        Ok(())
    }

    /// Replaces the transaction of `t` with one at the same nonce paying more: both fees raised
    /// by more than 10%, or to the node's current suggestion if that is higher.
    async fn bump(&self, st: &Arc<AppState>, t: &TransferRow) -> Result<(), TransferError> {
        let unsigned = t
            .unsigned_tx
            .as_deref()
            .ok_or_else(|| TransferError::later("store_error", "no transaction was recorded"))?;
        let last = UnsignedTx::from_bytes(unsigned)
            .map_err(|e| TransferError::later("store_error", e.message))?;
        let (max_fee, tip) = self.rpc.suggest_fees().await.map_err(|e| node_err(&e))?;
        let raised = last.fees().bumped();
        let fees = TxFees {
            gas_limit: raised.gas_limit,
            max_fee_per_gas: raised.max_fee_per_gas.max(max_fee),
            max_priority_fee_per_gas: raised.max_priority_fee_per_gas.max(tip),
        };
        let next = last.with_fees(&fees).to_bytes();
        let w = st
            .store
            .wallet(&t.wallet_id)?
            .ok_or_else(|| TransferError::later("store_error", "the wallet vanished"))?;
        let wallet = eth_wallet(&w)?;
        match sign_version(st, &wallet, t, &next).await {
            Ok(signed) => {
                tracing::info!(request_id = %t.request_id, tx_hash = ?signed.tx_hash, max_fee_per_gas = fees.max_fee_per_gas, "fees bumped");
                broadcast(st, self, &signed).await
            }
            Err(TransferError::Failed { code, message }) => {
                // The signers will not sign a dearer version (their fee cap, or the number of
                // versions): the last one keeps waiting, and is asked about again later.
                tracing::warn!(request_id = %t.request_id, %code, %message, "fee bump refused");
                st.store.mark_broadcast(&t.request_id)?;
                Ok(())
            }
            Err(later) => Err(later),
        }
    }
}

/// `0x` and lower-case hex, as Ethereum tooling writes hashes.
fn hex_0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn parse_hash(h: &str) -> Result<tessera_eth::B256, TransferError> {
    h.parse()
        .map_err(|_| TransferError::later("store_error", format!("bad transaction hash `{h}`")))
}
