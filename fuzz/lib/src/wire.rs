//! Messages between the coordinator and the signers: [`decode_request`] (what a signer reads) and
//! [`decode_reply`] (what the coordinator reads). Round trip: decode, encode, decode gives the
//! same message.

use tessera_wire::{decode_reply, decode_request, encode_reply, encode_request};

/// [`decode_request`].
pub fn request(data: &[u8]) {
    let Ok(req) = decode_request(data) else {
        return;
    };
    let _ = req.op();
    let bytes = encode_request(&req);
    assert_eq!(decode_request(&bytes).as_ref(), Ok(&req), "round trip");
}

/// [`decode_reply`]: an answer, or the signer's error.
pub fn reply(data: &[u8]) {
    let decoded = decode_reply(data);
    // A decoding failure is an error too, but it is not the signer's: only re-encode replies and
    // errors the message carried.
    if decoded
        .as_ref()
        .is_err_and(|e| e.code == "malformed_message")
    {
        return;
    }
    if decoded
        .as_ref()
        .is_err_and(|e| e.code == "unsupported_wire_version")
    {
        return;
    }
    let bytes = encode_reply(&decoded);
    assert_eq!(decode_reply(&bytes), decoded, "round trip");
}
