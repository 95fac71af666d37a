//! An admin's signed step in changing the policy: `POST /v1/policy/proposals` (propose a
//! policy file), `POST /v1/policy/proposals/{hash}/approve` and `.../apply`.
//!
//! The admin signs it like any request; the coordinator forwards it to every signer, and each
//! decodes it with [`PolicyChange::parse`], checks the admin, and decides by itself under the
//! policy in force (its `[changes]` quorum and time lock) whether the new policy applies.

use serde::{Deserialize, Serialize};

use crate::IntentError;

/// Longest policy file accepted, in bytes.
pub const MAX_POLICY_TEXT: usize = 256 * 1024;

/// Body of `POST /v1/policy/proposals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeBody {
    /// The policy file's exact text (TOML).
    pub policy: String,
}

/// A decoded step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    /// Propose this policy text (the proposer's approval counts).
    Propose {
        /// The policy file's text.
        text: String,
    },
    /// Approve the proposal of the policy with this hash.
    Approve {
        /// 64 lower-case hex.
        hash: String,
    },
    /// Apply it, once approved by a quorum and past the time lock.
    Apply {
        /// 64 lower-case hex.
        hash: String,
    },
}

impl PolicyChange {
    /// Decodes a step from its method, path and body.
    pub fn parse(method: &str, path: &str, body: &[u8]) -> Result<PolicyChange, IntentError> {
        let segments: Vec<&str> = path.split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["", "v1", "policy", "proposals"]) => {
                if body.len() > MAX_POLICY_TEXT + 1024 {
                    return Err(IntentError::new(
                        "invalid_body",
                        format!("a policy file is at most {MAX_POLICY_TEXT} bytes"),
                    ));
                }
                let b: ProposeBody = serde_json::from_slice(body).map_err(|e| {
                    IntentError::new(
                        "invalid_body",
                        format!("the body is {{\"policy\": \"<the file's text>\"}}: {e}"),
                    )
                })?;
                Ok(PolicyChange::Propose { text: b.policy })
            }
            ("POST", ["", "v1", "policy", "proposals", hash, step]) => {
                let hash = (*hash).to_owned();
                if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                {
                    return Err(IntentError::new(
                        "invalid_hash",
                        "a policy hash is 64 lower-case hex characters",
                    ));
                }
                if !(body.is_empty() || body.trim_ascii() == b"{}") {
                    return Err(IntentError::new("invalid_body", "the body is empty or {}"));
                }
                match *step {
                    "approve" => Ok(PolicyChange::Approve { hash }),
                    "apply" => Ok(PolicyChange::Apply { hash }),
                    _ => Err(not_a_change(method, path)),
                }
            }
            _ => Err(not_a_change(method, path)),
        }
    }
}

fn not_a_change(method: &str, path: &str) -> IntentError {
    IntentError::new(
        "not_a_policy_change",
        format!("`{method} {path}` is not a policy proposal, approval or application"),
    )
}

/// A proposal as a signer reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WireProposal {
    /// The proposed policy's hash, 64 hex.
    pub hash: String,
    /// Its version.
    pub version: u64,
    /// `open` or `applied`.
    pub state: String,
    /// Who proposed it.
    pub proposer: String,
    /// The admins who approved it (the proposer included), sorted.
    pub approvals: Vec<String>,
    /// Distinct admins needed, under the policy in force.
    pub quorum: u32,
    /// When it was proposed, Unix seconds.
    pub proposed_at: i64,
    /// The earliest time it can be applied, Unix seconds.
    pub not_before: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_decode_and_bad_ones_have_their_codes() {
        let h = "ab".repeat(32);
        assert_eq!(
            PolicyChange::parse(
                "POST",
                "/v1/policy/proposals",
                br#"{"policy":"version = 2"}"#
            )
            .unwrap(),
            PolicyChange::Propose {
                text: "version = 2".into()
            }
        );
        assert_eq!(
            PolicyChange::parse("POST", &format!("/v1/policy/proposals/{h}/approve"), b"").unwrap(),
            PolicyChange::Approve { hash: h.clone() }
        );
        assert_eq!(
            PolicyChange::parse("POST", &format!("/v1/policy/proposals/{h}/apply"), b"{}").unwrap(),
            PolicyChange::Apply { hash: h.clone() }
        );
        for (path, body, code) in [
            (
                "/v1/policy/proposals".to_owned(),
                &b"{}"[..],
                "invalid_body",
            ),
            (
                "/v1/policy/proposals".to_owned(),
                b"version = 2",
                "invalid_body",
            ),
            (
                "/v1/policy/proposals/ABC/approve".to_owned(),
                b"",
                "invalid_hash",
            ),
            (
                format!("/v1/policy/proposals/{h}/veto"),
                b"",
                "not_a_policy_change",
            ),
            (
                format!("/v1/policy/proposals/{h}/apply"),
                b"[]",
                "invalid_body",
            ),
            ("/v1/policy".to_owned(), b"", "not_a_policy_change"),
        ] {
            assert_eq!(
                PolicyChange::parse("POST", &path, body).unwrap_err().code,
                code,
                "{path}"
            );
        }
    }
}
