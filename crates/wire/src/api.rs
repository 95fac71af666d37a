//! The public API's request bodies, and what a signed request asks for.

use serde::{Deserialize, Serialize};
use tessera_auth::RequestId;
use tessera_types::{KeyId, Scheme};

/// Largest payload a client may ask to have signed, in bytes.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// Longest wallet name, in bytes.
const MAX_NAME: usize = 64;

/// Longest idempotency key, in bytes.
const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Body of `POST /v1/wallets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWallet {
    /// A name for people; not an identifier.
    pub name: String,
    /// The signature scheme of the wallet's key: `frost-ed25519` or `frost-secp256k1-tr`.
    #[schema(value_type = String)]
    pub scheme: Scheme,
}

/// Body of `POST /v1/wallets/{id}/sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The bytes to sign, in hex.
    pub payload_hex: String,
    /// The client's key for this request: the same key with the same body returns the same
    /// result and signs nothing new.
    pub idempotency_key: String,
}

/// What a client's signed request asks for, decoded from its method, path and body. The API and
/// every signer decode the same bytes with this one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Generate a new wallet key.
    CreateWallet {
        /// The new wallet's id, derived from the request (see [`wallet_id_for`]).
        wallet: KeyId,
        /// Its name.
        name: String,
        /// Its scheme.
        scheme: Scheme,
    },
    /// Sign `message` with `wallet`'s key.
    Sign {
        /// The wallet.
        wallet: KeyId,
        /// The exact bytes to sign.
        message: Vec<u8>,
        /// The client's idempotency key.
        idempotency_key: String,
    },
}

/// Why a request does not decode into an [`Intent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IntentError {
    /// Stable code.
    pub code: &'static str,
    /// What is wrong, for the client.
    pub message: String,
}

impl IntentError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The id of the wallet that the create request `request` makes: every party derives the same
/// id from the client's request, so the coordinator cannot choose or reuse one.
pub fn wallet_id_for(request: &RequestId) -> Result<KeyId, IntentError> {
    KeyId::new(&format!("w-{request}"))
        .map_err(|e| IntentError::new("invalid_request_id", e.to_string()))
}

