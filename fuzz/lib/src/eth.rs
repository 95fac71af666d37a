//! Ethereum input: signed raw transactions ([`decode_signed`], [`recover_sender`]), the unsigned
//! EIP-1559 bytes a signer decodes before it signs ([`UnsignedTx::from_bytes`] and
//! [`UnsignedTx::decode_transfer`]), JSON-RPC transaction objects ([`RpcTx::from_json`]), EIP-712
//! typed data, and address and amount text.

use serde_json::Value;
use tessera_eth::{
    RpcTx, UnsignedTx, checksummed, decode_signed, parse_address, recover_sender, rpc_json_sender,
    typed_data_hash, typed_data_summary,
};

use crate::api::amount_round_trip;
use crate::split::{first_byte, text as lossy};

/// A signed raw transaction. Round trip: the decoded transaction and signature, signed again,
/// decode to the same values and recover the sender that [`recover_sender`] finds in the input.
pub fn signed_tx(data: &[u8]) {
    let sender = recover_sender(data);
    let Ok(decoded) = decode_signed(data) else {
        return;
    };
    let unsigned = decoded.unsigned.clone();
    assert_eq!(
        UnsignedTx::from_bytes(&unsigned.to_bytes()).as_ref(),
        Ok(&unsigned),
        "the signed part decodes as an unsigned transaction"
    );
    let _ = unsigned.decode_transfer();
    let Ok(signed) = unsigned.into_signed(decoded.r, decoded.s, decoded.y_parity) else {
        return;
    };
    let again = decode_signed(&signed.raw).expect("decodes its own encoding");
    assert_eq!(again.unsigned, decoded.unsigned, "round trip");
    assert_eq!(
        (again.r, again.s, again.y_parity),
        (decoded.r, decoded.s, decoded.y_parity)
    );
    assert_eq!(again.hash, signed.hash);
    assert_eq!(
        sender.ok(),
        Some(signed.from),
        "both paths recover one sender"
    );
}

/// The unsigned bytes a signer is asked to sign. Round trip: they encode to themselves, and a
/// transaction that decodes as a transfer is exactly the one built from that transfer.
pub fn unsigned_tx(data: &[u8]) {
    let Ok(tx) = UnsignedTx::from_bytes(data) else {
        return;
    };
    assert_eq!(tx.to_bytes(), data, "canonical encoding");
    let _ = (tx.signing_hash(), tx.max_cost_wei(), tx.fees().bumped());
    let Ok(spec) = tx.decode_transfer() else {
        return;
    };
    assert!(tx.check_transfer(&spec, tx.nonce()).is_ok());
    let rebuilt = UnsignedTx::transfer(&spec, tx.nonce(), &tx.fees());
    assert_eq!(rebuilt, tx, "round trip through the transfer");
}

/// A JSON-RPC transaction object (`eth_signTransaction`). Round trip: the transaction built from
/// it passes the signer's check against the same object and decodes from its own bytes.
pub fn rpc_tx(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = rpc_json_sender(&v);
    let _ = UnsignedTx::from_rpc_json(&v);
    let Ok(rpc) = RpcTx::from_json(&v) else {
        return;
    };
    let chain_id = rpc.chain_id.unwrap_or(31_337);
    let tx = rpc.to_unsigned(chain_id);
    assert!(rpc.check(&tx, chain_id).is_ok(), "{rpc:?}");
    assert_eq!(UnsignedTx::from_bytes(&tx.to_bytes()).as_ref(), Ok(&tx));
}

/// EIP-712 typed data as a client sends it. Round trip: its JSON, written and read again, hashes
/// the same.
pub fn typed_data(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = typed_data_summary(&v);
    let Ok(hash) = typed_data_hash(&v) else {
        return;
    };
    let reread: Value = serde_json::from_str(&v.to_string()).expect("reads back");
    assert_eq!(typed_data_hash(&reread).ok(), Some(hash), "round trip");
}

/// Address and amount text. The first byte is the asset's decimals, the rest the text. Round
/// trip: an address reads back from its EIP-55 form and from lower case; an amount formats to
/// text that parses to the same value.
pub fn text(data: &[u8]) {
    let (decimals, rest) = first_byte(data);
    let s = lossy(rest);
    if let Ok(address) = parse_address(&s) {
        let checksummed = checksummed(&address);
        assert_eq!(parse_address(&checksummed).ok(), Some(address));
        assert_eq!(
            parse_address(&checksummed.to_ascii_lowercase()).ok(),
            Some(address)
        );
    }
    amount_round_trip(&s, decimals);
}
