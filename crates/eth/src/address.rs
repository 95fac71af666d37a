//! Addresses: from a public key, EIP-55 checksummed text, strict parsing.

use alloy_primitives::Address;
use k256::ecdsa::VerifyingKey;

use crate::error::{EthError, err};

/// The address of a secp256k1 public key given as SEC1 bytes: 33 bytes compressed or 65 bytes
/// uncompressed. Code `invalid_public_key` when the bytes are not a point on the curve.
pub fn address_of(public_key_sec1: &[u8]) -> Result<Address, EthError> {
    // Only the two standard SEC1 forms: k256 would also take the compact form (tag 0x05).
    match (public_key_sec1.len(), public_key_sec1.first()) {
        (33, Some(0x02 | 0x03)) | (65, Some(0x04)) => {}
        (len, _) => {
            return Err(err(
                "invalid_public_key",
                format!(
                    "a public key is 33 bytes starting 02 or 03, or 65 bytes starting 04 ({len} bytes given)"
                ),
            ));
        }
    }
    let key = VerifyingKey::from_sec1_bytes(public_key_sec1)
        .map_err(|_| err("invalid_public_key", "not a secp256k1 public key"))?;
    Ok(Address::from_public_key(&key))
}

/// The EIP-55 mixed-case checksummed form, `0x` and 40 hex digits.
pub fn checksummed(address: &Address) -> String {
    address.to_checksum(None)
}

/// Parses `0x` and 40 hex digits. All-lowercase and all-uppercase digits are accepted as they are; a
/// mixed-case address must carry a correct EIP-55 checksum. Code `invalid_address`.
pub fn parse_address(s: &str) -> Result<Address, EthError> {
    let invalid = |why: &str| err("invalid_address", format!("`{}` {why}", shorten(s)));
    let Some(digits) = s.strip_prefix("0x") else {
        return Err(invalid("does not start with 0x"));
    };
    if digits.len() != 40 {
        return Err(invalid("is not 0x and 40 hex digits"));
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("has a character that is not a hex digit"));
    }
    let address: Address = digits
        .parse()
        .map_err(|_| invalid("is not 0x and 40 hex digits"))?;
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper && checksummed(&address) != s {
        return Err(invalid("has a wrong EIP-55 checksum"));
    }
    Ok(address)
}

/// User input echoed in a message is cut to a readable length.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of EIP-55 itself.
    const EIP55: [&str; 8] = [
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    #[test]
    fn eip55_vectors_parse_and_checksum() {
        for v in EIP55 {
            let a = parse_address(v).unwrap();
            // The all-caps and all-lowercase vectors are checksums of addresses whose letters happen to
            // be all one case.
            assert_eq!(checksummed(&a), v, "{v}");
        }
    }

    #[test]
    fn one_flipped_letter_is_refused() {
        for v in EIP55.iter().skip(4) {
            let i = v
                .char_indices()
                .skip(2)
                .find(|(_, c)| c.is_ascii_alphabetic())
                .unwrap()
                .0;
            let mut flipped = v.to_string();
            let c = flipped.remove(i);
            let c = if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
            flipped.insert(i, c);
            assert_eq!(
                parse_address(&flipped).unwrap_err().code,
                "invalid_address",
                "{flipped}"
            );
            // The same address in one case is fine.
            assert!(parse_address(&v.to_lowercase()).is_ok());
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "0x",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
            " 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "0x+aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        ] {
            assert_eq!(
                parse_address(bad).unwrap_err().code,
                "invalid_address",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn address_of_compressed_and_uncompressed_keys_agree() {
        // The private key 1: its public key is the generator, whose address is well known.
        let g_compressed =
            hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
                .unwrap();
        let g_uncompressed = hex::decode(
            "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
             483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
        )
        .unwrap();
        let expected = parse_address("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf").unwrap();
        assert_eq!(address_of(&g_compressed).unwrap(), expected);
        assert_eq!(address_of(&g_uncompressed).unwrap(), expected);
        assert_eq!(
            address_of(&g_compressed[..32]).unwrap_err().code,
            "invalid_public_key"
        );
        let mut compact = g_compressed.clone();
        compact[0] = 0x05;
        assert_eq!(address_of(&compact).unwrap_err().code, "invalid_public_key");
        let mut mislabeled = g_uncompressed.clone();
        mislabeled[0] = 0x02;
        assert_eq!(
            address_of(&mislabeled).unwrap_err().code,
            "invalid_public_key"
        );
        // An x coordinate above the field prime is no point.
        let mut not_a_point = vec![0x02];
        not_a_point.extend_from_slice(&[0xff; 32]);
        assert_eq!(
            address_of(&not_a_point).unwrap_err().code,
            "invalid_public_key"
        );
        let mut off_curve = g_uncompressed.clone();
        off_curve[64] ^= 1;
        assert_eq!(
            address_of(&off_curve).unwrap_err().code,
            "invalid_public_key"
        );
    }
}
