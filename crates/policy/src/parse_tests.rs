//! Reading policy files: the documented example, and each refusal with its code.

use crate::{Cap, Policy, PolicyHash, RiskLevel, RuleAction, Scope};

/// The example of `docs/POLICY.md`, so that the page cannot drift from the parser.
fn documented_example() -> &'static str {
    let page = include_str!("../../../docs/POLICY.md");
    let start = page.find("```toml\n").unwrap() + "```toml\n".len();
    let len = page[start..].find("```").unwrap();
    &page[start..start + len]
}

const CHECKSUMMED: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

/// The code of the refusal of `text`, after checking the message's style.
fn code(text: &str) -> &'static str {
    let e = Policy::parse(text).unwrap_err();
    let first = e.message.chars().next().unwrap();
    assert!(!first.is_uppercase(), "{}", e.message);
    assert!(!e.message.ends_with('.'), "{}", e.message);
    e.code
}

/// `body` after a version line.
fn code_of(body: &str) -> &'static str {
    code(&format!("version = 1\n{body}"))
}

fn rule(fields: &str) -> String {
    format!("[[rules]]\nname = \"r\"\n{fields}\n")
}

const OPS: &str = "[groups]\nops = [\"a\", \"b\", \"c\"]\n";

#[test]
fn the_documented_example_parses() {
    let text = documented_example();
    let policy = Policy::parse(text).unwrap();
    assert_eq!(policy.version(), 7);
    assert_eq!(policy.text(), text);
    assert_eq!(policy.hash(), PolicyHash::of_text(text));
    assert_eq!(policy.rules().len(), 5);
    assert_eq!(policy.limits().len(), 3);
    assert_eq!(policy.approvals_expire_after(), 12 * 3_600);
    assert_eq!(policy.risk_percent(RiskLevel::Normal), 100);
    assert_eq!(policy.risk_percent(RiskLevel::Elevated), 50);
    assert_eq!(policy.risk_percent(RiskLevel::Critical), 0);
    assert_eq!(policy.group("ops").unwrap().members().len(), 3);
    assert!(policy.group("nobody").is_none());
    let rule = policy.rule("office-hours-to-exchanges").unwrap();
    assert_eq!(
        rule.action(),
        &RuleAction::Approvals {
            group: "ops".into(),
            count: 2
        }
    );
    assert_eq!(rule.max_amount().unwrap().text(), "25");
    assert_eq!(rule.hours().unwrap().text(), "08:00-18:00");
    assert_eq!(rule.to(), Some("exchanges"));
    let limit = &policy.limits()[2];
    assert_eq!(limit.name(), "trader-rate");
    assert_eq!(limit.scope(), Scope::Client);
    assert_eq!(limit.window().secs(), 60);
    assert_eq!(limit.cap(), &Cap::Requests(100));
    assert!(limit.assets().is_none());
}

#[test]
fn address_books_keep_lowercase_addresses() {
    let policy = Policy::parse(&format!(
        "version = 1\n[address_books]\nt = [\"{CHECKSUMMED}\", \"0xFB6916095CA1DF60BB79CE92CE3EA74C37C5D359\"]\n"
    ))
    .unwrap();
    let book = policy.address_book("t").unwrap();
    let addresses: Vec<_> = book.addresses().collect();
    assert_eq!(
        addresses,
        [
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
        ]
    );
    assert!(book.contains(CHECKSUMMED));
    assert!(book.contains("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"));
}

#[test]
fn defaults_when_left_out() {
    let policy = Policy::parse("version = 1\n").unwrap();
    assert!(policy.rules().is_empty() && policy.limits().is_empty());
    assert_eq!(policy.approvals_expire_after(), 86_400);
    assert_eq!(policy.risk_percent(RiskLevel::Elevated), 50);
    assert_eq!(policy.risk_percent(RiskLevel::Critical), 10);
    let policy = Policy::parse(
        "version = 1\n[risk]\nelevated_percent = 100\ncritical_percent = 100\n[approvals]\n",
    )
    .unwrap();
    assert_eq!(policy.risk_percent(RiskLevel::Critical), 100);
    assert_eq!(policy.approvals_expire_after(), 86_400);
}

#[test]
fn the_hash_covers_the_exact_text() {
    let a = Policy::parse("version = 1\n").unwrap();
    let b = Policy::parse("version = 1 # the same, with a comment\n").unwrap();
    assert_ne!(a.hash(), b.hash());
    assert_eq!(a.hash(), Policy::parse("version = 1\n").unwrap().hash());
}

