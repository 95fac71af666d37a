//! Why a policy file was refused: a stable code for scripts and tests, a message for people.

/// A policy file that [`Policy::parse`](crate::Policy::parse) refused.
///
/// `code` is a stable snake_case string (the list is in the crate documentation and in
/// `docs/POLICY.md`); `message` is lowercase, has no final period, and quotes the file's own
/// text in backticks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PolicyError {
    /// Stable machine-readable code, for example `unknown_group`.
    pub code: &'static str,
    /// What is wrong and where, for people.
    pub message: String,
}

impl PolicyError {
    /// An error with this code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> PolicyError {
        PolicyError {
            code,
            message: message.into(),
        }
    }
}

/// A shorthand used inside the crate.
pub(crate) fn err(code: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError::new(code, message)
}

/// Text from the file echoed in a message, cut after 60 characters.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", s.get(..cut).unwrap_or_default()),
        None => s.to_owned(),
    }
}
