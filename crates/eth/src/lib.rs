//! Ethereum building blocks for Tessera's chain adapter, on alloy's lean crates: addresses and
//! amounts, unsigned EIP-1559 transactions and the exact bytes a signer signs, strict decoding of
//! what a transaction moves, EIP-712 and EIP-191 message hashes, a JSON-RPC client, and a local anvil
//! node for tests.
//!
//! Error codes are stable snake_case strings in [`EthError::code`].

mod abi;
mod address;
mod amount;
mod error;
mod message;
mod quantity;
mod rpc;
mod rpc_tx;
mod transfer;
mod tx;

pub mod anvil;
pub mod erc20;

pub use address::{address_of, checksummed, parse_address};
pub use alloy_primitives::{Address, B256, Bytes, U256};
pub use amount::{format_amount, parse_amount};
pub use error::EthError;
pub use message::{TypedDataSummary, personal_message_hash, typed_data_hash, typed_data_summary};
pub use rpc::{DEFAULT_TIMEOUT, FALLBACK_PRIORITY_FEE, Receipt, Rpc};
pub use rpc_tx::{RpcTx, rpc_json_sender};
pub use tx::{
    AssetKind, DecodedSigned, SignedTx, TransferSpec, TxFees, UnsignedTx, decode_signed,
    recover_sender,
};
