//! An admin's signed command to the circuit breakers or the risk level:
//! `POST /v1/breaker/trip`, `POST /v1/breaker/reset` and `POST /v1/risk`.
//!
//! The admin signs it like any request; the coordinator forwards it to every signer, and each
//! decodes it with [`GuardCommand::parse`] and checks the admin itself.

use serde::{Deserialize, Serialize};

use crate::IntentError;

/// Longest reason an admin may give, in bytes.
pub const MAX_REASON: usize = 512;

/// Body of `POST /v1/breaker/trip`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TripBody {
    /// Why, for the audit log and the breaker's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The wallet whose breaker trips; the deployment's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
}

/// Body of `POST /v1/breaker/reset`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The wallet whose breaker to reset; the deployment's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    /// Why, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of `POST /v1/risk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskBody {
    /// `normal`, `elevated` or `critical`.
    pub level: String,
    /// Why, or which feed: for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One breaker at one signer, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WireBreaker {
    /// `deployment` or `wallet:<id>`.
    pub scope: String,
    /// `closed` or `tripped`.
    pub state: String,
    /// Why it tripped, or who reset it.
    pub reason: String,
    /// Who moved it last: an admin, `coordinator` or `auto`.
    pub source: String,
    /// When it last changed, Unix seconds.
    pub changed_at: i64,
    /// Admins who asked for a reset since it tripped.
    #[serde(default)]
    pub reset_votes: Vec<String>,
}

/// The risk level at one signer, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WireRisk {
    /// `normal`, `elevated` or `critical`.
    pub level: String,
    /// Who set it last (empty when nobody has).
    pub source: String,
    /// Why.
    pub reason: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A decoded command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardCommand {
    /// Trip a breaker.
    Trip {
        /// The wallet, or the deployment when `None`.
        wallet: Option<String>,
        /// Why.
        reason: String,
    },
    /// Ask for a breaker's reset.
    Reset {
        /// The wallet, or the deployment when `None`.
        wallet: Option<String>,
        /// Why.
        reason: String,
    },
    /// Set the risk level.
    Risk {
        /// `normal`, `elevated` or `critical`.
        level: String,
        /// Why.
        reason: String,
    },
}

impl GuardCommand {
    /// Decodes a command from its method, path and body.
    pub fn parse(method: &str, path: &str, body: &[u8]) -> Result<GuardCommand, IntentError> {
        match (method, path) {
            ("POST", "/v1/breaker/trip") => {
                let b: TripBody = object(body)?.unwrap_or_default();
                Ok(GuardCommand::Trip {
                    wallet: wallet(b.wallet)?,
                    reason: reason(b.reason, "tripped by hand")?,
                })
            }
            ("POST", "/v1/breaker/reset") => {
                let b: ResetBody = object(body)?.unwrap_or_default();
                Ok(GuardCommand::Reset {
                    wallet: wallet(b.wallet)?,
                    reason: reason(b.reason, "reset asked")?,
                })
            }
            ("POST", "/v1/risk") => {
                let b: RiskBody = object(body)?.ok_or_else(|| {
                    IntentError::new("invalid_body", "the body is a JSON object with `level`")
                })?;
                if !matches!(b.level.as_str(), "normal" | "elevated" | "critical") {
                    return Err(IntentError::new(
                        "invalid_risk",
                        "`level` is `normal`, `elevated` or `critical`",
                    ));
                }
                Ok(GuardCommand::Risk {
                    level: b.level,
                    reason: reason(b.reason, "set by hand")?,
                })
            }
            _ => Err(IntentError::new(
                "not_a_guard_command",
                format!("`{method} {path}` is not a breaker or risk command"),
            )),
        }
    }
}

/// An empty body, or a JSON object of `T`.
fn object<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Option<T>, IntentError> {
    if body.is_empty() {
        return Ok(None);
    }
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(IntentError::new(
            "invalid_body",
            "the body is empty or a JSON object",
        ));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| IntentError::new("invalid_body", format!("request body: {e}")))
}

fn wallet(w: Option<String>) -> Result<Option<String>, IntentError> {
    match w {
        None => Ok(None),
        Some(w) => tessera_types::KeyId::new(&w)
            .map(|_| Some(w))
            .map_err(|e| IntentError::new("invalid_wallet", e.to_string())),
    }
}

fn reason(r: Option<String>, default: &str) -> Result<String, IntentError> {
    match r {
        None => Ok(default.to_owned()),
        Some(r) if r.is_empty() || r.len() > MAX_REASON || r.chars().any(char::is_control) => {
            Err(IntentError::new(
                "invalid_reason",
                format!("`reason` must be 1 to {MAX_REASON} bytes without control characters"),
            ))
        }
        Some(r) => Ok(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_decode_and_bad_ones_have_their_codes() {
        assert_eq!(
            GuardCommand::parse("POST", "/v1/breaker/trip", b"").unwrap(),
            GuardCommand::Trip {
                wallet: None,
                reason: "tripped by hand".into()
            }
        );
        assert_eq!(
            GuardCommand::parse(
                "POST",
                "/v1/breaker/trip",
                br#"{"wallet":"w-1","reason":"odd outflow"}"#
            )
            .unwrap(),
            GuardCommand::Trip {
                wallet: Some("w-1".into()),
                reason: "odd outflow".into()
            }
        );
        assert!(matches!(
            GuardCommand::parse("POST", "/v1/breaker/reset", b"{}").unwrap(),
            GuardCommand::Reset { wallet: None, .. }
        ));
        assert_eq!(
            GuardCommand::parse("POST", "/v1/risk", br#"{"level":"elevated"}"#).unwrap(),
            GuardCommand::Risk {
                level: "elevated".into(),
                reason: "set by hand".into()
            }
        );
        for (method, path, body, code) in [
            ("GET", "/v1/breaker", &b""[..], "not_a_guard_command"),
            ("POST", "/v1/risk", b"", "invalid_body"),
            ("POST", "/v1/risk", br#"{"level":"panic"}"#, "invalid_risk"),
            ("POST", "/v1/risk", br#"{}"#, "invalid_body"),
            ("POST", "/v1/breaker/trip", b"[]", "invalid_body"),
            (
                "POST",
                "/v1/breaker/trip",
                br#"{"state":"x"}"#,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/breaker/trip",
                br#"{"wallet":"../x"}"#,
                "invalid_wallet",
            ),
            (
                "POST",
                "/v1/breaker/trip",
                br#"{"reason":"a\nb"}"#,
                "invalid_reason",
            ),
        ] {
            assert_eq!(
                GuardCommand::parse(method, path, body).unwrap_err().code,
                code,
                "{method} {path}"
            );
        }
    }
}
