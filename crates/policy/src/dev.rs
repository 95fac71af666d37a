//! The policy of a development cluster: everything allowed, nothing limited.

use std::collections::BTreeMap;

use crate::hash::PolicyHash;
use crate::model::{Policy, Rule, RuleAction};
use crate::parse::{
    DEFAULT_APPROVALS_EXPIRE_AFTER, DEFAULT_CRITICAL_PERCENT, DEFAULT_ELEVATED_PERCENT,
};
use crate::request::Kind;

/// The text of [`Policy::permissive_dev`]. It never changes without reason, so its hash is
/// stable.
pub const PERMISSIVE_DEV_POLICY: &str = r#"# Tessera's development policy: every request is allowed, raw signing included,
# and nothing is limited. Never use it for real funds.
version = 1

[[rules]]
name = "dev-allow-everything"
kinds = ["transfer", "raw", "typed_data", "message"]
action = "allow"
"#;

impl Policy {
    /// The policy of [`PERMISSIVE_DEV_POLICY`]: one rule, `dev-allow-everything`, that allows every
    /// kind of request including raw signing, and no limits.
    pub fn permissive_dev() -> Policy {
        // Built by hand rather than parsed, so that there is no failure to handle; a test checks
        // that it equals the parsed text.
        Policy {
            text: PERMISSIVE_DEV_POLICY.to_owned(),
            hash: PolicyHash::of_text(PERMISSIVE_DEV_POLICY),
            version: 1,
            address_books: BTreeMap::new(),
            groups: BTreeMap::new(),
            rules: vec![Rule {
                name: "dev-allow-everything".to_owned(),
                clients: None,
                wallets: None,
                kinds: Some(Kind::ALL.to_vec()),
                chains: None,
                assets: None,
                to: None,
                max_amount: None,
                hours: None,
                typed_data: None,
                action: RuleAction::Allow,
            }],
            limits: Vec::new(),
            approvals_expire_after: DEFAULT_APPROVALS_EXPIRE_AFTER,
            elevated_percent: DEFAULT_ELEVATED_PERCENT,
            critical_percent: DEFAULT_CRITICAL_PERCENT,
            breakers: crate::guards::Breakers::default(),
            cold_storage: BTreeMap::new(),
            changes: crate::guards::Changes::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissive_dev_is_its_text_parsed() {
        let parsed = Policy::parse(PERMISSIVE_DEV_POLICY).unwrap();
        assert_eq!(Policy::permissive_dev(), parsed);
        assert_eq!(parsed.rules().len(), 1);
        assert!(parsed.limits().is_empty());
        assert_eq!(parsed.version(), 1);
    }

    #[test]
    fn permissive_dev_hash_is_pinned() {
        // A change to the text changes this hash: update it only on purpose.
        assert_eq!(
            Policy::permissive_dev().hash().to_string(),
            "43d07b27ada663c1cbb8fdbc7a55b63f15ea44686d950d2e526b58955dd899e6"
        );
    }
}
