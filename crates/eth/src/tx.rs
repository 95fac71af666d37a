//! Unsigned EIP-1559 transactions: building, the exact bytes that are signed, strict decoding, and
//! turning a signature into the raw transaction a node accepts.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use alloy_rlp::Decodable;
use alloy_sol_types::SolCall;

use crate::abi;
use crate::error::{EthError, err};

/// The EIP-2718 type byte of an EIP-1559 transaction.
const EIP1559_TYPE: u8 = 0x02;

/// What a transfer moves: native ether or an ERC-20 token at `contract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    /// Ether, moved as the transaction's value.
    Native,
    /// An ERC-20 token, moved by calling `transfer(to, amount)` on its contract.
    Erc20 {
        /// The token contract.
        contract: Address,
    },
}

/// A transfer as a client asked for it, in base units.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransferSpec {
    /// The chain the transfer is for (EIP-155 chain id).
    pub chain_id: u64,
    /// The recipient (for a token: the token holder credited, not the contract).
    pub to: Address,
    /// Ether or which token.
    pub asset: AssetKind,
    /// Base units: wei, or the token's smallest unit.
    pub amount: U256,
}

/// Gas and fee fields chosen by whoever builds the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxFees {
    /// Most gas the transaction may use.
    pub gas_limit: u64,
    /// Most wei per gas paid in total (base fee plus tip).
    pub max_fee_per_gas: u128,
    /// Most wei per gas paid to the block producer above the base fee.
    pub max_priority_fee_per_gas: u128,
}

impl TxFees {
    /// Fees for a replacement of a transaction with these fees: both fee fields raised by more than
    /// 10 %, the least bump that nodes accept for a same-nonce replacement (geth and anvil).
    pub fn bumped(&self) -> TxFees {
        let bump = |fee: u128| fee.saturating_add(fee / 10).saturating_add(1);
        TxFees {
            gas_limit: self.gas_limit,
            max_fee_per_gas: bump(self.max_fee_per_gas),
            max_priority_fee_per_gas: bump(self.max_priority_fee_per_gas),
        }
    }
}

/// An unsigned EIP-1559 transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedTx(pub(crate) TxEip1559);

/// A signed transaction, ready for `eth_sendRawTransaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// The EIP-2718 envelope: `0x02 || rlp(fields, y_parity, r, s)`.
    pub raw: Vec<u8>,
    /// The transaction hash, keccak-256 of `raw`.
    pub hash: B256,
    /// The sender recovered from the signature.
    pub from: Address,
}

impl UnsignedTx {
    /// The transaction that makes the transfer `spec` with this nonce and these fees. Native: `to` the
    /// recipient, `value` the amount, no input. ERC-20: `to` the contract, `value` 0, input the
    /// `transfer(recipient, amount)` calldata. Never an access list.
    pub fn transfer(spec: &TransferSpec, nonce: u64, fees: &TxFees) -> UnsignedTx {
        let (to, value, input) = match spec.asset {
            AssetKind::Native => (spec.to, spec.amount, Bytes::new()),
            AssetKind::Erc20 { contract } => {
                let call = abi::transferCall {
                    to: spec.to,
                    amount: spec.amount,
                };
                (contract, U256::ZERO, Bytes::from(call.abi_encode()))
            }
        };
        UnsignedTx::new(spec.chain_id, nonce, fees, TxKind::Call(to), value, input)
    }

    /// A contract creation: `data` is the creation code followed by the constructor's arguments.
    pub fn deploy(chain_id: u64, nonce: u64, fees: &TxFees, data: Vec<u8>) -> UnsignedTx {
        UnsignedTx::new(
            chain_id,
            nonce,
            fees,
            TxKind::Create,
            U256::ZERO,
            Bytes::from(data),
        )
    }

    /// A transaction from its fields, without an access list.
    pub fn new(
        chain_id: u64,
        nonce: u64,
        fees: &TxFees,
        to: TxKind,
        value: U256,
        input: Bytes,
    ) -> UnsignedTx {
        UnsignedTx(TxEip1559 {
            chain_id,
            nonce,
            gas_limit: fees.gas_limit,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            to,
            value,
            access_list: Default::default(),
            input,
        })
    }

    /// The same transaction with other fees: a replacement for fee bumping keeps everything else,
    /// the nonce included.
    pub fn with_fees(&self, fees: &TxFees) -> UnsignedTx {
        let mut tx = self.0.clone();
        tx.gas_limit = fees.gas_limit;
        tx.max_fee_per_gas = fees.max_fee_per_gas;
        tx.max_priority_fee_per_gas = fees.max_priority_fee_per_gas;
        UnsignedTx(tx)
    }

