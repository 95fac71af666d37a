//! The outcome of an evaluation: what to do, which rule and limit said so, and why.

use serde::{Deserialize, Serialize};

/// What to do with a request. Serialized with an `action` field: `allow`, `deny` or
/// `pending_approval` (with `group`, `count` and `members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Sign.
    Allow,
    /// Do not sign.
    Deny,
    /// Sign once `count` distinct members of `group` approve.
    #[serde(rename = "pending_approval")]
    NeedsApprovals {
        /// The approver group.
        group: String,
        /// How many distinct members must approve.
        count: u32,
        /// Who may approve: the group's members in the policy that decided.
        members: Vec<String>,
    },
}

impl Action {
    /// `allow`, `deny` or `pending_approval`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::NeedsApprovals { .. } => "pending_approval",
        }
    }
}

/// A policy's answer to one request. Serialized flat: `{"action": "deny", "matched_rule": ...,
/// "limit": ..., "reasons": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// The rule that matched, if one did.
    pub matched_rule: Option<String>,
    /// The limit that denied the request, if one did.
    pub limit: Option<String>,
    /// Why, for people: lowercase, names in backticks.
    pub reasons: Vec<String>,
}

impl Decision {
    /// Whether the request may be signed now (not when it waits for approvals).
    pub fn is_allowed(&self) -> bool {
        self.action == Action::Allow
    }

    /// Whether the request is refused.
    pub fn is_denied(&self) -> bool {
        self.action == Action::Deny
    }

    /// The reasons joined by `; `.
    pub fn reason(&self) -> String {
        self.reasons.join("; ")
    }

    pub(crate) fn deny(
        matched_rule: Option<&str>,
        limit: Option<&str>,
        reason: String,
    ) -> Decision {
        Decision {
            action: Action::Deny,
            matched_rule: matched_rule.map(str::to_owned),
            limit: limit.map(str::to_owned),
            reasons: vec![reason],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_flat_with_stable_action_names() {
        let pending = Decision {
            action: Action::NeedsApprovals {
                group: "ops".into(),
                count: 2,
                members: vec!["a".into(), "b".into()],
            },
            matched_rule: Some("big".into()),
            limit: None,
            reasons: vec!["one".into(), "two".into()],
        };
        let json = serde_json::to_value(&pending).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "action": "pending_approval",
                "group": "ops",
                "count": 2,
                "members": ["a", "b"],
                "matched_rule": "big",
                "limit": null,
                "reasons": ["one", "two"],
            })
        );
        assert_eq!(serde_json::from_value::<Decision>(json).unwrap(), pending);
        assert_eq!(pending.reason(), "one; two");
        assert!(!pending.is_allowed() && !pending.is_denied());

        let deny = Decision::deny(Some("r"), Some("l"), "over".into());
        let json = serde_json::to_string(&deny).unwrap();
        assert_eq!(
            json,
            r#"{"action":"deny","matched_rule":"r","limit":"l","reasons":["over"]}"#
        );
        assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), deny);
        assert!(deny.is_denied());
        for action in [Action::Allow, Action::Deny] {
            let json = serde_json::to_value(&action).unwrap();
            assert_eq!(json, serde_json::json!({ "action": action.name() }));
        }
    }
}
