//! Signer errors with stable codes.

use tessera_crypto::CryptoError;
use tessera_store::StoreError;
use tessera_types::KeyId;
use tessera_vault::VaultError;

/// Why a signer refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The store at this path already belongs to a signer.
    #[error("this store is already initialised for {0}")]
    AlreadyInitialised(tessera_types::PartyId),
    /// The store at this path has no signer yet.
    #[error("this store is not initialised; create the signer first")]
    NotInitialised,
    /// No such key on this signer.
    #[error("key `{0}` does not exist on this signer")]
    NoSuchKey(KeyId),
    /// A key generation or refresh of this key is already running, or none is.
    #[error("{0}")]
    Session(String),
    /// A signing package that cannot be for this key: another scheme, signers outside the
    /// key's parties, or fewer signers than the threshold. Refused before any nonce is touched.
    #[error("signing package refused: {0}")]
    BadPackage(String),
    /// The signing package does not ask this signer to sign.
    #[error("the signing package has no commitment from this signer")]
    NotASigner,
    /// The nonce is not one this signer can prove unused.
    #[error("nonce cannot be used: {0}")]
    NonceUnavailable(String),
    /// Too many nonces waiting in the pool.
    #[error("the nonce pool holds {0} nonces already")]
    PoolFull(usize),
    /// The key's scheme does not do this.
    #[error("{0}")]
    Unsupported(String),
    /// An Ethereum transaction that is not exactly what the client's request asked for, or
    /// that this signer's rules refuse (chain, fees, nonce).
    #[error("{message}")]
    Transaction {
        /// Stable code (`wrong_recipient`, `wrong_amount`, `wrong_nonce`, `fee_too_high`, ...).
        code: &'static str,
        /// What differs.
        message: String,
    },
    /// The stored share is not the one the store's group key lists for this signer.
    #[error("stored share of key `{0}` does not match its group key")]
    ShareMismatch(KeyId),
    /// The client's token does not verify.
    #[error(transparent)]
    Auth(#[from] tessera_auth::AuthError),
    /// The client's request does not decode into something this signer does.
    #[error(transparent)]
    Intent(#[from] tessera_wire::IntentError),
    /// The policy refuses: a denied, rejected or unapproved request, an expired approval, or a
    /// request pre-checked under another policy.
    #[error("{message}")]
    Ruling {
        /// Stable code (`policy_denied`, `approval_required`, `request_rejected`,
        /// `approval_expired`, `stale_policy`).
        code: &'static str,
        /// Why.
        message: String,
    },
    /// The client may not make this request.
    #[error("{0}")]
    Forbidden(String),
    /// What the coordinator asks for is not what the client's request asked for.
    #[error("{0}")]
    NotAsked(String),
    /// A cryptographic failure, with blame where known.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A vault failure (wrong passphrase, corrupt blob).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SignerError {
    /// A stable code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            SignerError::AlreadyInitialised(_) => "already_initialised",
            SignerError::NotInitialised => "not_initialised",
            SignerError::NoSuchKey(_) => "no_such_key",
            SignerError::Session(_) => "session_conflict",
            SignerError::BadPackage(_) => "bad_signing_package",
            SignerError::NotASigner => "not_a_signer",
            SignerError::NonceUnavailable(_) => "nonce_unavailable",
            SignerError::PoolFull(_) => "nonce_pool_full",
            SignerError::ShareMismatch(_) => "share_mismatch",
            SignerError::Unsupported(_) => "unsupported_scheme",
            SignerError::Transaction { code, .. } => code,
            SignerError::Auth(e) => e.code(),
            SignerError::Intent(e) => e.code,
            SignerError::Ruling { code, .. } => code,
            SignerError::Forbidden(_) => "forbidden",
            SignerError::NotAsked(_) => "not_what_was_asked",
            SignerError::Crypto(e) => e.kind.code(),
            SignerError::Vault(e) => e.code(),
            SignerError::Store(StoreError::NonceUnavailable { .. }) => "nonce_unavailable",
            SignerError::Store(e) => e.code(),
        }
    }
}
