//! The test token: a minimal ERC-20 whose Solidity source and compiled creation code are checked in
//! (`crates/eth/contracts/`, see its README for how it was compiled).

use alloy_primitives::{Address, U256, hex};
use alloy_sol_types::SolType;
use alloy_sol_types::sol_data;

use crate::error::{EthError, err};

/// The Solidity source of the test token.
pub const SOURCE: &str = include_str!("../contracts/TestToken.sol");
/// Its creation bytecode, hex without `0x`, as built by [`SOLC_VERSION`] from [`SOURCE`].
pub const BYTECODE_HEX: &str = include_str!("../contracts/TestToken.bin").trim_ascii();
/// The compiler that built [`BYTECODE_HEX`] (solc-js from the npm registry, optimizer on, 200 runs,
/// EVM version cancun).
pub const SOLC_VERSION: &str = "0.8.30+commit.73712a01";
/// The keccak-256 of the source the bytecode was built from, as solc recorded it.
pub const SOURCE_KECCAK256: &str =
    include_str!("../contracts/TestToken.source-keccak256").trim_ascii();

/// The data of a transaction that deploys the token: creation code followed by the ABI-encoded
/// constructor arguments `(name, symbol, decimals, holder, supply)`. The whole supply goes to
/// `initial_holder`. Code `invalid_bytecode` if the checked-in bytecode is not hex (a test prevents it).
pub fn deploy_data(
    name: &str,
    symbol: &str,
    decimals: u8,
    initial_holder: Address,
    initial_supply: U256,
) -> Result<Vec<u8>, EthError> {
    let mut data = hex::decode(BYTECODE_HEX)
        .map_err(|_| err("invalid_bytecode", "the test token's bytecode is not hex"))?;
    type Constructor = (
        sol_data::String,
        sol_data::String,
        sol_data::Uint<8>,
        sol_data::Address,
        sol_data::Uint<256>,
    );
    let args = (
        name.to_owned(),
        symbol.to_owned(),
        decimals,
        initial_holder,
        initial_supply,
    );
    data.extend_from_slice(&Constructor::abi_encode_params(&args));
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn bytecode_matches_source() {
        // An edit of TestToken.sol without recompiling (see contracts/README.md) fails here.
        assert_eq!(
            format!("{:#x}", keccak256(SOURCE.as_bytes())),
            SOURCE_KECCAK256,
            "contracts/TestToken.sol changed: recompile it as contracts/README.md says"
        );
        assert!(hex::decode(BYTECODE_HEX).is_ok());
        assert!(SOLC_VERSION.starts_with("0.8."));
    }

    #[test]
    fn deploy_data_appends_the_constructor_arguments() {
        let holder = Address::repeat_byte(0x11);
        let data = deploy_data("Test USD", "TUSD", 6, holder, U256::from(1_000_000u64)).unwrap();
        let code = hex::decode(BYTECODE_HEX).unwrap();
        assert!(data.starts_with(&code));
        let args = &data[code.len()..];
        // Five head words, then the two strings (length word and one data word each).
        assert_eq!(args.len(), 32 * (5 + 2 + 2));
        assert_eq!(&args[3 * 32 + 12..4 * 32], holder.as_slice());
    }
}