    /// The EIP-2718 typed unsigned encoding `0x02 || rlp(fields)`: exactly the bytes whose keccak-256
    /// is [`UnsignedTx::signing_hash`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.payload_len_for_signature());
        self.0.encode_for_signing(&mut out);
        out
    }

    /// Decodes [`UnsignedTx::to_bytes`] strictly: type `0x02` only, canonical RLP, nothing after it.
    /// Codes: `unsupported_tx_type` for any other type (legacy included), `invalid_tx` otherwise.
    pub fn from_bytes(b: &[u8]) -> Result<UnsignedTx, EthError> {
        let Some((&ty, mut rest)) = b.split_first() else {
            return Err(err("invalid_tx", "empty transaction"));
        };
        if ty != EIP1559_TYPE {
            let what = if ty >= 0xc0 {
                "a legacy transaction".to_owned()
            } else {
                format!("transaction type {ty:#04x}")
            };
            return Err(err(
                "unsupported_tx_type",
                format!("{what} is not supported, only EIP-1559 (type 0x02)"),
            ));
        }
        let tx = TxEip1559::decode(&mut rest)
            .map_err(|e| err("invalid_tx", format!("malformed EIP-1559 transaction: {e}")))?;
        if !rest.is_empty() {
            return Err(err(
                "invalid_tx",
                format!("{} bytes after the transaction", rest.len()),
            ));
        }
        let tx = UnsignedTx(tx);
        if tx.to_bytes() != b {
            return Err(err("invalid_tx", "transaction is not canonically encoded"));
        }
        Ok(tx)
    }

    /// The hash an ECDSA signature for this transaction signs: keccak-256 of [`UnsignedTx::to_bytes`].
    pub fn signing_hash(&self) -> B256 {
        self.0.signature_hash()
    }

    /// The chain id the transaction is valid on.
    pub fn chain_id(&self) -> u64 {
        self.0.chain_id
    }

    /// The sender's nonce the transaction uses.
    pub fn nonce(&self) -> u64 {
        self.0.nonce
    }

    /// Gas limit and fee caps.
    pub fn fees(&self) -> TxFees {
        TxFees {
            gas_limit: self.0.gas_limit,
            max_fee_per_gas: self.0.max_fee_per_gas,
            max_priority_fee_per_gas: self.0.max_priority_fee_per_gas,
        }
    }

    /// The callee, or `None` for a contract creation.
    pub fn to(&self) -> Option<Address> {
        self.0.to.to().copied()
    }

    /// The wei sent along.
    pub fn value(&self) -> U256 {
        self.0.value
    }

    /// The calldata, or creation code for a contract creation.
    pub fn input(&self) -> &Bytes {
        &self.0.input
    }

    /// The alloy transaction inside.
    pub fn as_alloy(&self) -> &TxEip1559 {
        &self.0
    }

    /// The most the sender can pay: `gas_limit * max_fee_per_gas + value` (saturating).
    pub fn max_cost_wei(&self) -> U256 {
        U256::from(self.0.gas_limit)
            .saturating_mul(U256::from(self.0.max_fee_per_gas))
            .saturating_add(self.0.value)
    }

    /// The signed transaction, from an ECDSA signature `(r, s, y_parity)` over
    /// [`UnsignedTx::signing_hash`]. Codes: `invalid_signature` (r or s out of range, or no key
    /// recovers), `high_s` (s above half the curve order: normalize it and flip `y_parity`).
    pub fn into_signed(
        self,
        r: [u8; 32],
        s: [u8; 32],
        y_parity: bool,
    ) -> Result<SignedTx, EthError> {
        let signature = Signature::from_scalars_and_parity(B256::from(r), B256::from(s), y_parity);
        let ecdsa = signature.to_k256().map_err(|_| {
            err(
                "invalid_signature",
                "r or s is zero or not below the curve order",
            )
        })?;
        if ecdsa.normalize_s().is_some() {
            return Err(err(
                "high_s",
                "s is above half the curve order (EIP-2): normalize the signature",
            ));
        }
        let from = signature
            .recover_address_from_prehash(&self.signing_hash())
            .map_err(|_| {
                err(
                    "invalid_signature",
                    "no public key recovers from the signature",
                )
            })?;
        let envelope = TxEnvelope::from(self.0.into_signed(signature));
        Ok(SignedTx {
            raw: envelope.encoded_2718(),
            hash: *envelope.tx_hash(),
            from,
        })
    }
}

/// Recovers the sender of a signed raw transaction of any type (EIP-2718 envelope, or legacy RLP).
/// Codes: `invalid_tx` (undecodable, or bytes after it), `invalid_signature` (no sender recovers, or
/// high s).
pub fn recover_sender(raw: &[u8]) -> Result<Address, EthError> {
    let mut rest = raw;
    let envelope = TxEnvelope::decode_2718(&mut rest)
        .map_err(|e| err("invalid_tx", format!("malformed signed transaction: {e}")))?;
    if !rest.is_empty() {
        return Err(err(
            "invalid_tx",
            format!("{} bytes after the transaction", rest.len()),
        ));
    }
    envelope
        .recover_signer()
        .map_err(|_| err("invalid_signature", "no sender recovers from the signature"))
}

/// A signed EIP-1559 transaction taken apart: what was signed and the signature, so that a
/// verifier can recover the signer with a library of its choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSigned {
    /// The transaction without its signature.
    pub unsigned: UnsignedTx,
    /// The signature's `r`, big-endian.
    pub r: [u8; 32],
    /// The signature's `s`, big-endian.
    pub s: [u8; 32],
    /// The y parity of the signature's point (the recovery id).
    pub y_parity: bool,
    /// The transaction hash.
    pub hash: B256,
}

/// Decodes a signed EIP-1559 raw transaction. Codes: `invalid_tx` (undecodable, or bytes after
/// it), `unsupported_tx_type` (another type).
pub fn decode_signed(raw: &[u8]) -> Result<DecodedSigned, EthError> {
    let mut rest = raw;
    let envelope = TxEnvelope::decode_2718(&mut rest)
        .map_err(|e| err("invalid_tx", format!("malformed signed transaction: {e}")))?;
    if !rest.is_empty() {
        return Err(err(
            "invalid_tx",
            format!("{} bytes after the transaction", rest.len()),
        ));
    }
    let hash = *envelope.tx_hash();
    let TxEnvelope::Eip1559(signed) = envelope else {
        return Err(err(
            "unsupported_tx_type",
            "only EIP-1559 (type 2) transactions are decoded",
        ));
    };
    let sig = signed.signature();
    Ok(DecodedSigned {
        unsigned: UnsignedTx(signed.tx().clone()),
        r: sig.r().to_be_bytes(),
        s: sig.s().to_be_bytes(),
        y_parity: sig.v(),
        hash,
    })
}

#[cfg(test)]
#[path = "tx_tests.rs"]
mod tests;
