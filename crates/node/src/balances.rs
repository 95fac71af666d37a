//! The coordinator's watch over the Ethereum wallets' balances, for the signers' breakers.
//!
//! Each pass reads every Ethereum wallet's balance (ETH and each registered token) and its
//! account nonce from the node, and tells every signer when a figure changed. Each signer then
//! measures the outflow share of a wallet's hot balance against it, and compares the account
//! nonce with the transactions it agreed to sign for the wallet: more on chain means the key
//! signed something outside Tessera, and the signer trips the wallet's breaker
//! (`balance_mismatch`). The coordinator is not trusted with either decision: a false figure
//! can trip a breaker, or fail to, but never lets a request through that a signer refuses.

use std::collections::HashMap;
use std::sync::Arc;

use tessera_types::{KeyId, Scheme};
use tessera_wire::{NATIVE_SYMBOL, Reply, Request};

use crate::api::AppState;
use crate::transfers::Ethereum;

/// What each signer was last told, per wallet and asset: the balance and the account nonce.
pub type Reported = HashMap<(String, String), (String, Option<u64>)>;

impl Ethereum {
    /// One pass over every Ethereum wallet's balances; `reported` remembers what every signer
    /// was told, so only changes are sent.
    pub async fn watch_balances(&self, st: &Arc<AppState>, reported: &mut Reported) {
        let wallets = match st.store.wallets() {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot read wallets for the balance watch");
                return;
            }
        };
        let tokens = st.store.assets().unwrap_or_default();
        for w in wallets
            .iter()
            .filter(|w| w.scheme == Scheme::EcdsaSecp256k1.name())
        {
            let (Ok(key), Ok(address)) =
                (KeyId::new(&w.id), tessera_eth::address_of(&w.public_key))
            else {
                continue;
            };
            let native = async {
                let balance = self.rpc.balance(address).await?;
                let nonce = self.rpc.nonce(address, false).await?;
                Ok::<_, tessera_eth::EthError>((balance, nonce))
            };
            match native.await {
                Ok((balance, nonce)) => {
                    report(
                        st,
                        reported,
                        &key,
                        NATIVE_SYMBOL,
                        balance.to_string(),
                        Some(nonce),
                    )
                    .await;
                }
                Err(e) => {
                    tracing::debug!(wallet = %w.id, code = %e.code, "balance unavailable");
                    continue;
                }
            }
            for t in &tokens {
                let Ok(contract) = tessera_eth::parse_address(&t.contract) else {
                    continue;
                };
                if let Ok(balance) = self.rpc.token_balance(contract, address).await {
                    report(st, reported, &key, &t.symbol, balance.to_string(), None).await;
                }
            }
        }
    }
}

/// Tells every signer a wallet's balance of `asset` when it changed since they were last told.
async fn report(
    st: &AppState,
    reported: &mut Reported,
    wallet: &KeyId,
    asset: &str,
    base_units: String,
    chain_nonce: Option<u64>,
) {
    let key = (wallet.to_string(), asset.to_owned());
    let figure = (base_units.clone(), chain_nonce);
    if reported.get(&key) == Some(&figure) {
        return;
    }
    let msg = Request::HotBalance {
        wallet: wallet.clone(),
        asset: asset.to_owned(),
        base_units,
        chain_nonce,
    };
    let scope = tessera_store::breakers::wallet_scope(wallet.as_str());
    let mut all = true;
    for (party, reply) in st.cluster.each(&msg).await {
        match reply {
            Ok(Reply::Breakers { breakers, .. }) => {
                if let Some(b) = breakers
                    .iter()
                    .find(|b| b.scope == scope && b.state == "tripped")
                {
                    tracing::warn!(party, wallet = %wallet, reason = %b.reason, "wallet breaker tripped at a signer");
                }
            }
            Ok(_) => {}
            Err(e) => {
                all = false;
                tracing::debug!(party, code = %e.code, "signer not told a balance");
            }
        }
    }
    if all {
        reported.insert(key, figure);
    }
}