impl Intent {
    /// Decodes a request. Only requests that lead to a signature or a key decode; anything else
    /// is `not_signable`.
    pub fn parse(
        method: &str,
        path: &str,
        body: &[u8],
        request: &RequestId,
    ) -> Result<Intent, IntentError> {
        let segments: Vec<&str> = path.split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["", "v1", "wallets"]) => {
                let b: CreateWallet = parse_body(body)?;
                check_name(&b.name)?;
                Ok(Intent::CreateWallet {
                    wallet: wallet_id_for(request)?,
                    name: b.name,
                    scheme: b.scheme,
                })
            }
            ("POST", ["", "v1", "wallets", id, "sign"]) => {
                let wallet = KeyId::new(id).map_err(|e| {
                    IntentError::new("invalid_wallet_id", format!("wallet id: {e}"))
                })?;
                let b: SignRequest = parse_body(body)?;
                let key = &b.idempotency_key;
                if key.is_empty()
                    || key.len() > MAX_IDEMPOTENCY_KEY
                    || !key.chars().all(|c| c.is_ascii_graphic())
                {
                    return Err(IntentError::new(
                        "invalid_idempotency_key",
                        format!(
                            "`idempotency_key` must be 1 to {MAX_IDEMPOTENCY_KEY} printable ascii characters"
                        ),
                    ));
                }
                let message = hex::decode(&b.payload_hex).map_err(|_| {
                    IntentError::new("invalid_payload", "`payload_hex` is not valid hex")
                })?;
                if message.len() > MAX_PAYLOAD {
                    return Err(IntentError::new(
                        "invalid_payload",
                        format!("payload is longer than {MAX_PAYLOAD} bytes"),
                    ));
                }
                Ok(Intent::Sign {
                    wallet,
                    message,
                    idempotency_key: b.idempotency_key,
                })
            }
            _ => Err(IntentError::new(
                "not_signable",
                format!("`{method} {path}` does not ask for a key or a signature"),
            )),
        }
    }

    /// The wallet the request is about.
    pub fn wallet(&self) -> &KeyId {
        match self {
            Intent::CreateWallet { wallet, .. } | Intent::Sign { wallet, .. } => wallet,
        }
    }

    /// A short name for the kind of request, as stored and logged.
    pub fn kind(&self) -> &'static str {
        match self {
            Intent::CreateWallet { .. } => "create_wallet",
            Intent::Sign { .. } => "sign",
        }
    }

    /// Checks that `message` can be signed under `scheme`: BIP-340 signs a 32-byte message.
    pub fn check_message(scheme: Scheme, message: &[u8]) -> Result<(), IntentError> {
        match scheme {
            Scheme::FrostSecp256k1Tr if message.len() != 32 => Err(IntentError::new(
                "invalid_payload",
                format!(
                    "a `{scheme}` wallet signs a 32-byte message, got {} bytes",
                    message.len()
                ),
            )),
            _ => Ok(()),
        }
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, IntentError> {
    serde_json::from_slice(body)
        .map_err(|e| IntentError::new("invalid_body", format!("request body: {e}")))
}

fn check_name(name: &str) -> Result<(), IntentError> {
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(IntentError::new(
            "invalid_name",
            format!("`name` must be 1 to {MAX_NAME} bytes without control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid() -> RequestId {
        RequestId::derive(&tessera_auth::ClientId::new("trader").unwrap(), "jti-1")
    }

    #[test]
    fn create_wallet_decodes_and_derives_the_id() {
        let i = Intent::parse(
            "POST",
            "/v1/wallets",
            br#"{"name":"hot-1","scheme":"frost-ed25519"}"#,
            &rid(),
        )
        .unwrap();
        assert_eq!(i.kind(), "create_wallet");
        assert_eq!(i.wallet().as_str(), format!("w-{}", rid()));
    }

    #[test]
    fn sign_decodes_the_exact_bytes() {
        let i = Intent::parse(
            "POST",
            "/v1/wallets/w-1/sign",
            br#"{"payload_hex":"00ff","idempotency_key":"k"}"#,
            &rid(),
        )
        .unwrap();
        match i {
            Intent::Sign {
                wallet, message, ..
            } => {
                assert_eq!(wallet.as_str(), "w-1");
                assert_eq!(message, vec![0, 0xff]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_routes_and_bodies_are_refused() {
        let cases: [(&str, &str, &[u8], &str); 8] = [
            ("GET", "/v1/wallets", b"", "not_signable"),
            ("POST", "/v1/wallets?x=1", b"{}", "not_signable"),
            ("POST", "/v1/wallets/w-1/sign/", b"{}", "not_signable"),
            ("POST", "/v1/wallets/W/sign", b"{}", "invalid_wallet_id"),
            (
                "POST",
                "/v1/wallets",
                br#"{"name":"a","scheme":"frost-ed25519","extra":1}"#,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/wallets",
                br#"{"name":"a","name":"b","scheme":"frost-ed25519"}"#,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/wallets/w-1/sign",
                br#"{"payload_hex":"0g","idempotency_key":"k"}"#,
                "invalid_payload",
            ),
            (
                "POST",
                "/v1/wallets/w-1/sign",
                br#"{"payload_hex":"00","idempotency_key":""}"#,
                "invalid_idempotency_key",
            ),
        ];
        for (m, p, b, code) in cases {
            let e = Intent::parse(m, p, b, &rid()).unwrap_err();
            assert_eq!(e.code, code, "{m} {p}");
        }
    }

    #[test]
    fn bip340_needs_32_bytes() {
        assert!(Intent::check_message(Scheme::FrostSecp256k1Tr, &[0; 31]).is_err());
        assert!(Intent::check_message(Scheme::FrostSecp256k1Tr, &[0; 32]).is_ok());
        assert!(Intent::check_message(Scheme::FrostEd25519, &[]).is_ok());
    }
}
