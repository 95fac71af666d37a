//! Against a real node: anvil, installed by `scripts/install-anvil`, each test on its own instance.
//! The tests skip, loudly, only when no anvil binary exists and neither `TESSERA_ANVIL` nor
//! `TESSERA_REQUIRE_ANVIL` is set; `.ci/run` sets both, so CI never skips.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::io::Write;

use k256::ecdsa::SigningKey;
use serde_json::json;
use tessera_eth::anvil::{self, Anvil};
use tessera_eth::{
    Address, AssetKind, EthError, Rpc, SignedTx, TransferSpec, TxFees, U256, UnsignedTx,
    address_of, checksummed, erc20, recover_sender,
};

const ETHER: u64 = 1_000_000_000_000_000_000;

/// Fees of a draft built only to ask the node for a gas estimate.
const NO_FEES: TxFees = TxFees {
    gas_limit: 0,
    max_fee_per_gas: 0,
    max_priority_fee_per_gas: 0,
};

/// A fresh anvil, or `None` when the test may be skipped.
fn node() -> Option<(Anvil, Rpc)> {
    if let Err(e) = anvil::binary() {
        let required = std::env::var_os("TESSERA_REQUIRE_ANVIL").is_some()
            || std::env::var_os("TESSERA_ANVIL").is_some();
        if required {
            panic!("anvil is required here: {e}");
        }
        // Straight to the process's stderr, past the test harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n********\n* SKIPPED: no anvil binary ({e})\n* run scripts/install-anvil to run this test\n********"
        );
        return None;
    }
    let node = Anvil::start().expect("anvil starts");
    let rpc = node.rpc().unwrap();
    Some((node, rpc))
}

struct Wallet {
    key: SigningKey,
    address: Address,
}

fn fresh_wallet() -> Wallet {
    let key = SigningKey::random(&mut rand_core::OsRng);
    let address = address_of(&key.verifying_key().to_sec1_bytes()).unwrap();
    Wallet { key, address }
}

async fn fund(rpc: &Rpc, who: Address, wei: U256) {
    rpc.call_raw(
        "anvil_setBalance",
        json!([checksummed(&who), format!("{wei:#x}")]),
    )
    .await
    .unwrap();
}

/// Signs the signing hash as a signer does: prehash, recoverable, low-S.
fn sign(tx: UnsignedTx, key: &SigningKey) -> SignedTx {
    let (sig, recid) = key
        .sign_prehash_recoverable(tx.signing_hash().as_slice())
        .unwrap();
    let (sig, y_parity) = match sig.normalize_s() {
        Some(low) => (low, !recid.is_y_odd()),
        None => (sig, recid.is_y_odd()),
    };
    let (r, s) = sig.split_bytes();
    tx.into_signed(r.into(), s.into(), y_parity).unwrap()
}

/// Suggested fees and the node's gas estimate for `tx`.
async fn fees_for(rpc: &Rpc, from: Address, tx: &UnsignedTx) -> TxFees {
    let (max_fee_per_gas, max_priority_fee_per_gas) = rpc.suggest_fees().await.unwrap();
    assert!(max_fee_per_gas >= max_priority_fee_per_gas);
    TxFees {
        gas_limit: rpc.estimate_gas(from, tx).await.unwrap(),
        max_fee_per_gas,
        max_priority_fee_per_gas,
    }
}

/// Builds, checks, signs and sends the transfer; returns what was sent.
async fn send_transfer(rpc: &Rpc, wallet: &Wallet, spec: &TransferSpec) -> SignedTx {
    let nonce = rpc.nonce(wallet.address, true).await.unwrap();
    let draft = UnsignedTx::transfer(spec, nonce, &NO_FEES);
    let fees = fees_for(rpc, wallet.address, &draft).await;
    let tx = UnsignedTx::transfer(spec, nonce, &fees);
    tx.check_transfer(spec, nonce).unwrap();
    // What a signer receives is the bytes: they decode to the same transaction.
    let tx = UnsignedTx::from_bytes(&tx.to_bytes()).unwrap();
    let signed = sign(tx, &wallet.key);
    assert_eq!(signed.from, wallet.address);
    assert_eq!(recover_sender(&signed.raw).unwrap(), wallet.address);
    let hash = rpc.send_raw(&signed.raw).await.unwrap();
    assert_eq!(hash, signed.hash);
    signed
}

