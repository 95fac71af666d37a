//! An approver's verdict on a request that waits for approvals:
//! `POST /v1/requests/{id}/approve` and `POST /v1/requests/{id}/reject`.
//!
//! The approver signs it with its own key, like any request; the coordinator forwards it to
//! every signer, and each decodes it with [`Verdict::parse`] and checks it itself.

use serde::{Deserialize, Serialize};

use crate::IntentError;

/// Longest comment an approver may attach, in bytes.
pub const MAX_COMMENT: usize = 512;

/// Body of an approval or rejection. The body may also be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictBody {
    /// Why, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A decoded verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The request it is about.
    pub request_id: String,
    /// Approve, or reject.
    pub approve: bool,
    /// The approver's comment.
    pub comment: Option<String>,
}

impl Verdict {
    /// Decodes an approval or rejection from its method, path and body.
    pub fn parse(method: &str, path: &str, body: &[u8]) -> Result<Verdict, IntentError> {
        let segments: Vec<&str> = path.split('/').collect();
        let (id, approve) = match (method, segments.as_slice()) {
            ("POST", ["", "v1", "requests", id, "approve"]) => (*id, true),
            ("POST", ["", "v1", "requests", id, "reject"]) => (*id, false),
            _ => {
                return Err(IntentError::new(
                    "not_a_verdict",
                    format!("`{method} {path}` is not an approval or a rejection"),
                ));
            }
        };
        let valid_id = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid_id {
            return Err(IntentError::new(
                "invalid_request_id",
                "a request id is 32 lower-case hex characters",
            ));
        }
        let body: VerdictBody = if body.is_empty() {
            VerdictBody::default()
        } else if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(IntentError::new(
                "invalid_body",
                "the body is empty or a JSON object",
            ));
        } else {
            serde_json::from_slice(body)
                .map_err(|e| IntentError::new("invalid_body", format!("request body: {e}")))?
        };
        if let Some(c) = &body.comment
            && (c.len() > MAX_COMMENT || c.chars().any(char::is_control))
        {
            return Err(IntentError::new(
                "invalid_comment",
                format!("`comment` must be at most {MAX_COMMENT} bytes without control characters"),
            ));
        }
        Ok(Verdict {
            request_id: id.to_owned(),
            approve,
            comment: body.comment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn approvals_and_rejections_decode_and_nothing_else_does() {
        let path = format!("/v1/requests/{ID}/approve");
        let v = Verdict::parse("POST", &path, b"").unwrap();
        assert!(v.approve && v.comment.is_none() && v.request_id == ID);
        let v = Verdict::parse(
            "POST",
            &format!("/v1/requests/{ID}/reject"),
            br#"{"comment":"not today"}"#,
        )
        .unwrap();
        assert!(!v.approve);
        assert_eq!(v.comment.as_deref(), Some("not today"));
        assert_eq!(Verdict::parse("POST", &path, b"{}").unwrap().comment, None);
        for (method, path, body, code) in [
            ("GET", path.as_str(), &b""[..], "not_a_verdict"),
            (
                "POST",
                "/v1/requests/ABC/approve",
                b"",
                "invalid_request_id",
            ),
            (
                "POST",
                path.as_str(),
                br#"{"approve":true}"#,
                "invalid_body",
            ),
            ("POST", path.as_str(), b"[]", "invalid_body"),
            (
                "POST",
                path.as_str(),
                br#"{"comment":"a\nb"}"#,
                "invalid_comment",
            ),
        ] {
            assert_eq!(Verdict::parse(method, path, body).unwrap_err().code, code);
        }
    }
}
