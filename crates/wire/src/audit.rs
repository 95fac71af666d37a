//! What the signers' audit chains and receipts look like on the wire (ADR 0013).
//!
//! A signer answers [`crate::Request::AuditPage`] with an [`AuditPage`]; each entry travels as
//! its JSON line (as `tessera_audit::export_jsonl` writes it) so that its body stays the exact
//! text that was hashed, whatever the enum around it buffers.

use serde::{Deserialize, Serialize};
use tessera_audit::{Anchor, AuditPublicKey, Entry};

/// A page of a node's audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// The node's name in receipts (`signer-N`).
    pub node: String,
    /// The entries after the position asked for, in order, each one JSON line.
    pub entries: Vec<String>,
    /// The chain's last position; none for an empty chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Anchor>,
    /// The audit public key the node says it signs with. A verifier takes the key from its own
    /// configuration; this is for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<AuditPublicKey>,
}

impl AuditPage {
    /// The entries, parsed (not verified).
    pub fn parsed(&self) -> Result<Vec<Entry>, crate::WireError> {
        self.entries
            .iter()
            .map(|line| {
                serde_json::from_str::<Entry>(line).map_err(|e| {
                    crate::WireError::new("malformed_message", format!("audit entry: {e}"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use tessera_audit::{AuditKey, Receipt, ReceiptFields};

    use crate::{Reply, Request, WireRuling, decode_reply, decode_request, encode_reply};

    use super::*;

    fn receipt() -> Receipt {
        Receipt::sign(
            &AuditKey::from_bytes(&[1; 32]),
            ReceiptFields {
                node: "signer-1".into(),
                request_id: "r".into(),
                request_hash: [2; 32],
                decision: "allow".into(),
                policy_hash: "ab".repeat(32),
                audit: Anchor {
                    seq: 4,
                    hash: [3; 32],
                },
            },
        )
        .unwrap()
    }

    #[test]
    fn receipts_and_audit_pages_round_trip() {
        let entry = r#"{"seq":1,"at":5,"kind":"request","body":{"b":1.50,"a":[]},"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"0101010101010101010101010101010101010101010101010101010101010101","sig":"02020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202"}"#;
        let page = Reply::AuditPage(AuditPage {
            node: "signer-1".into(),
            entries: vec![entry.into()],
            head: Some(Anchor {
                seq: 1,
                hash: [1; 32],
            }),
            public_key: Some(AuditKey::from_bytes(&[1; 32]).public()),
        });
        let back = decode_reply(&encode_reply(&Ok(page.clone()))).unwrap();
        assert_eq!(back, page);
        let Reply::AuditPage(p) = back else {
            panic!("another reply");
        };
        // The body is kept byte for byte.
        assert_eq!(p.parsed().unwrap()[0].body.as_str(), r#"{"b":1.50,"a":[]}"#);

        for reply in [
            Reply::Registered {
                request_id: "r".into(),
                kind: "sign".into(),
                wallet: None,
                ruling: None,
                receipt: Some(receipt()),
            },
            Reply::Ruled {
                request_id: "r".into(),
                ruling: WireRuling {
                    decision: "allow".into(),
                    reason: None,
                    policy_hash: None,
                    approval_group: None,
                    approvals_needed: 0,
                    approvals: 0,
                },
                receipt: Some(receipt()),
            },
        ] {
            assert_eq!(
                decode_reply(&encode_reply(&Ok(reply.clone()))).unwrap(),
                reply
            );
        }
        let req = Request::AuditPage {
            after: 3,
            limit: 10,
        };
        assert_eq!(decode_request(&crate::encode_request(&req)).unwrap(), req);
    }

    #[test]
    fn a_reply_without_a_receipt_still_decodes() {
        let old =
            br#"{"v":1,"ok":{"reply":"ruled","request_id":"r","ruling":{"decision":"deny"}}}"#;
        let Reply::Ruled { receipt, .. } = decode_reply(old).unwrap() else {
            panic!("another reply");
        };
        assert!(receipt.is_none());
    }
}
