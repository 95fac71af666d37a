//! What a transaction moves, decoded back from its fields, and the check a signer makes before it
//! signs: the transaction is exactly the transfer that was asked for.

use alloy_primitives::TxKind;
use alloy_sol_types::SolCall;

use crate::abi;
use crate::address::checksummed;
use crate::error::{EthError, err};
use crate::tx::{AssetKind, TransferSpec, UnsignedTx};

impl UnsignedTx {
    /// Decodes what the transaction moves. Fails with `not_a_transfer` unless it is exactly a native
    /// transfer (a call with empty input, a nonzero value, no access list) or exactly an ERC-20
    /// `transfer(to, amount)` (canonical calldata, nonzero amount, value 0, no access list).
    pub fn decode_transfer(&self) -> Result<TransferSpec, EthError> {
        let tx = &self.0;
        let not_a_transfer = |why: &str| err("not_a_transfer", why.to_owned());
        let TxKind::Call(callee) = tx.to else {
            return Err(not_a_transfer("the transaction creates a contract"));
        };
        if !tx.access_list.0.is_empty() {
            return Err(not_a_transfer("the transaction has an access list"));
        }
        if tx.input.is_empty() {
            if tx.value.is_zero() {
                return Err(not_a_transfer("the transaction moves no ether"));
            }
            return Ok(TransferSpec {
                chain_id: tx.chain_id,
                to: callee,
                asset: AssetKind::Native,
                amount: tx.value,
            });
        }
        if !tx.value.is_zero() {
            return Err(not_a_transfer(
                "the transaction sends ether along with a call",
            ));
        }
        let call = abi::transferCall::abi_decode_validate(&tx.input)
            .map_err(|_| not_a_transfer("the calldata is not `transfer(address,uint256)`"))?;
        if call.abi_encode() != tx.input.as_ref() {
            return Err(not_a_transfer(
                "the `transfer` calldata is not canonically encoded",
            ));
        }
        if call.amount.is_zero() {
            return Err(not_a_transfer("the token transfer moves nothing"));
        }
        Ok(TransferSpec {
            chain_id: tx.chain_id,
            to: call.to,
            asset: AssetKind::Erc20 { contract: callee },
            amount: call.amount,
        })
    }

    /// Every field a signer must check before it signs: the decoded transfer equals `expected`
    /// (chain id, asset or token contract, recipient, amount) and the nonce is `expected_nonce`.
    /// The error names the first field that differs, in that order: `not_a_transfer`,
    /// `wrong_chain`, `wrong_asset`, `wrong_recipient`, `wrong_amount`, `wrong_nonce`.
    pub fn check_transfer(
        &self,
        expected: &TransferSpec,
        expected_nonce: u64,
    ) -> Result<(), EthError> {
        let got = self.decode_transfer()?;
        if got.chain_id != expected.chain_id {
            return Err(err(
                "wrong_chain",
                format!(
                    "the transaction is for chain {}, the request for chain {}",
                    got.chain_id, expected.chain_id
                ),
            ));
        }
        if got.asset != expected.asset {
            return Err(err(
                "wrong_asset",
                format!(
                    "the transaction moves {}, the request {}",
                    describe(got.asset),
                    describe(expected.asset)
                ),
            ));
        }
        if got.to != expected.to {
            return Err(err(
                "wrong_recipient",
                format!(
                    "the transaction pays {}, the request {}",
                    checksummed(&got.to),
                    checksummed(&expected.to)
                ),
            ));
        }
        if got.amount != expected.amount {
            return Err(err(
                "wrong_amount",
                format!(
                    "the transaction moves {} base units, the request {}",
                    got.amount, expected.amount
                ),
            ));
        }
        if self.nonce() != expected_nonce {
            return Err(err(
                "wrong_nonce",
                format!(
                    "the transaction has nonce {}, expected {expected_nonce}",
                    self.nonce()
                ),
            ));
        }
        Ok(())
    }
}

fn describe(asset: AssetKind) -> String {
    match asset {
        AssetKind::Native => "ether".to_owned(),
        AssetKind::Erc20 { contract } => format!("the token at {}", checksummed(&contract)),
    }
}
