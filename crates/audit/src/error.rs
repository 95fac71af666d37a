//! Errors of the log and key operations (verification failures are [`crate::BadEntry`]).

/// Why appending, reading or exporting the log, or handling an audit key, failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A kind outside `[a-z_]{1,32}`.
    #[error("audit entry kind `{0}` is not 1 to 32 characters of `a-z` and `_`")]
    BadKind(String),
    /// [`crate::append`] was called outside a transaction.
    #[error("audit entries are appended inside the caller's write transaction; none is open")]
    NotInTransaction,
    /// The next sequence number does not fit the table.
    #[error("the audit log is full")]
    Full,
    /// The body could not be turned into JSON text.
    #[error("audit entry body is not serializable: {0}")]
    Body(String),
    /// A stored row that does not parse.
    #[error("audit entry {seq} is corrupt: {reason}")]
    Corrupt {
        /// The row's sequence number (0 if unreadable).
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A key file that could not be read, written or parsed.
    #[error("audit key file `{path}`: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A key file was not written because a file exists at that path.
    #[error("audit key file `{0}` already exists; not overwriting it")]
    KeyFileExists(String),
    /// A public key that is not 64 hex characters of a valid Ed25519 point.
    #[error("not an audit public key: {0}")]
    BadPublicKey(String),
    /// The operating system's random number generator failed.
    #[error("cannot draw random bytes: {0}")]
    Random(String),
    /// Writing an export failed.
    #[error("cannot write the audit export: {0}")]
    Io(String),
    /// An SQLite error.
    #[error("audit store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl AuditError {
    /// A stable code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            AuditError::BadKind(_) => "bad_audit_kind",
            AuditError::NotInTransaction => "audit_outside_transaction",
            AuditError::Full => "audit_log_full",
            AuditError::Body(_) => "bad_audit_body",
            AuditError::Corrupt { .. } => "audit_corrupt",
            AuditError::KeyFile { .. } => "bad_key_file",
            AuditError::KeyFileExists(_) => "key_file_exists",
            AuditError::BadPublicKey(_) => "bad_public_key",
            AuditError::Random(_) => "random_failed",
            AuditError::Io(_) => "audit_io",
            AuditError::Sqlite(_) => "store_error",
        }
    }
}