#[test]
fn invalid_toml_gives_the_line() {
    let e = Policy::parse("version = 1\n[[rules]\n").unwrap_err();
    assert_eq!(e.code, "invalid_toml");
    assert!(e.message.starts_with("line 2, column "), "{}", e.message);
    assert!(!e.message.contains('\n'), "{}", e.message);
    assert_eq!(code("version = \"1\"\n"), "invalid_toml");
    assert_eq!(code("version = 1\nversion = 2\n"), "invalid_toml");
    // An unquoted amount would already have lost exactness.
    let e = Policy::parse(&format!(
        "version = 1\n{}",
        rule("assets = [\"ETH\"]\nmax_amount = 1.5\naction = \"allow\"")
    ))
    .unwrap_err();
    assert_eq!(e.code, "invalid_toml");
    assert!(e.message.contains("in quotes"), "{}", e.message);
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    assert_eq!(code_of("colour = 1\n"), "unknown_field");
    assert_eq!(
        code_of(&rule("action = \"allow\"\nmin_amount = \"1\"")),
        "unknown_field"
    );
    assert_eq!(
        code_of(&rule(
            "action = \"allow\"\ntyped_data = { domain = [\"x\"] }"
        )),
        "unknown_field"
    );
    assert_eq!(
        code_of(
            "[[limits]]\nname = \"l\"\nscope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 1\nclients = [\"a\"]\n"
        ),
        "unknown_field"
    );
    assert_eq!(code_of("[risk]\nhigh_percent = 5\n"), "unknown_field");
    assert_eq!(code_of("[approvals]\nexpire = \"1h\"\n"), "unknown_field");
    let e = Policy::parse(
        "version = 1\n\n[[rules]]\nname = \"r\"\naction = \"allow\"\nclient = [\"a\"]\n",
    )
    .unwrap_err();
    assert!(e.message.starts_with("line 6,"), "{}", e.message);
    assert!(e.message.contains("`client`"), "{}", e.message);
}

#[test]
fn missing_required_fields() {
    assert_eq!(code_of("[[rules]]\nname = \"r\"\n"), "missing_field");
    assert_eq!(code_of("[[rules]]\naction = \"allow\"\n"), "missing_field");
    assert_eq!(
        code_of("[[limits]]\nname = \"l\"\nscope = \"wallet\"\nmax_requests = 1\n"),
        "missing_field"
    );
}

#[test]
fn version_is_at_least_one() {
    assert_eq!(code(""), "invalid_version");
    assert_eq!(code("version = 0\n"), "invalid_version");
    assert_eq!(code("version = -3\n"), "invalid_version");
    assert_eq!(
        Policy::parse("version = 9007199254740993\n")
            .unwrap()
            .version(),
        9007199254740993
    );
}

#[test]
fn names_follow_the_id_grammar() {
    for bad in ["", "Big", "-r", "a b", "é", &"a".repeat(65)] {
        let text = format!("[[rules]]\nname = \"{bad}\"\naction = \"allow\"\n");
        assert_eq!(code_of(&text), "invalid_name", "{bad:?}");
    }
    assert_eq!(code_of("[groups]\nOps = [\"a\"]\n"), "invalid_name");
    assert_eq!(
        code_of(&format!(
            "[address_books]\n\"my book\" = [\"{CHECKSUMMED}\"]\n"
        )),
        "invalid_name"
    );
    assert_eq!(
        code_of(
            "[[limits]]\nname = \"L\"\nscope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 1\n"
        ),
        "invalid_name"
    );
    let fine = format!(
        "[[rules]]\nname = \"{}\"\naction = \"allow\"\n",
        "a.b_c-9".repeat(9)
    );
    assert!(Policy::parse(&format!("version = 1\n{fine}")).is_ok());
}

#[test]
fn rule_and_limit_names_are_unique_together() {
    let twice = format!(
        "{}{}",
        rule("action = \"allow\""),
        rule("action = \"deny\"")
    );
    assert_eq!(code_of(&twice), "duplicate_name");
    let clash = format!(
        "{}[[limits]]\nname = \"r\"\nscope = \"wallet\"\nwindow = \"1h\"\nmax_requests = 1\n",
        rule("action = \"allow\"")
    );
    assert_eq!(code_of(&clash), "duplicate_name");
}