/// The receipt, once mined: anvil's automine mines right after it answers `eth_sendRawTransaction`.
async fn mined(rpc: &Rpc, hash: tessera_eth::B256) -> tessera_eth::Receipt {
    for _ in 0..250 {
        if let Some(receipt) = rpc.receipt(hash).await.unwrap() {
            return receipt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{hash} not mined within 5 s");
}

async fn send_err(rpc: &Rpc, signed: &SignedTx) -> EthError {
    rpc.send_raw(&signed.raw).await.unwrap_err()
}

#[tokio::test]
async fn chain_id_blocks_and_a_second_chain() {
    let Some((node, rpc)) = node() else { return };
    assert_eq!(rpc.chain_id().await.unwrap(), 31337);
    assert_eq!(node.chain_id(), 31337);
    assert_eq!(rpc.block_number().await.unwrap(), 0);
    let genesis = rpc.block_hash(0).await.unwrap();
    assert!(genesis.is_some());
    assert_eq!(rpc.block_hash(1_000).await.unwrap(), None);

    let other = Anvil::start_with(&["--chain-id", "1337"]).unwrap();
    assert_ne!(other.port(), node.port());
    assert_eq!(other.chain_id(), 1337);
    assert_eq!(other.rpc().unwrap().chain_id().await.unwrap(), 1337);
}

#[tokio::test]
async fn native_transfer_moves_exactly_the_amount() {
    let Some((node, rpc)) = node() else { return };
    let wallet = fresh_wallet();
    let start = U256::from(10 * ETHER);
    fund(&rpc, wallet.address, start).await;
    assert_eq!(rpc.balance(wallet.address).await.unwrap(), start);

    let to = fresh_wallet().address;
    let amount = tessera_eth::parse_amount("0.25", 18).unwrap();
    let spec = TransferSpec {
        chain_id: node.chain_id(),
        to,
        asset: AssetKind::Native,
        amount,
    };
    let signed = send_transfer(&rpc, &wallet, &spec).await;

    // anvil mines each transaction as it arrives.
    let receipt = mined(&rpc, signed.hash).await;
    assert!(receipt.success);
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(
        rpc.block_hash(receipt.block_number).await.unwrap(),
        Some(receipt.block_hash)
    );
    assert!(rpc.transaction_known(signed.hash).await.unwrap());
    assert_eq!(rpc.balance(to).await.unwrap(), amount);
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        rpc.balance(wallet.address).await.unwrap(),
        start - amount - fee
    );
    assert_eq!(rpc.nonce(wallet.address, false).await.unwrap(), 1);
}

#[tokio::test]
async fn erc20_deploy_and_transfer() {
    let Some((node, rpc)) = node() else { return };
    let wallet = fresh_wallet();
    fund(&rpc, wallet.address, U256::from(10 * ETHER)).await;

    let supply = tessera_eth::parse_amount("1000000", 6).unwrap();
    let data = erc20::deploy_data("Test USD", "TUSD", 6, wallet.address, supply).unwrap();
    let draft = UnsignedTx::deploy(node.chain_id(), 0, &NO_FEES, data.clone());
    let fees = fees_for(&rpc, wallet.address, &draft).await;
    let deploy = sign(
        UnsignedTx::deploy(node.chain_id(), 0, &fees, data),
        &wallet.key,
    );
    assert_eq!(deploy.from, wallet.address);
    rpc.send_raw(&deploy.raw).await.unwrap();
    let receipt = mined(&rpc, deploy.hash).await;
    assert!(receipt.success);
    let token = receipt.contract_address.expect("a contract address");
    assert_eq!(
        rpc.token_balance(token, wallet.address).await.unwrap(),
        supply
    );

    let to = fresh_wallet().address;
    let amount = tessera_eth::parse_amount("12.5", 6).unwrap();
    let spec = TransferSpec {
        chain_id: node.chain_id(),
        to,
        asset: AssetKind::Erc20 { contract: token },
        amount,
    };
    let signed = send_transfer(&rpc, &wallet, &spec).await;
    let receipt = mined(&rpc, signed.hash).await;
    assert!(receipt.success);
    assert_eq!(rpc.token_balance(token, to).await.unwrap(), amount);
    assert_eq!(
        rpc.token_balance(token, wallet.address).await.unwrap(),
        supply - amount
    );

    // A transfer of more tokens than held is mined but reverts: the node's estimate refuses it first.
    let too_much = TransferSpec {
        amount: supply,
        ..spec
    };
    let draft = UnsignedTx::transfer(&too_much, 2, &NO_FEES);
    let e = rpc.estimate_gas(wallet.address, &draft).await.unwrap_err();
    assert_eq!(e.code, "rpc_error", "{e}");
}

#[tokio::test]
async fn a_replacement_with_higher_fees_is_mined_instead() {
    let Some((node, rpc)) = node() else { return };
    let wallet = fresh_wallet();
    fund(&rpc, wallet.address, U256::from(10 * ETHER)).await;
    rpc.call_raw("evm_setAutomine", json!([false]))
        .await
        .unwrap();

    let to = fresh_wallet().address;
    let spec = |wei: u64| TransferSpec {
        chain_id: node.chain_id(),
        to,
        asset: AssetKind::Native,
        amount: U256::from(wei),
    };
    let (max_fee_per_gas, max_priority_fee_per_gas) = rpc.suggest_fees().await.unwrap();
    let fees = TxFees {
        gas_limit: 21_000,
        max_fee_per_gas,
        max_priority_fee_per_gas,
    };
    let first = sign(UnsignedTx::transfer(&spec(1), 0, &fees), &wallet.key);
    rpc.send_raw(&first.raw).await.unwrap();
    assert!(rpc.transaction_known(first.hash).await.unwrap());
    assert_eq!(rpc.nonce(wallet.address, true).await.unwrap(), 1);
    assert_eq!(rpc.nonce(wallet.address, false).await.unwrap(), 0);

    // The same nonce at the same fees is not a replacement the node takes.
    let same_fees = sign(UnsignedTx::transfer(&spec(2), 0, &fees), &wallet.key);
    assert_eq!(
        send_err(&rpc, &same_fees).await.code,
        "replacement_underpriced"
    );

    let bumped = UnsignedTx::transfer(&spec(1), 0, &fees).with_fees(&fees.bumped());
    let replacement = sign(bumped, &wallet.key);
    rpc.send_raw(&replacement.raw).await.unwrap();
    rpc.call_raw("evm_mine", json!([])).await.unwrap();

    let receipt = mined(&rpc, replacement.hash).await;
    assert!(receipt.success);
    assert!(receipt.effective_gas_price > 0);
    assert_eq!(rpc.receipt(first.hash).await.unwrap(), None);
    assert!(!rpc.transaction_known(first.hash).await.unwrap());
    assert_eq!(rpc.balance(to).await.unwrap(), U256::from(1u8));
}

#[tokio::test]
async fn refusals_keep_the_node_message_with_a_code() {
    let Some((node, rpc)) = node() else { return };
    let wallet = fresh_wallet();
    fund(&rpc, wallet.address, U256::from(ETHER)).await;
    let to = fresh_wallet().address;
    let spec = |wei: u64| TransferSpec {
        chain_id: node.chain_id(),
        to,
        asset: AssetKind::Native,
        amount: U256::from(wei),
    };
    let first = send_transfer(&rpc, &wallet, &spec(5)).await;
    assert!(mined(&rpc, first.hash).await.success);

    // The nonce 0 again, for another transfer.
    let fees = TxFees {
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
    };
    let reuse = sign(UnsignedTx::transfer(&spec(6), 0, &fees), &wallet.key);
    let e = send_err(&rpc, &reuse).await;
    assert_eq!(e.code, "nonce_too_low", "{e}");
    assert!(!e.message.is_empty());

    // More than the balance.
    let broke = fresh_wallet();
    let unfunded = sign(UnsignedTx::transfer(&spec(1), 0, &fees), &broke.key);
    let e = send_err(&rpc, &unfunded).await;
    assert_eq!(e.code, "insufficient_funds", "{e}");

    // A transaction for another chain.
    let other_chain = TransferSpec {
        chain_id: 1,
        ..spec(1)
    };
    let wrong = sign(UnsignedTx::transfer(&other_chain, 1, &fees), &wallet.key);
    assert_eq!(send_err(&rpc, &wrong).await.code, "rpc_error");
}

#[tokio::test]
async fn dropped_and_reorged_transactions_disappear() {
    let Some((node, rpc)) = node() else { return };
    let wallet = fresh_wallet();
    fund(&rpc, wallet.address, U256::from(ETHER)).await;
    let spec = TransferSpec {
        chain_id: node.chain_id(),
        to: fresh_wallet().address,
        asset: AssetKind::Native,
        amount: U256::from(7u8),
    };

    // A reorg: the block that included the transfer is replaced.
    let snapshot = rpc.call_raw("evm_snapshot", json!([])).await.unwrap();
    let signed = send_transfer(&rpc, &wallet, &spec).await;
    let receipt = mined(&rpc, signed.hash).await;
    rpc.call_raw("evm_revert", json!([snapshot])).await.unwrap();
    assert_eq!(rpc.receipt(signed.hash).await.unwrap(), None);
    rpc.call_raw("evm_mine", json!([])).await.unwrap();
    // anvil forgets a reverted transaction entirely (a real reorg usually returns it to the pool):
    // the adapter must be ready to broadcast it again.
    assert!(!rpc.transaction_known(signed.hash).await.unwrap());
    let now = rpc.block_hash(receipt.block_number).await.unwrap();
    assert_ne!(now, Some(receipt.block_hash));

    // A pending transaction the node drops is no longer known.
    rpc.call_raw("evm_setAutomine", json!([false]))
        .await
        .unwrap();
    let signed = send_transfer(&rpc, &wallet, &spec).await;
    assert!(rpc.transaction_known(signed.hash).await.unwrap());
    rpc.call_raw(
        "anvil_dropTransaction",
        json!([format!("{:#x}", signed.hash)]),
    )
    .await
    .unwrap();
    assert!(!rpc.transaction_known(signed.hash).await.unwrap());
}
