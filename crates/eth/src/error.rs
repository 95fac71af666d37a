//! The one error type of this crate: a stable snake_case code for callers and tests, and a message for
//! people.

use std::fmt;

/// An error with a stable `code` (snake_case, never changes meaning) and a human message (lowercase, no
/// final period, user input in backticks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthError {
    /// Stable machine-readable code, for example `invalid_address` or `nonce_too_low`.
    pub code: &'static str,
    /// What went wrong, for people and logs.
    pub message: String,
}

impl EthError {
    /// An error with this code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> EthError {
        EthError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for EthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EthError {}

/// A shorthand used inside the crate.
pub(crate) fn err(code: &'static str, message: impl Into<String>) -> EthError {
    EthError::new(code, message)
}