#[test]
fn lists_are_not_empty_and_have_no_repeats() {
    assert_eq!(
        code_of(&rule("clients = []\naction = \"allow\"")),
        "invalid_list"
    );
    assert_eq!(
        code_of(&rule("wallets = [\"\"]\naction = \"allow\"")),
        "invalid_list"
    );
    assert_eq!(
        code_of(&rule("assets = [\"ETH\", \"ETH\"]\naction = \"allow\"")),
        "invalid_list"
    );
    assert_eq!(
        code_of(&rule("chains = []\naction = \"allow\"")),
        "invalid_list"
    );
    assert_eq!(
        code_of(&rule("kinds = []\naction = \"allow\"")),
        "invalid_list"
    );
    assert_eq!(code_of("[address_books]\nt = []\n"), "invalid_list");
    assert_eq!(
        code_of(&format!(
            "[address_books]\nt = [\"{CHECKSUMMED}\", \"{}\"]\n",
            CHECKSUMMED.to_lowercase()
        )),
        "invalid_list"
    );
    assert_eq!(
        code_of(&rule(
            "typed_data = { primary_types = [] }\naction = \"allow\""
        )),
        "invalid_list"
    );
}

#[test]
fn kinds_are_the_four_known_ones() {
    assert_eq!(
        code_of(&rule(
            "kinds = [\"transfer\", \"swap\"]\naction = \"allow\""
        )),
        "invalid_kind"
    );
    assert_eq!(
        code_of(&rule("kinds = [\"Raw\"]\naction = \"allow\"")),
        "invalid_kind"
    );
    let all =
        rule("kinds = [\"transfer\", \"raw\", \"typed_data\", \"message\"]\naction = \"allow\"");
    assert!(Policy::parse(&format!("version = 1\n{all}")).is_ok());
}

#[test]
fn addresses_are_checked() {
    let flipped = CHECKSUMMED.replace("aAeb", "aaeb");
    for bad in [
        flipped.as_str(),
        "0x1234",
        "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "treasury",
    ] {
        assert_eq!(
            code_of(&format!("[address_books]\nt = [\"{bad}\"]\n")),
            "invalid_address",
            "{bad}"
        );
    }
    assert_eq!(
        code_of(&rule(&format!(
            "typed_data = {{ verifying_contracts = [\"{flipped}\"] }}\naction = \"allow\""
        ))),
        "invalid_address"
    );
}

#[test]
fn to_names_an_address_book() {
    assert_eq!(
        code_of(&rule("to = \"treasury\"\naction = \"allow\"")),
        "unknown_address_book"
    );
    let text = format!(
        "[address_books]\ntreasury = [\"{CHECKSUMMED}\"]\n{}",
        rule("to = \"treasury\"\naction = \"allow\"")
    );
    assert!(Policy::parse(&format!("version = 1\n{text}")).is_ok());
}

#[test]
fn groups_have_unique_members() {
    assert_eq!(code_of("[groups]\nops = []\n"), "invalid_group");
    assert_eq!(code_of("[groups]\nops = [\"a\", \"a\"]\n"), "invalid_group");
    assert_eq!(code_of("[groups]\nops = [\"a\", \"\"]\n"), "invalid_group");
}

#[test]
fn approvals_name_a_group_and_a_possible_count() {
    let approvals = |group: &str, count: i64| {
        code_of(&format!(
            "{OPS}{}",
            rule(&format!(
                "action = {{ approvals = {{ group = \"{group}\", count = {count} }} }}"
            ))
        ))
    };
    assert_eq!(approvals("security", 1), "unknown_group");
    assert_eq!(approvals("ops", 0), "invalid_action");
    assert_eq!(approvals("ops", 4), "invalid_action");
    assert_eq!(approvals("ops", -1), "invalid_action");
    assert_eq!(approvals("ops", 1 << 40), "invalid_action");
    let text = format!(
        "version = 1\n{OPS}{}",
        rule("action = { approvals = { group = \"ops\", count = 3 } }")
    );
    assert!(Policy::parse(&text).is_ok());
}

