//! Off-chain messages: EIP-712 typed data (`eth_signTypedData_v4`) and EIP-191 personal messages
//! (`eth_sign`, `personal_sign`).

use alloy_dyn_abi::TypedData;
use alloy_primitives::{Address, B256, eip191_hash_message};
use serde_json::Value;

use crate::error::{EthError, err};

/// What policy can see of typed data before it is signed: its domain and primary type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedDataSummary {
    /// `domain.name`: the signing domain's name, usually the venue or protocol.
    pub domain_name: Option<String>,
    /// `domain.version`.
    pub domain_version: Option<String>,
    /// `domain.chainId`.
    pub chain_id: Option<u64>,
    /// `domain.verifyingContract`.
    pub verifying_contract: Option<Address>,
    /// `domain.salt`.
    pub salt: Option<B256>,
    /// The type of `message`, for example `Order`.
    pub primary_type: String,
}

fn parse(typed_data: &Value) -> Result<TypedData, EthError> {
    let parsed: TypedData = serde_json::from_value(typed_data.clone())
        .map_err(|e| err("invalid_typed_data", format!("not EIP-712 typed data: {e}")))?;
    Ok(parsed)
}

/// The EIP-712 signing hash `keccak256(0x19 0x01 || domainSeparator || hashStruct(message))` of typed
/// data in the JSON shape of `eth_signTypedData_v4` (`types`, `primaryType`, `domain`, `message`).
/// Code `invalid_typed_data`.
pub fn typed_data_hash(typed_data: &Value) -> Result<B256, EthError> {
    parse(typed_data)?.eip712_signing_hash().map_err(|e| {
        err(
            "invalid_typed_data",
            format!("cannot hash the typed data: {e}"),
        )
    })
}

/// The domain and primary type of typed data, for policy. It also checks that the typed data hashes,
/// so that a summary is never shown for data that cannot be signed. Code `invalid_typed_data`.
pub fn typed_data_summary(typed_data: &Value) -> Result<TypedDataSummary, EthError> {
    let parsed = parse(typed_data)?;
    parsed.eip712_signing_hash().map_err(|e| {
        err(
            "invalid_typed_data",
            format!("cannot hash the typed data: {e}"),
        )
    })?;
    let domain = &parsed.domain;
    let chain_id = domain
        .chain_id
        .map(u64::try_from)
        .transpose()
        .map_err(|_| {
            err(
                "invalid_typed_data",
                "`domain.chainId` does not fit 64 bits",
            )
        })?;
    Ok(TypedDataSummary {
        domain_name: domain.name.as_ref().map(|n| n.to_string()),
        domain_version: domain.version.as_ref().map(|v| v.to_string()),
        chain_id,
        verifying_contract: domain.verifying_contract,
        salt: domain.salt,
        primary_type: parsed.primary_type.clone(),
    })
}

/// The EIP-191 (version `0x45`) hash of a personal message:
/// `keccak256("\x19Ethereum Signed Message:\n" || len(message) || message)`.
pub fn personal_message_hash(message: &[u8]) -> B256 {
    eip191_hash_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Signature, b256, hex};
    use serde_json::json;

    /// The example of EIP-712 itself.
    fn mail() -> Value {
        json!({
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"}
                ],
                "Person": [
                    {"name": "name", "type": "string"},
                    {"name": "wallet", "type": "address"}
                ],
                "Mail": [
                    {"name": "from", "type": "Person"},
                    {"name": "to", "type": "Person"},
                    {"name": "contents", "type": "string"}
                ]
            },
            "primaryType": "Mail",
            "domain": {
                "name": "Ether Mail",
                "version": "1",
                "chainId": 1,
                "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
            },
            "message": {
                "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                "contents": "Hello, Bob!"
            }
        })
    }

    #[test]
    fn eip712_mail_example_hash_and_signature() {
        let hash = typed_data_hash(&mail()).unwrap();
        assert_eq!(
            hash,
            b256!("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
        );
        // The EIP's signature by the key keccak256("cow") recovers to Cow's wallet.
        let sig = Signature::from_scalars_and_parity(
            b256!("4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"),
            b256!("07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"),
            true,
        );
        let cow = crate::parse_address("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826").unwrap();
        assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), cow);
    }

    #[test]
    fn eip712_summary_shows_the_domain() {
        let summary = typed_data_summary(&mail()).unwrap();
        assert_eq!(summary.domain_name.as_deref(), Some("Ether Mail"));
        assert_eq!(summary.domain_version.as_deref(), Some("1"));
        assert_eq!(summary.chain_id, Some(1));
        assert_eq!(
            summary.verifying_contract,
            Some(crate::parse_address("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC").unwrap())
        );
        assert_eq!(summary.salt, None);
        assert_eq!(summary.primary_type, "Mail");
    }

    #[test]
    fn eip712_changed_message_changes_the_hash() {
        let mut changed = mail();
        changed["message"]["contents"] = json!("Hello, Bob?");
        assert_ne!(
            typed_data_hash(&changed).unwrap(),
            typed_data_hash(&mail()).unwrap()
        );
        let mut other_chain = mail();
        other_chain["domain"]["chainId"] = json!(5);
        assert_ne!(
            typed_data_hash(&other_chain).unwrap(),
            typed_data_hash(&mail()).unwrap()
        );
    }

    #[test]
    fn eip712_refuses_malformed_typed_data() {
        let mut missing_type = mail();
        missing_type["primaryType"] = json!("Letter");
        let mut bad_field = mail();
        bad_field["message"]["from"]["wallet"] = json!("not an address");
        let mut missing_field = mail();
        missing_field["message"]
            .as_object_mut()
            .unwrap()
            .remove("contents");
        for bad in [
            json!({}),
            json!("x"),
            missing_type,
            bad_field,
            missing_field,
        ] {
            assert_eq!(
                typed_data_hash(&bad).unwrap_err().code,
                "invalid_typed_data",
                "{bad}"
            );
            assert_eq!(
                typed_data_summary(&bad).unwrap_err().code,
                "invalid_typed_data"
            );
        }
    }

    #[test]
    fn eip191_known_vectors() {
        // keccak256("\x19Ethereum Signed Message:\n11hello world"), as every EIP-191 library computes.
        assert_eq!(
            personal_message_hash(b"hello world"),
            b256!("d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68")
        );
        // The prefix counts bytes, in decimal.
        let long = [0xffu8; 300];
        let mut prefixed = b"\x19Ethereum Signed Message:\n300".to_vec();
        prefixed.extend_from_slice(&long);
        assert_eq!(
            personal_message_hash(&long),
            alloy_primitives::keccak256(&prefixed)
        );
        assert_eq!(
            personal_message_hash(&hex::decode("").unwrap()),
            alloy_primitives::keccak256(b"\x19Ethereum Signed Message:\n0")
        );
    }
}
