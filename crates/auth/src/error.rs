//! The one error type of this crate, with a stable code for each kind.

/// What went wrong, as a closed set that callers can map to responses (an HTTP status, a CLI
/// exit code). [`AuthErrorKind::code`] gives each kind a stable snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthErrorKind {
    /// The token is not three strict base64url parts, is too long, or its JSON is not the
    /// expected shape (including `exp` not after `iat` and a bad `jti`).
    MalformedToken,
    /// The token header names an algorithm other than `EdDSA`, or none.
    UnsupportedAlgorithm,
    /// The token subject is not a valid client id, or no such client is registered.
    UnknownClient,
    /// The signature does not verify under the client's registered key.
    BadSignature,
    /// The token's `exp` has passed.
    TokenExpired,
    /// The token's `iat` is further in the future than the clock skew allows.
    TokenNotYetValid,
    /// `exp - iat` is longer than the policy allows.
    TokenLifetimeTooLong,
    /// The token was signed for another method, path or body.
    RequestMismatch,
    /// The token's `jti` was seen before. This crate keeps no replay state: the caller's
    /// durable store detects the replay and reports it with [`AuthError::replayed`].
    TokenReplayed,
    /// A private key file or PEM text is not a PKCS#8 Ed25519 private key.
    BadKeyFile,
    /// A key file was not written because a file already exists at that path.
    KeyFileExists,
    /// A public key is not a valid (and not a weak) Ed25519 key in the expected encoding.
    BadPublicKey,
    /// A client id breaks the naming rules.
    InvalidClientId,
    /// A role name is not one of `trader`, `approver`, `admin`.
    InvalidRole,
    /// A request id is not 32 lower-case hex characters.
    InvalidRequestId,
    /// Two registry entries have the same id, or the same public key.
    DuplicateClient,
    /// Reading or writing a key file failed.
    Io,
}

impl AuthErrorKind {
    /// The stable snake_case code of this kind, for API responses and scripts.
    pub fn code(self) -> &'static str {
        match self {
            Self::MalformedToken => "malformed_token",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnknownClient => "unknown_client",
            Self::BadSignature => "bad_signature",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::TokenLifetimeTooLong => "token_lifetime_too_long",
            Self::RequestMismatch => "request_mismatch",
            Self::TokenReplayed => "token_replayed",
            Self::BadKeyFile => "bad_key_file",
            Self::KeyFileExists => "key_file_exists",
            Self::BadPublicKey => "bad_public_key",
            Self::InvalidClientId => "invalid_client_id",
            Self::InvalidRole => "invalid_role",
            Self::InvalidRequestId => "invalid_request_id",
            Self::DuplicateClient => "duplicate_client",
            Self::Io => "io",
        }
    }
}

/// An authentication or key-handling failure: a [`AuthErrorKind`] and a message.
///
/// Messages are lowercase, have no final period, put user input in backticks, and never
/// contain a token or key material, so they are safe to return to a client and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    kind: AuthErrorKind,
    message: String,
}

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The error a caller returns when its replay store has already seen the token's `jti`.
    pub fn replayed() -> Self {
        Self::new(AuthErrorKind::TokenReplayed, "token was already used")
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The stable snake_case code of [`Self::kind`].
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The human-readable message (also the `Display` form).
    pub fn message(&self) -> &str {
        &self.message
    }
}
