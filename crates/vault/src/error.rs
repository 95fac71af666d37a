//! Vault errors: stable codes, messages that never carry secret data.

/// Why a vault operation failed. Messages are safe to log: they hold no key, passphrase,
/// plaintext or ciphertext bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The passphrase does not open the vault's verifier. Also what a damaged verifier body
    /// looks like: the two cannot be told apart.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// Bad magic, unknown version, truncation or an authentication failure.
    #[error("sealed blob is corrupted or was sealed for another context")]
    Corrupt,
    /// The blob was sealed under another vault key (its salt or parameters differ).
    #[error("sealed blob was sealed under another vault key")]
    ForeignKey,
    /// The blob names a key-encryption key kind that this build cannot use.
    #[error("sealed blob uses a key-encryption key kind that is not supported")]
    UnsupportedKind,
    /// Key derivation parameters below the minimums or above the limits.
    #[error("key derivation parameters are outside the accepted range")]
    WeakParams,
    /// The key derivation function failed.
    #[error("key derivation failed")]
    Kdf,
    /// The operating system's random number generator failed.
    #[error("system random number generator failed")]
    Rng,
    /// The plaintext or context is too large to seal.
    #[error("plaintext or context is too large to seal")]
    TooLarge,
}

impl VaultError {
    /// A stable snake_case code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::WrongPassphrase => "wrong_passphrase",
            VaultError::Corrupt => "corrupt_blob",
            VaultError::ForeignKey => "foreign_key",
            VaultError::UnsupportedKind => "unsupported_kek_kind",
            VaultError::WeakParams => "weak_kdf_params",
            VaultError::Kdf => "kdf_failed",
            VaultError::Rng => "rng_failed",
            VaultError::TooLarge => "too_large",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::VaultError;

    const ALL: [VaultError; 8] = [
        VaultError::WrongPassphrase,
        VaultError::Corrupt,
        VaultError::ForeignKey,
        VaultError::UnsupportedKind,
        VaultError::WeakParams,
        VaultError::Kdf,
        VaultError::Rng,
        VaultError::TooLarge,
    ];

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for e in ALL {
            let code = e.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
    }

    #[test]
    fn messages_are_lowercase_without_final_period() {
        for e in ALL {
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(msg, msg.to_lowercase(), "{msg}");
        }
        let corrupt = VaultError::Corrupt.to_string();
        assert!(corrupt.contains("corrupted") && corrupt.contains("another context"));
    }
}