#[test]
fn actions_are_allow_deny_or_approvals() {
    for action in [
        "\"maybe\"",
        "\"Allow\"",
        "1",
        "[\"allow\"]",
        "{ approvals = { group = \"ops\" } }",
        "{ approvals = { group = \"ops\", count = 2, quorum = 1 } }",
        "{ approval = { group = \"ops\", count = 2 } }",
        "{ approvals = { group = \"ops\", count = \"2\" } }",
    ] {
        assert_eq!(
            code_of(&format!("{OPS}{}", rule(&format!("action = {action}")))),
            "invalid_action",
            "{action}"
        );
    }
}

#[test]
fn amounts_are_exact_positive_decimals() {
    for bad in ["0", "0.0", "-1", "1e18", ".5", "01", "1,000", "", "1.2.3"] {
        let text = rule(&format!(
            "assets = [\"ETH\"]\nmax_amount = \"{bad}\"\naction = \"allow\""
        ));
        assert_eq!(code_of(&text), "invalid_amount", "{bad:?}");
        let limit = format!(
            "[[limits]]\nname = \"l\"\nscope = \"wallet\"\nassets = [\"ETH\"]\nwindow = \"1h\"\nmax_amount = \"{bad}\"\n"
        );
        assert_eq!(code_of(&limit), "invalid_amount", "{bad:?}");
    }
}

#[test]
fn hours_are_checked() {
    for bad in [
        "8-18",
        "08:00-08:00",
        "18:00",
        "08:00-25:00",
        "08:00-18:00 UTC",
    ] {
        let text = rule(&format!("hours = \"{bad}\"\naction = \"allow\""));
        assert_eq!(code_of(&text), "invalid_hours", "{bad:?}");
    }
}

#[test]
fn windows_and_expiry_are_checked() {
    for bad in ["0h", "1w", "367d", "60", "1.5h", "01h"] {
        let text = format!(
            "[[limits]]\nname = \"l\"\nscope = \"wallet\"\nwindow = \"{bad}\"\nmax_requests = 1\n"
        );
        assert_eq!(code_of(&text), "invalid_window", "{bad:?}");
        assert_eq!(
            code_of(&format!("[approvals]\nexpire_after = \"{bad}\"\n")),
            "invalid_window"
        );
    }
}

#[test]
fn rules_that_cannot_mean_anything_are_refused() {
    assert_eq!(
        code_of(&rule("max_amount = \"1\"\naction = \"allow\"")),
        "invalid_rule"
    );
    assert_eq!(
        code_of(&rule(
            "kinds = [\"transfer\"]\ntyped_data = { domains = [\"Permit2\"] }\naction = \"allow\""
        )),
        "invalid_rule"
    );
}

#[test]
fn limits_have_a_scope_and_exactly_one_cap() {
    let limit = |fields: &str| {
        code_of(&format!(
            "[[limits]]\nname = \"l\"\nwindow = \"1h\"\n{fields}\n"
        ))
    };
    assert_eq!(
        limit("scope = \"global\"\nmax_requests = 1"),
        "invalid_limit"
    );
    assert_eq!(limit("scope = \"wallet\""), "invalid_limit");
    assert_eq!(
        limit("scope = \"wallet\"\nassets = [\"ETH\"]\nmax_requests = 1\nmax_amount = \"1\""),
        "invalid_limit"
    );
    assert_eq!(
        limit("scope = \"wallet\"\nmax_requests = 0"),
        "invalid_limit"
    );
    assert_eq!(
        limit("scope = \"wallet\"\nmax_requests = -5"),
        "invalid_limit"
    );
    assert_eq!(
        limit("scope = \"wallet\"\nmax_amount = \"1\""),
        "invalid_limit"
    );
}

#[test]
fn risk_percentages_are_checked() {
    assert_eq!(code_of("[risk]\nelevated_percent = 101\n"), "invalid_risk");
    assert_eq!(code_of("[risk]\ncritical_percent = -1\n"), "invalid_risk");
    assert_eq!(code_of("[risk]\nelevated_percent = 5\n"), "invalid_risk");
    assert_eq!(
        code_of("[risk]\nelevated_percent = 20\ncritical_percent = 30\n"),
        "invalid_risk"
    );
}

#[test]
fn messages_name_the_place_and_quote_the_input() {
    let e = Policy::parse(&format!(
        "version = 1\n{}",
        rule("to = \"vault\"\naction = \"allow\"")
    ))
    .unwrap_err();
    assert_eq!(
        e.message,
        "rule `r`: `to` names `vault`, which is not in `[address_books]`"
    );
    assert_eq!(
        e.to_string(),
        format!("unknown_address_book: {}", e.message)
    );
}
